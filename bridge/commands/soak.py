"""``dexbridge soak``: run ``dexbridge serve`` for minutes under mixed traffic and watch it.

The daemon runs as its own process on a JACK dummy server of the soak's own (``--period``), with a
"synth" (a JACK MIDI input that follows every message through a DX7 receiver) on its output and a
"keyboard" on its input. Traffic, all at once: pings (reply latency), inferences from UDP blobs
and from chunked uploads, morphs at 200 Hz between two slots, macros, bank loads, garbage
datagrams and hostile packets (a bundle element of negative size, 64 KB of empty elements, deep
nesting, future-dated bundles, odd argument types and digits, a file name with a newline, idle and
half-sent TCP connections), voice dumps and CCs on MIDI in, and every ``--flap-s`` the synth quits
(its port vanishes) and comes back holding nothing, after 2 s or, every other time, after 0.2 s.
Every ``--check-s`` the traffic pauses and the synth must hold exactly the daemon's current voice
(nothing lost, the reopened port resynced). Every ``--sample-s`` the daemon's resident memory,
open file descriptors and threads are read from ``/proc``.

It fails on an unanswered request, a synth out of step, a daemon that exited, a traceback in the
daemon's log, more open file descriptors at the end than at the warm-up's high, or growth past the
bounds (from the highest value of the warm-up, a fifth of the run and at most 60 s, to the highest
after it). The JACK server runs real-time where this user may, as performers run it: without it,
at 64 or 128 frames a busy machine cuts JACK cycles short and MIDI is lost between clients.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge.commands.argtypes import at_least
from bridge.harness.soak_report import BOUNDS

DEFAULT_MINUTES = 10.0


def _soak(args: argparse.Namespace) -> int:
    from bridge.harness.soak import run_command

    return run_command(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``soak``."""
    parser = subparsers.add_parser(
        "soak", help="run the daemon for minutes under mixed traffic: unanswered requests, lost MIDI, growth",
        description=__doc__.split("\n\n", 1)[1].replace("``", "'"), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help=f"how long (default {DEFAULT_MINUTES:g})")
    parser.add_argument("--period", type=int, default=256, choices=(64, 128, 256, 512, 1024),
                        help="the JACK dummy server's period in frames (default 256)")
    parser.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                        help="run the JACK server real-time, as performers do (default: when this user may: the audio "
                             "group or root)")
    parser.add_argument("--search-ms", type=float, default=200.0, help="the daemon's search budget per inference (default 200)")
    parser.add_argument("--checkpoint", type=Path, help="the daemon's model (default: the shipped one)")
    parser.add_argument("--check-s", type=at_least(5), default=30, metavar="S",
                        help="pause and compare the synth every S s (default 30)")
    parser.add_argument("--flap-s", type=at_least(5), default=60, metavar="S",
                        help="the synth quits and comes back every S s (default 60)")
    parser.add_argument("--sample-s", type=at_least(1), default=5, metavar="S",
                        help="read memory, fds, threads every S s (default 5)")
    parser.add_argument("--rss-growth-mib", type=at_least(1), default=BOUNDS["rss_mib"], metavar="MIB",
                        help=f"fail if memory grows more past the warm-up high (default {BOUNDS['rss_mib']:g}; a run of "
                             "seconds warms up before the caches fill: allow more)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the figures as JSON")
    parser.add_argument("--keep-log", type=Path, metavar="FILE", help="on failure, copy the daemon's log here")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    parser.set_defaults(handler=_soak)
