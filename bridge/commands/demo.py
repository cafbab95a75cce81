"""``dexbridge demo``: the main job end to end on the embedded defaults (see :mod:`bridge.demo`)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bridge.demo import FILES, MORPH_VOICES, run_demo
from engine.backends import BACKENDS


def _demo(args: argparse.Namespace) -> int:
    report = asyncio.run(run_demo(args.out, args.checkpoint, backend=args.backend))
    print(f"demo done: {len(report.files)} files in {report.out_dir}/")
    for name, path in report.files.items():
        print(f"  {name:<16} {path.stat().st_size:>9} bytes")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    demo = subparsers.add_parser(
        "demo", help="run the whole job end to end: sound in over OSC, DX7 voice and morph out",
        description="Start the daemon in-process (no MIDI port, audio device or GPU needed), send "
        "it over UDP a plucked string synthesised with Karplus-Strong (a sound the model never trained on), print "
        "the inferred DX7 voice, then morph between voices "
        f"{MORPH_VOICES[0]} and {MORPH_VOICES[1]} of DawDreamer's bundled brass bank. Writes into --out: "
        f"{', '.join(FILES)}. Exits 0 when every step worked; otherwise says which step failed and why.",
    )
    demo.add_argument("--out", type=Path, default=Path("dexbridge-demo"),
                      help="directory for the files (created if missing; default ./dexbridge-demo)")
    demo.add_argument("--checkpoint", type=Path, default=None,
                      help="serving checkpoint (default: the shipped models/checkpoints/default.pt)")
    demo.add_argument("--backend", default="auto", choices=("auto", *BACKENDS),
                      help="inference backend (default auto: the fastest one installed)")
    demo.set_defaults(handler=_demo)
