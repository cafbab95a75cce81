"""``dexbridge cc-learn``: send every CC of a map in turn so Dexed can MIDI-learn each one."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bridge.commands.argtypes import number_between
from bridge.midi.cc_map import MAPPABLE, CcMap, load_cc_map
from bridge.midi.ports import MidiOutput
from bridge.midi.systems import MIDI_APIS
from models.voice import Voice


def cc_learn(args: argparse.Namespace) -> int:
    """Send each mapped CC (the INIT VOICE value) to ``--midi-out``, ``--delay`` seconds apart.

    Raises:
        ConfigError: a bad map file.
        MidiPortError: the port cannot be found, opened or written.
    """
    from tqdm import tqdm

    cc_map = load_cc_map(args.map) if args.map else CcMap.default()
    init = Voice.init()
    assignments = list(cc_map)
    with MidiOutput(args.midi_out, args.midi_api) as output:
        tqdm.write(f"sending {len(assignments)} CCs to {output.name!r}: in Dexed, right-click the named knob, choose "
                   "'Learn CC', and let the CC arrive")
        for number, item in enumerate(tqdm(assignments, unit="CC", disable=args.quiet), start=1):
            if not args.quiet:
                knob = item.spec.dexed_name
                tqdm.write(f"[{number:3d}/{len(assignments)}] {knob:<18} <- channel {item.channel + 1:2d} CC {item.cc}")
            output.send(cc_map.encode(item.index, init[item.index]))
            time.sleep(args.delay)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``cc-learn`` command."""
    parser = subparsers.add_parser(
        "cc-learn", help="send each CC of a CC map in turn, for MIDI-learning them in Dexed",
        description="Dexed has no CC map: each knob is MIDI-learned (right-click -> Learn CC). This sends every CC of "
        f"the map (default: the built-in map of {len(MAPPABLE)} parameters, every one Dexed has a knob for, on channels "
        "1-2), one "
        "every --delay seconds, naming the Dexed knob to click first. Each CC carries the INIT VOICE value.")
    parser.add_argument("--map", type=Path, help="CC map file (TOML); default: the built-in map")
    parser.add_argument("--midi-out", required=True, help="output port: exact name, unique substring, or virtual:NAME")
    parser.add_argument("--midi-api", choices=list(MIDI_APIS), default="auto", help="MIDI system (default auto)")
    parser.add_argument("--delay", type=number_between(0, 60, "s"), default=3.0, help="seconds between CCs (default 3)")
    parser.add_argument("--quiet", action="store_true", help="no per-CC lines or progress bar")
    parser.set_defaults(handler=cc_learn)
