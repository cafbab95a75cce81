"""Contract tests of the Max patches in ``max_patches/``: they parse as Max JSON, every patchline
joins existing boxes at inlets and outlets those objects have, every object's inlet/outlet counts
are Max 8's, and every ``/dexbridge/...`` address a patch sends is served by the daemon's
dispatcher (``OSC_ROUTES``), every one it routes is a reply the daemon sends (``OSC_REPLIES``), and
all of them are documented in the README or the manual (docs/).

The count table below was read from Max 8 patches saved by Max itself (``.maxpat`` files in public
repositories: the boxes Max writes carry ``numinlets``/``numoutlets``) and the Max reference pages.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.osc.namespace import OSC_REPLIES, OSC_ROUTES, PREFIX, OscArgumentError, Route

ROOT = Path(__file__).resolve().parents[2]
PATCH_DIR = ROOT / "max_patches"
README = ROOT / "README.md"
PATCH_NAMES = ("dexbridge_control.maxpat", "dexbridge_dexed_host.maxpat", "dexbridge_sysex_out.maxpat")
REPLY_PORT = 9001  # the port the patches listen on; the README tells users to pass --reply-port 9001
DAEMON_SENDS = ("udpsend", "s dexbridge.send")  # boxes through which a message reaches the daemon

Counts = tuple[int, int]


def _fixed(inlets: int, outlets: int) -> Callable[[list[str]], Counts]:
    return lambda args: (inlets, outlets)


def _vst(args: list[str]) -> Counts:
    # signal ins/outs default to 2/2; numbers first: one sets the outs, two set ins and outs.
    # Besides its signal outlets vst~ has 6 message outlets.
    numbers = [int(a) for a in itertools.takewhile(str.isdigit, args)]
    ins, outs = {0: (2, 2), 1: (2, numbers[0] if numbers else 2)}.get(len(numbers), tuple(numbers[:2]))
    return max(1, ins), outs + 6


def _sxformat(args: list[str]) -> Counts:
    # one inlet per $iN placeholder, numbered from the left inlet
    placeholders = [int(n) for n in re.findall(r"\$i(\d+)", " ".join(args))]
    return max([1, *placeholders]), 1


# newobj boxes: first word of the box text -> (inlets, outlets) given the arguments. Max 8.
NEWOBJ_COUNTS: dict[str, Callable[[list[str]], Counts]] = {
    "udpsend": _fixed(1, 0),
    "udpreceive": _fixed(1, 1),
    "route": lambda args: (len(args) + 1, len(args) + 1),  # right inlet resets the first argument
    "prepend": _fixed(1, 1),
    # one inlet or outlet per argument; two without arguments
    "pack": lambda args: (len(args) or 2, 1),
    "unpack": lambda args: (1, len(args) or 2),
    "t": lambda args: (1, len(args) or 2),
    "trigger": lambda args: (1, len(args) or 2),
    "adc~": lambda args: (1, len(args) or 2),
    "dac~": lambda args: (len(args) or 2, 0),
    "buffer~": _fixed(1, 2),
    "record~": lambda args: ((int(args[1]) if len(args) > 1 else 1) + 2, 1),  # signal ins + start + end
    "sfrecord~": lambda args: (int(args[0]) if args else 1, 1),
    "vst~": _vst,
    "midiin": _fixed(1, 1),
    "midiout": _fixed(1, 0),
    "midiparse": _fixed(1, 8),
    "midiformat": _fixed(7, 1),
    "midiinfo": _fixed(2, 1),
    "sysexin": _fixed(1, 1),
    "sxformat": _sxformat,
    "scale": _fixed(6, 1),
    "conformpath": _fixed(1, 2),
    "zl.reg": _fixed(2, 2),
    "delay": _fixed(2, 1),
    "loadbang": _fixed(1, 1),
    "s": _fixed(1, 0),
    "send": _fixed(1, 0),
    "r": _fixed(0, 1),
    "receive": _fixed(0, 1),
    "print": _fixed(1, 0),
}

# user-interface boxes: maxclass -> (inlets, outlets). Max 8.
UI_COUNTS: dict[str, Counts] = {
    "message": (2, 1),
    "comment": (1, 0),
    "slider": (1, 1),
    "pictslider": (2, 2),
    "kslider": (2, 2),
    "dropfile": (1, 2),
    "umenu": (1, 3),
    "button": (1, 1),
    "toggle": (1, 1),
    "number": (1, 2),
    "flonum": (1, 2),
    "ezdac~": (2, 0),
}

Atom = str | int | float


def _atoms(text: str) -> list[Atom]:
    """A Max message's atoms: ints, floats (``1.`` included) and symbols (``$1`` stays a symbol)."""
    atoms: list[Atom] = []
    for word in shlex.split(text):
        if re.fullmatch(r"-?\d+", word):
            atoms.append(int(word))
        elif re.fullmatch(r"-?(\d+\.\d*|\.\d+)(e-?\d+)?", word):
            atoms.append(float(word))
        else:
            atoms.append(word)
    return atoms


def _load(name: str) -> dict[str, Any]:
    return json.loads((PATCH_DIR / name).read_text())


def _boxes(patch: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["box"] for entry in patch["patcher"]["boxes"]]


def _all_boxes() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in PATCH_NAMES:
        for box in _boxes(_load(name)):
            yield name, box


def _expected_counts(box: dict[str, Any]) -> Counts:
    if box["maxclass"] != "newobj":
        assert box["maxclass"] in UI_COUNTS, f"{box['id']}: no known counts for maxclass {box['maxclass']!r}"
        return UI_COUNTS[box["maxclass"]]
    name, *args = box["text"].split()
    assert name in NEWOBJ_COUNTS, f"{box['id']}: no known counts for object {name!r} ({box['text']!r})"
    return NEWOBJ_COUNTS[name](args)


def _requests(box: dict[str, Any]) -> tuple[str, list[Atom]] | None:
    """The address and literal arguments a message box or ``prepend`` sends, if it is a /dexbridge one."""
    text = box.get("text", "")
    if box["maxclass"] == "newobj" and text.startswith("prepend "):
        text = text.removeprefix("prepend ")
    elif box["maxclass"] != "message":
        return None
    atoms = _atoms(text)
    if not atoms or not str(atoms[0]).startswith(PREFIX):
        return None
    return str(atoms[0]), atoms[1:]


def _fits(route: Route, args: list[Atom], extra: range) -> bool:
    """Whether ``args`` (``$n`` placeholders standing for any value), followed by some number of
    incoming values in ``extra``, can satisfy the route's argument spec."""
    samples: tuple[Atom, ...] = (0, 0.5, "current")
    for count in extra:
        slots = [(samples if isinstance(a, str) and a.startswith("$") else (a,)) for a in args]
        slots += [samples] * count
        for candidate in itertools.product(*slots):
            try:
                route.check(list(candidate))
                return True
            except OscArgumentError:
                continue
    return False


def test_the_three_patches_are_there() -> None:
    assert sorted(path.name for path in PATCH_DIR.glob("*.maxpat")) == sorted(PATCH_NAMES)


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_patch_is_max_json(name: str) -> None:
    patcher = _load(name)["patcher"]
    assert patcher["fileversion"] == 1
    assert patcher["appversion"]["major"] >= 8
    assert len(patcher["rect"]) == 4
    boxes = _boxes({"patcher": patcher})
    ids = [box["id"] for box in boxes]
    assert len(ids) == len(set(ids)), f"{name}: duplicate box ids"
    for box in boxes:
        assert {"id", "maxclass", "numinlets", "numoutlets", "patching_rect"} <= set(box), box
        assert len(box["patching_rect"]) == 4
        if box["maxclass"] in ("newobj", "message", "comment"):
            assert isinstance(box["text"], str)
        if box["numoutlets"]:
            assert len(box["outlettype"]) == box["numoutlets"], f"{name} {box['id']}: outlettype vs numoutlets"


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_every_object_has_its_max_inlet_and_outlet_counts(name: str) -> None:
    for box in _boxes(_load(name)):
        expected = _expected_counts(box)
        got = (box["numinlets"], box["numoutlets"])
        assert got == expected, f"{name} {box['id']} {box.get('text', box['maxclass'])!r}: {got}, Max has {expected}"


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_every_patchline_joins_existing_boxes_at_valid_indices(name: str) -> None:
    patch = _load(name)
    boxes = {box["id"]: box for box in _boxes(patch)}
    lines = [entry["patchline"] for entry in patch["patcher"]["lines"]]
    assert lines, f"{name} has no patchlines"
    for line in lines:
        (source, outlet), (destination, inlet) = line["source"], line["destination"]
        assert source in boxes and destination in boxes, f"{name}: {line} joins a box that does not exist"
        assert 0 <= outlet < boxes[source]["numoutlets"], f"{name}: {line}: {source} has no outlet {outlet}"
        assert 0 <= inlet < boxes[destination]["numinlets"], f"{name}: {line}: {destination} has no inlet {inlet}"
    pairs = [(tuple(line["source"]), tuple(line["destination"])) for line in lines]
    assert len(pairs) == len(set(pairs)), f"{name}: a patchline is drawn twice"


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_patch_explains_how_to_use_it(name: str) -> None:
    comments = [box["text"] for box in _boxes(_load(name)) if box["maxclass"] == "comment"]
    usage = [text for text in comments if "HOW TO USE" in text]
    assert usage, f"{name}: no comment box saying HOW TO USE"
    assert "dexbridge serve" in usage[0] and len(usage[0]) > 300


def test_osc_addresses_are_served_by_the_daemon_and_documented_in_the_manual() -> None:
    manual = "\n".join(path.read_text() for path in [README, *sorted((ROOT / "docs").glob("*.md"))])
    sent: set[str] = set()
    routed: set[str] = set()
    for name, box in _all_boxes():
        request = _requests(box)
        if request:
            sent.add(request[0])
        text = box.get("text", "")
        if box["maxclass"] == "newobj" and text.startswith("route "):
            routed |= {word for word in text.split()[1:] if word.startswith(PREFIX)}
        for word in re.findall(r"/dexbridge/[\w/]+", text):
            assert word in OSC_ROUTES or word in OSC_REPLIES, f"{name} {box['id']}: {word} is not in the namespace"
    assert sent and routed
    assert sent <= set(OSC_ROUTES), f"sent but not served by the daemon: {sorted(sent - set(OSC_ROUTES))}"
    assert routed <= set(OSC_REPLIES), f"routed but never sent by the daemon: {sorted(routed - set(OSC_REPLIES))}"
    undocumented = sorted(address for address in sent | routed if f"`{address}`" not in manual)
    assert not undocumented, f"not documented in README.md or docs/: {undocumented}"


def test_osc_messages_fit_the_daemons_argument_specs() -> None:
    checked = 0
    for name, box in _all_boxes():
        request = _requests(box)
        if request is None:
            continue
        address, args = request
        # a message box sends what it holds; a prepend adds one or two incoming values
        extra = range(0, 1) if box["maxclass"] == "message" else range(1, 3)
        assert _fits(OSC_ROUTES[address], args, extra), \
            f"{name} {box['id']} {box['text']!r}: arguments do not fit {address} '{OSC_ROUTES[address].arg_types}'"
        checked += 1
    assert checked >= 15


def test_every_daemon_request_reaches_the_daemon() -> None:
    for name in PATCH_NAMES:
        patch = _load(name)
        boxes = {box["id"]: box for box in _boxes(patch)}
        targets: dict[str, set[str]] = {}
        for entry in patch["patcher"]["lines"]:
            line = entry["patchline"]
            targets.setdefault(line["source"][0], set()).add(line["destination"][0])
        for box_id, box in boxes.items():
            if _requests(box) is None:
                continue
            reached = targets.get(box_id, set())
            assert any(boxes[t].get("text", "").startswith(DAEMON_SENDS) for t in reached), \
                f"{name} {box_id} {box['text']!r} is not wired to udpsend or [s dexbridge.send]"


def test_sends_and_receives_pair_up_across_the_patches() -> None:
    names = {"s": set(), "r": set()}
    for _, box in _all_boxes():
        words = box.get("text", "").split() if box["maxclass"] == "newobj" else []
        if words and words[0] in names:
            names[words[0]].add(words[1])
    assert names["r"] <= names["s"], f"receives nobody sends to: {sorted(names['r'] - names['s'])}"
    assert names["s"] <= names["r"], f"sends nobody receives: {sorted(names['s'] - names['r'])}"


def test_ports_match_the_daemon_defaults_and_the_readme() -> None:
    from bridge.daemon.settings import Settings

    udpsend = [box["text"].split() for _, box in _all_boxes() if box.get("text", "").startswith("udpsend ")]
    udpreceive = [box["text"].split() for _, box in _all_boxes() if box.get("text", "").startswith("udpreceive ")]
    assert udpsend == [["udpsend", Settings().osc_host, str(Settings().osc_port)]]
    assert udpreceive == [["udpreceive", str(REPLY_PORT)]]
    assert f"--reply-port {REPLY_PORT}" in README.read_text()


def _serve_commands() -> list[tuple[str, str]]:
    """Every ``dexbridge serve ...`` command the patches' comments and the README tell users to run."""
    commands = []
    for name, box in _all_boxes():
        if box["maxclass"] == "comment":
            commands += [(name, f"dexbridge serve{m}") for m in re.findall(r"dexbridge serve([^()]*)", box["text"])]
    readme = README.read_text()
    commands += [("README.md", m) for m in re.findall(r"^dexbridge serve.*$", readme, flags=re.MULTILINE)]
    commands += [("README.md", m) for m in re.findall(r"`(dexbridge serve[^`]*)`", readme)]
    return [(where, command) for where, command in commands if "--help" not in command]


def test_serve_commands_in_the_patches_and_readme_parse() -> None:
    from bridge.commands.cli import build_parser

    commands = _serve_commands()
    assert {where for where, _ in commands} >= {*PATCH_NAMES, "README.md"}
    parser = build_parser()
    for where, command in commands:
        try:
            args = parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{command}` is not a valid command line (see dexbridge serve --help)")
        assert args.command == "serve"


def test_every_command_the_readme_shows_exists() -> None:
    from bridge.commands.cli import build_parser

    # command lines: at a line start (code blocks), after a backtick, or after .venv/bin/
    named = set(re.findall(r"(?:^|`|/)dexbridge ([a-z][a-z-]+)", README.read_text(), flags=re.MULTILINE))
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"serve", "demo"} <= named <= set(subparsers.choices), f"unknown: {sorted(named - set(subparsers.choices))}"
