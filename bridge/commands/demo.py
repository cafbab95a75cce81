"""``dexbridge demo``: the main job end to end on the embedded defaults.

The command's surface only: its options and its first line. The demo itself
(:mod:`bridge.harness.demo`: the daemon, the model, matplotlib) loads once the arguments are good.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.backends import BACKENDS


def _demo(args: argparse.Namespace) -> int:
    print("dexbridge demo: loading the daemon's code and the model (a few seconds), then a plucked string goes in "
          "over OSC and a DX7 voice comes out", flush=True)
    from bridge.harness.demo import run_command

    return run_command(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    demo = subparsers.add_parser(
        "demo", help="run the whole job end to end: sound in over OSC, DX7 voice and morph out",
        description="Start the daemon in-process (no MIDI port, audio device or GPU needed), send "
        "it over UDP a plucked string synthesised with Karplus-Strong (a sound the model never trained on), print "
        "the inferred DX7 voice, then morph between two voices of DawDreamer's bundled brass bank. Writes into --out "
        "the sound sent, the voice (.syx), its render, both spectrograms, the morph's parameter stream (.mid) and its "
        "picture, and the voice it ended on. Exits 0 when every step worked, then says what to try next; otherwise "
        "says which step failed and why.",
    )
    demo.add_argument("--out", type=Path, default=Path("dexbridge-demo"),
                      help="folder for the files (created if missing, inside an existing folder; default ./dexbridge-demo)")
    demo.add_argument("--checkpoint", type=Path, default=None,
                      help="serving checkpoint (default: the shipped models/checkpoints/default.pt)")
    demo.add_argument("--backend", default="auto", choices=("auto", *BACKENDS),
                      help="inference backend (default auto: the fastest one installed)")
    demo.set_defaults(handler=_demo)
