"""The OSC namespace table: spec parsing, argument checks, and the manual's table it generates."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bridge.osc.namespace import (
    OSC_REPLIES,
    OSC_ROUTES,
    ArgSlot,
    OscArgumentError,
    Route,
    check_bound,
    parse_arg_spec,
    render_namespace_table,
)

OSC_PAGE = Path(__file__).resolve().parents[2] / "docs" / "osc.md"
ISSUE_ADDRESSES = (
    "ping", "status", "infer/file", "infer/blob", "upload/begin", "upload/chunk", "upload/end", "capture", "latent",
    "macro", "morph/slot", "morph", "voice/load", "voice/save", "bank/load", "bank/save", "dump", "note", "mode",
)


def test_every_issue_address_is_routed() -> None:
    assert {f"/dexbridge/{name}" for name in ISSUE_ADDRESSES} <= set(OSC_ROUTES)
    replies = {"/dexbridge/pong", "/dexbridge/voice", "/dexbridge/param", "/dexbridge/host_param", "/dexbridge/error"}
    assert replies <= set(OSC_REPLIES)
    assert OSC_REPLIES["/dexbridge/voice"].arg_types == "b"
    assert OSC_REPLIES["/dexbridge/host_param"].arg_types == "sf"


def test_parse_arg_spec() -> None:
    assert parse_arg_spec("") == ()
    assert parse_arg_spec("bi") == (ArgSlot("b"), ArgSlot("i"))
    assert parse_arg_spec("f*") == (ArgSlot("f", repeated=True),)
    assert parse_arg_spec("f[f]") == (ArgSlot("f"), ArgSlot("f", optional=True))
    assert parse_arg_spec("i(si)") == (ArgSlot("i"), ArgSlot("si"))
    for bad in ("x", "[f", "[f]i", "(sq)"):
        with pytest.raises(ValueError):
            parse_arg_spec(bad)


def test_check_converts_ints_to_floats_and_keeps_order() -> None:
    assert OSC_ROUTES["/dexbridge/morph"].check([1, 0.25]) == (1.0, 0.25)
    assert isinstance(OSC_ROUTES["/dexbridge/morph"].check([1])[0], float)
    assert OSC_ROUTES["/dexbridge/morph/slot"].check([0, "current"]) == (0, "current")
    assert OSC_ROUTES["/dexbridge/morph/slot"].check([0, 5]) == (0, 5)
    assert OSC_ROUTES["/dexbridge/latent"].check([]) == ()
    assert OSC_ROUTES["/dexbridge/infer/blob"].check([b"\0" * 8, 22050]) == (b"\0" * 8, 22050)


@pytest.mark.parametrize(
    ("address", "args", "message"),
    [
        ("/dexbridge/morph", [], "0 arguments, expected a float, then optionally a float"),
        ("/dexbridge/morph", [0.1, 0.2, 0.3], "3 arguments"),
        ("/dexbridge/morph", [math.nan], "argument 1 is nan; it must be a finite float"),
        ("/dexbridge/latent", [0.0, math.inf], "argument 2 is inf"),
        ("/dexbridge/macro", ["one", 0.5], "argument 1 is a string ('one'); expected an int"),
        ("/dexbridge/macro", [1.5, 0.5], "argument 1 is a float (1.5); expected an int"),
        ("/dexbridge/infer/file", [True], "argument 1 is an OSC true/false (T); expected a string"),
        ("/dexbridge/infer/blob", ["x", 1], "argument 1 is a string ('x'); expected a blob"),
        ("/dexbridge/infer/file", [None], "argument 1 is a nil; expected a string"),
        ("/dexbridge/infer/file", [(0x90, 60, 100, 0)], "argument 1 is a MIDI message (90 3c 64 00); expected a string"),
        ("/dexbridge/infer/blob", [b"\0" * 8, b"\0"], "argument 2 is a blob (1 bytes); expected an int"),
        ("/dexbridge/morph/slot", [0, 0.5], "argument 2 is a float (0.5); expected a string or an int"),
    ],
)
def test_check_refuses_with_a_message_naming_the_problem(address: str, args: list, message: str) -> None:
    with pytest.raises(OscArgumentError, match=re.escape(address) + ".*" + re.escape(message)):
        OSC_ROUTES[address].check(args)


def test_readme_table_matches_the_routes() -> None:
    text = OSC_PAGE.read_text(encoding="utf-8")
    start, end = "<!-- osc-namespace:start -->\n", "<!-- osc-namespace:end -->"
    assert start in text and end in text, "docs/osc.md lacks the generated OSC namespace table markers"
    table = text.split(start, 1)[1].split(end, 1)[0]
    assert table == render_namespace_table(), "docs/osc.md's OSC table is stale: paste namespace.render_namespace_table()"


def test_the_table_says_which_addresses_touch_files() -> None:
    touching = {address.removeprefix("/dexbridge/"): route.files for address, route in OSC_ROUTES.items() if route.files}
    assert touching == {"infer/file": "reads", "infer/takes": "reads", "morph/slot": "reads", "voice/load": "reads",
                        "bank/load": "reads", "voice/save": "writes", "bank/save": "writes", "dump": "writes"}
    assert all("s:path" in OSC_ROUTES[f"/dexbridge/{name}"].args_doc for name in touching
               if name not in ("morph/slot", "infer/takes"))
    assert "| `s:path` | **writes** in `--files-dir` |" in render_namespace_table()
    with pytest.raises(ValueError, match="files = 'deletes'"):
        Route("/dexbridge/x", "s", "s:path", "x", files="deletes")


def test_the_handler_table_must_bind_every_route_and_nothing_else() -> None:
    bound = dict.fromkeys(OSC_ROUTES, print)
    assert check_bound(bound) == bound
    with pytest.raises(LookupError, match=r"without a handler: \['/dexbridge/ping'\]"):
        check_bound({address: print for address in OSC_ROUTES if address != "/dexbridge/ping"})
    with pytest.raises(LookupError, match=r"handlers for no route: \['/dexbridge/pingg'\]"):
        check_bound({**bound, "/dexbridge/pingg": print})
