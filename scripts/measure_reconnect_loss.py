"""Does what the daemon sends right after it reconnects a restarted synth arrive? Count the notes that do not.

For each JACK period a dummy server of its own is started, CPU-bound processes keep the machine
busy, and a child process restarts a synth's input port under the same name again and again; after
each restart our output (``bridge.midi.ports.MidiOutput``) reconnects (``reconnect()``, as the
daemon's output watch and ``/dexbridge/resync`` do) and sends one note at once, then, once that has
arrived or :data:`ARRIVAL_S` has passed, a second one through the standing connection. ``lost``
counts the first notes that never arrived, ``steady_lost`` the second ones (what the machine loses
anyway); the exit status is 1 when a reconnect lost more than the standing connection.

What it found: JACK records a connection at once but plays through it only from the next graph it
switches to, at the start of a process cycle, and a client running late may still write a cycle of
the old graph. With the server not real-time and three busy processes beside it, at 256 frames, 4
and 13 of 600 first notes were lost (none of the second ones) while ``reconnect()`` returned as soon
as JACK accepted the connection; none of 1 200 once it waits until the connection is in the graph
JACK plays and two periods more (``bridge.midi.jack_link``). At 64 frames, not real-time, the
standing connection loses a few notes in 300 too: run JACK real-time.

    .venv/bin/python scripts/measure_reconnect_loss.py                       # 256 frames, 300 restarts
    .venv/bin/python scripts/measure_reconnect_loss.py --periods 64 1024 --restarts 100 --realtime
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.midi.jack_server import dummy_jack_server, server_environment  # noqa: E402

ARRIVAL_S = 1.0
NOTE = bytes([0x90, 60, 100])


def _child(restarts: int) -> dict[str, int]:
    """Restart the synth ``restarts`` times; after each, reconnect and send a note at once, then a second one."""
    import rtmidi

    from bridge.midi.ports import MidiOutput

    def synth() -> rtmidi.MidiIn:
        port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="restarting-synth")
        port.open_virtual_port("in")
        return port

    def arrived(port: rtmidi.MidiIn) -> bool:
        deadline = time.monotonic() + ARRIVAL_S
        while (message := port.get_message()) is None and time.monotonic() < deadline:
            time.sleep(0.001)
        return message is not None and bytes(message[0]) == NOTE

    target = synth()
    output = MidiOutput("restarting-synth:in", "jack")
    lost = steady_lost = 0
    try:
        for _ in range(restarts):
            target.close_port()
            target.delete()
            target = synth()
            if not output.reconnect():
                raise SystemExit("reconnect() did not see the restart")
            output.send(NOTE)
            lost += not arrived(target)
            output.send(NOTE)
            steady_lost += not arrived(target)
    finally:
        output.close()
        target.close_port()
        target.delete()
    return {"sent": restarts, "lost": lost, "steady_lost": steady_lost}


def measure(period: int, restarts: int, busy: int, realtime: bool) -> dict[str, int]:
    """One dummy server at ``period`` frames, ``busy`` CPU-bound processes, the restarts in a child."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        with dummy_jack_server(period, name=f"dxr{period}-{os.getpid()}", realtime=realtime) as server:
            child = subprocess.run([sys.executable, __file__, "--child", "--restarts", str(restarts)],
                                   env=server_environment(server), capture_output=True, text=True, timeout=600, check=False)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    if child.returncode != 0:
        raise SystemExit(f"the child at {period} frames failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print one line per period (or JSON); exit 1 when a reconnect lost more than the standing connection."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, nargs="+", default=[256], help="JACK periods in frames (default: 256)")
    parser.add_argument("--restarts", type=int, default=300, help="synth restarts per period (default 300)")
    parser.add_argument("--busy", type=int, default=3, help="CPU-bound processes running meanwhile (default 3)")
    parser.add_argument("--realtime", action="store_true",
                        help="run the JACK servers at real-time priority (default: not, where losses show)")
    parser.add_argument("--json", action="store_true", help="print {period: {sent, lost, steady_lost}} as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.restarts)))
        return
    table = {period: measure(period, args.restarts, args.busy, args.realtime) for period in args.periods}
    if args.json:
        print(json.dumps(table))
    else:
        for period, counts in table.items():
            print(f"{period:5d} frames  sent {counts['sent']:4d}  lost right after a reconnect {counts['lost']:3d}  "
                  f"lost through the standing connection {counts['steady_lost']:3d}  (busy processes: {args.busy}, "
                  f"{'real-time' if args.realtime else 'not real-time'})")
    sys.exit(1 if any(counts["lost"] > counts["steady_lost"] for counts in table.values()) else 0)


if __name__ == "__main__":
    main()
