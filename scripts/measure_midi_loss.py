"""Where does MIDI get lost at small JACK periods? Count every message of the bursts the daemon sends.

For each JACK period a dummy server of its own is started (real-time, as performers run JACK) and a
child process sends bursts through one of our output ports (``bridge.midi.ports.MidiOutput``) to
two receivers at once, each in a process where busy Python threads hold the GIL as inference and
the event loop do:

* ``ours``: ``bridge.midi.ports.MidiInput`` in the sender's process (rtmidi queues in C++, a drain
  thread collects);
* ``callback``: rtmidi calling a Python callback per event from JACK's process thread (how
  ``MidiInput`` worked before, and how many Python MIDI tools receive), in a process of its own:
  in the sender's process it deadlocks (the sender waits for room in rtmidi's ring buffer holding
  the GIL, JACK's cycle waits for the callback, the callback for the GIL).

Each receiver's ``got`` counts the messages that arrived byte-exact and in order, ``lost`` those
that never did, ``extra`` what else came; ``xruns`` counts the server's late cycles meanwhile. When
``ours`` departs from what was sent, the first difference goes to stderr. The exit status is 1
when ``ours`` lost anything or got anything extra.

What it found: a receiver whose JACK process callback is still reading a period's events when the
sender's next cycle resets that buffer gets, for each event it had not read yet, a copy of the
last one it had (rtmidi ignores ``jack_midi_event_get``'s error): "1 of 155 right, 154 copies of
the first". The callback receiver runs that late whenever it waits for the GIL; ours only when
the whole machine is overloaded and JACK runs without real-time priority (``--no-realtime`` with
two CPU-bound processes beside it: hundreds of xruns per burst, and now and then a burst of copies).

    .venv/bin/python scripts/measure_midi_loss.py                 # periods 64 128 256 1024, 2 busy threads
    .venv/bin/python scripts/measure_midi_loss.py --periods 64 --busy-threads 0 --no-realtime --json
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.midi.jack_server import PERIODS, XrunCounter, dummy_jack_server, realtime_allowed, server_environment  # noqa: E402
from bridge.midi.sysex import encode_bank_dump, encode_dump_request, encode_param_change, encode_voice_dump  # noqa: E402
from models.params import BY_INDEX  # noqa: E402
from models.voice import Voice  # noqa: E402

SETTLE_S = 1.0  # a receiver is done when nothing arrived for this long
BURST_TIMEOUT_S = 15.0


def bursts() -> dict[str, list[bytes]]:
    """The bursts the daemon sends: a whole voice as changes (a fresh start or a resync in param
    mode), a morph's worth of changes, the 32 voices of a bank as single dumps, one bank dump."""
    voices = [Voice.init(f"LOSS {n:02d}") for n in range(32)]
    changes = [encode_param_change(index, (index + n) % (BY_INDEX[index].hi + 1)) for n in range(6) for index in range(155)]
    return {
        "voice as 155 changes": changes[:155],
        "6 voices as 930 changes": changes,
        "32 voice dumps (5 216 B)": [encode_voice_dump(voice) for voice in voices],
        "bank dump (4 104 B)": [encode_bank_dump(voices)],
    }


def _busy(stop: threading.Event) -> None:
    count = 0
    while not stop.is_set():
        count += 1


def _start_busy(count: int) -> threading.Event:
    """``count`` daemon threads spinning in Python (holding the GIL in turns); set the event to stop them."""
    stop = threading.Event()
    for _ in range(count):
        threading.Thread(target=_busy, args=(stop,), daemon=True).start()
    return stop


def _callback_receiver(busy_threads: int) -> None:
    """The ``callback`` receiver's process: a virtual input whose rtmidi callback collects; each
    line on stdin is answered with the hex of everything received since the last line."""
    import rtmidi

    received: list[bytes] = []
    port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"cb{os.getpid()}")
    port.ignore_types(sysex=False)
    port.open_virtual_port("in")
    port.set_callback(lambda event, _data=None: received.append(bytes(event[0])))
    _start_busy(busy_threads)
    print("ready", flush=True)
    for _line in sys.stdin:
        taken = received[:]
        del received[:len(taken)]
        print(json.dumps([message.hex() for message in taken]), flush=True)


class _CallbackPeer:
    """The sender's handle on the ``callback`` receiver process."""

    def __init__(self, busy_threads: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--callback-receiver", "--busy-threads", str(busy_threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        if self.stdout.readline().strip() != "ready":
            raise SystemExit("the callback receiver did not start")
        self.port = f"cb{self.proc.pid}:in"
        self.received: list[bytes] = []

    def collect(self) -> int:
        """Fetch what arrived since the last call; the running total."""
        self.stdin.write("\n")
        self.stdin.flush()
        self.received += [bytes.fromhex(item) for item in json.loads(self.stdout.readline())]
        return len(self.received)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


async def _child(busy_threads: int) -> dict[str, dict[str, object]]:
    """In the child (its JACK server set by the environment): send each burst, count what arrives."""
    from bridge.midi.ports import MidiInput, MidiOutput

    callback = _CallbackPeer(busy_threads)
    output = MidiOutput(f"virtual:loss{os.getpid()}", "jack")
    ours: list[bytes] = []
    midi_input = MidiInput(output.name, ours.append, api="jack")
    subprocess.run(["jack_connect", f"{midi_input.name}", callback.port], check=True, env=os.environ)
    probe = encode_dump_request("voice", channel=15)
    for _ in range(100):
        output.send(probe)
        await asyncio.sleep(0.05)
        if ours and callback.collect():
            break
    else:
        raise SystemExit("the JACK connections carried nothing within 5 s")
    await asyncio.sleep(SETTLE_S)
    xruns = XrunCounter()
    stop = _start_busy(busy_threads)
    results: dict[str, dict[str, object]] = {}
    try:
        for label, messages in bursts().items():
            callback.collect()
            ours.clear()
            callback.received.clear()
            xruns.count = 0
            for message in messages:
                output.send(message)
            await _settle(lambda: len(ours) + callback.collect())
            results[label] = {"sent": len(messages), "bytes": sum(map(len, messages)),
                              "ours": _delivered(messages, ours), "callback": _delivered(messages, callback.received),
                              "xruns": xruns.count}
            difference = _first_difference(messages, ours)
            if difference:
                print(f"{label}: {difference}", file=sys.stderr)
    finally:
        stop.set()
        midi_input.close()
        output.close()
        callback.close()
        xruns.close()
    return results


async def _settle(count: object) -> None:
    """Wait until ``count()`` stops growing for :data:`SETTLE_S` (or the burst timeout)."""
    deadline = time.monotonic() + BURST_TIMEOUT_S
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = count()  # type: ignore[operator]
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= SETTLE_S:
            return
        await asyncio.sleep(0.01)


def _delivered(sent: list[bytes], received: list[bytes]) -> dict[str, int]:
    """How ``received`` compares with ``sent``: ``got`` the messages that arrived byte-exact and in
    order, ``lost`` those that never did, ``extra`` what else came (repeats, corrupt copies)."""
    matcher = difflib.SequenceMatcher(a=sent, b=received, autojunk=False)
    got = sum(block.size for block in matcher.get_matching_blocks())
    return {"got": got, "lost": len(sent) - got, "extra": len(received) - got}


def _first_difference(sent: list[bytes], received: list[bytes]) -> str:
    """Where ``received`` first departs from ``sent``, in words ("" when it does not)."""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=sent, b=received, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        came = received[j1] if j1 < j2 else None
        copy = f" (a copy of message {sent.index(came)})" if came in sent else ""
        what = "nothing" if came is None else f"{came[:12].hex()}...{copy}"
        return f"{tag} at message {i1} of {len(sent)}: sent {sent[i1][:12].hex() if i1 < i2 else 'nothing'}..., got {what}"
    return ""


def measure(period: int, busy_threads: int, realtime: bool) -> dict[str, dict[str, object]]:
    """Start a dummy JACK server at ``period`` frames and run the bursts in a child process on it."""
    with dummy_jack_server(period, name=f"dxl{period}-{os.getpid()}", realtime=realtime) as server:
        child = subprocess.run([sys.executable, __file__, "--child", "--busy-threads", str(busy_threads)],
                               env=server_environment(server), capture_output=True, text=True, timeout=180, check=False)
    if child.returncode != 0:
        raise SystemExit(f"the child at {period} frames failed:\n{child.stderr[-2000:]}")
    sys.stderr.write(child.stderr)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print one line per period and burst (or JSON); exit 1 when ``ours`` lost or repeated a message."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--periods", type=int, nargs="+", default=list(PERIODS),
                        help="JACK periods in frames (default: 64 128 256 1024)")
    parser.add_argument("--busy-threads", type=int, default=2, help="Python threads holding the GIL meanwhile (default 2)")
    parser.add_argument("--no-realtime", dest="realtime", action="store_false", default=realtime_allowed(),
                        help="run the JACK servers without real-time priority (default: real-time where this user "
                             "may, as performers run JACK)")
    parser.add_argument("--json", action="store_true", help="print {period: {burst: counts}} as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--callback-receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callback_receiver:
        _callback_receiver(args.busy_threads)
        return
    if args.child:
        print(json.dumps(asyncio.run(_child(args.busy_threads))))
        return
    table = {period: measure(period, args.busy_threads, args.realtime) for period in args.periods}
    if args.json:
        print(json.dumps(table))
    else:
        for period, results in table.items():
            for label, counts in results.items():
                ours, callback = counts["ours"], counts["callback"]
                print(f"{period:5d} frames  {label:<26} sent {counts['sent']:4d}  "
                      f"ours {ours['got']:4d} (-{ours['lost']} +{ours['extra']})  "
                      f"callback {callback['got']:4d} (-{callback['lost']} +{callback['extra']})  xruns {counts['xruns']}")
    lost = any(counts["ours"]["lost"] or counts["ours"]["extra"] for results in table.values() for counts in results.values())
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
