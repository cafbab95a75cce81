"""The soak run (``dexbridge soak``, whose help says what it does and when it fails): the daemon as its own
process on a JACK dummy server, its MIDI peers, the mixed traffic, the checks and the samples; the report's
parts are :mod:`bridge.harness.soak_report`, the clients' listener and hostile datagrams
:mod:`bridge.harness.soak_traffic`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.harness.soak_report import BOUNDS, Tally, proc_sample, words
from bridge.harness.soak_traffic import HOSTILE_DATAGRAMS, Replies, free_udp_port

REPLY_TIMEOUT_S = {"ping": 5.0, "infer": 60.0, "upload": 60.0, "bank": 10.0}
SAMPLE_RATE = 22_050
WATCHDOG_GRACE_S = 180.0


class Soak:
    """One soak run: the daemon process, its MIDI peers, the traffic, the samples."""

    def __init__(self, args: argparse.Namespace, folder: Path, bank: Path) -> None:
        self.args = args
        self.folder = folder
        self.bank = bank
        self.tallies: dict[str, Tally] = {kind: Tally() for kind in ("ping", "infer", "upload", "bank")}
        self.counts: Counter[str] = Counter()
        self.samples: list[dict[str, float]] = []
        self.checks: list[bool] = []
        self.failures: list[str] = []
        self.quiet = asyncio.Event()  # set: the traffic pauses for a check
        self.in_flight = 0
        self.proc: subprocess.Popen[str] | None = None
        self.synth: Any = None
        self.receiver: Any = None
        self.tag = f"soak{os.getpid()}"
        self.unreachable = 0  # datagrams the network refused while the daemon served
        self.end_sample: dict[str, float] | None = None  # after the traffic stopped, before the daemon does

    # -- the daemon and its MIDI peers -------------------------------------------------------------
    def open_synth(self) -> None:
        """The synth's MIDI input: a new virtual JACK port holding nothing yet."""
        import rtmidi

        from bridge.midi.receiver import Receiver

        port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{self.tag}-synth", queue_size_limit=65_536)
        port.ignore_types(sysex=False, timing=True, active_sense=True)
        port.open_virtual_port("in")
        self.synth, self.receiver = port, Receiver()

    def close_synth(self) -> None:
        self.synth.close_port()
        self.synth.delete()
        self.synth = None

    def start_daemon(self, osc_port: int, keys_port: str) -> None:
        command = [sys.executable, "-c", "from bridge.commands.cli import main; main()", "serve",
                   "--osc-port", str(osc_port), "--midi-out", f"{self.tag}-synth:in", "--midi-in", keys_port,
                   "--midi-api", "jack", "--files-dir", str(self.folder), "--overwrite",
                   "--search-ms", str(self.args.search_ms), "--allow", "127.0.0.1"]
        if self.args.checkpoint is not None:
            command += ["--checkpoint", str(self.args.checkpoint)]
        self.log = (self.folder / "daemon.log").open("w")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def follow_synth(self) -> None:
        """Feed the synth's receiver everything that arrived."""
        from models.errors import DexbridgeError

        if self.synth is None:
            return
        while (event := self.synth.get_message()) is not None:
            try:
                self.receiver.feed(bytes(event[0]))
            except DexbridgeError as exc:
                self.failures.append(f"the synth got a bad message: {exc}")

    # -- traffic --------------------------------------------------------------------------------
    async def request(self, client: Any, replies: Replies, kind: str, send: Callable[[], None], answer: str) -> None:
        """Send one request and wait for its answer (``answer``, or ``/dexbridge/error``: refused)."""
        tally = self.tallies[kind]
        tally.sent += 1
        counted = kind != "ping"  # pings never pause: a check waits for the others only
        self.in_flight += counted
        began = time.monotonic()
        done, refused = replies.expect(answer), replies.expect("/dexbridge/error")
        send()
        try:
            finished, _ = await asyncio.wait({done, refused}, timeout=REPLY_TIMEOUT_S[kind], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the run ended with this request in flight: not counted
            tally.sent -= 1
            raise
        finally:
            self.in_flight -= counted
            replies.forget(done, refused)
        if not finished:
            self.failures.append(f"{kind}: no answer within {REPLY_TIMEOUT_S[kind]:.0f} s")
            return
        tally.answered += 1
        if refused in finished and done not in finished:
            tally.refused += 1
            self.counts[f"{kind} refused: {refused.result()[0]}"[:120]] += 1
        tally.latencies_ms.append((time.monotonic() - began) * 1000)

    async def every(self, period_s: float, action: Callable[[], Awaitable[None] | None], *, pauses: bool = True) -> None:
        """Run ``action`` every ``period_s`` until cancelled, holding still while a check runs."""
        while True:
            await asyncio.sleep(period_s)
            if pauses:
                while self.quiet.is_set():
                    await asyncio.sleep(0.05)
            result = action()
            if result is not None:
                await result

    def tone(self, seconds: float) -> bytes:
        import numpy as np

        note = random.randint(40, 80)
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-t * 2) * 0.3
        return wave.astype("<f4").tobytes()

    async def run(self) -> int:
        from bridge.osc.client import OscClient

        osc_port = free_udp_port()
        import rtmidi

        keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{self.tag}-keys")
        keys.open_virtual_port("out")
        self.open_synth()
        self.start_daemon(osc_port, f"{self.tag}-keys:out")
        clients: dict[str, tuple[Any, Replies]] = {}
        stack = contextlib.AsyncExitStack()
        async with stack:
            for role in ("ping", "infer", "upload", "control", "garbage", "watch"):
                replies = Replies()
                client = await stack.enter_async_context(OscClient.connect("127.0.0.1", osc_port, listener=replies))
                clients[role] = (client, replies)
            await self.until_ready(*clients["watch"])
            for _, replies in clients.values():  # pings before the daemon listened were refused: not counted
                replies.unreachable = 0
            for client, _ in clients.values():
                client.send("/dexbridge/ping")  # broadcasts go to every client the daemon has heard from
            await self.prepare(*clients["control"])
            began = time.monotonic()
            tasks = [asyncio.create_task(coroutine) for coroutine in self.traffic(clients, keys, osc_port)]
            try:
                await self.watch(began, *clients["watch"])
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.sleep(1.0)  # the daemon closes the connections the traffic held
                if self.proc is not None and self.proc.poll() is None:
                    self.end_sample = {"t": round(time.monotonic() - began, 1), **proc_sample(self.proc.pid)}
                self.unreachable = sum(replies.unreachable for _, replies in clients.values())
                self.stop_daemon()
                keys.close_port()
                keys.delete()  # its JACK client closes now, not when the server is already gone
                if self.synth is not None:
                    self.close_synth()
        return self.report(time.monotonic() - began)

    async def until_ready(self, client: Any, replies: Replies) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited at start-up: see {self.folder / 'daemon.log'}")
            pong = replies.expect("/dexbridge/pong")
            client.send("/dexbridge/ping")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pong, 1.0)
                return
        raise SystemExit("the daemon did not answer within 180 s")

    async def prepare(self, client: Any, replies: Replies) -> None:
        """Load the bank and fill morph slots A and B."""
        await self.request(client, replies, "bank", lambda: client.send("/dexbridge/bank/load", str(self.bank)), "/dexbridge/done")
        for slot, index in ((0, 3), (1, 17)):
            client.send("/dexbridge/morph/slot", slot, index)
        await asyncio.sleep(0.5)

    def traffic(self, clients: dict[str, tuple[Any, Replies]], keys: Any, osc_port: int) -> list[Awaitable[None]]:
        from bridge.midi.sysex import encode_voice_dump
        from bridge.midi.syxfile import read_syx_voices

        voices = [item.voice for item in read_syx_voices(self.bank).voices]
        ping, infer, upload, control, garbage = (clients[k] for k in ("ping", "infer", "upload", "control", "garbage"))
        started = time.monotonic()

        def morph() -> None:
            x = 0.5 + 0.5 * math.sin((time.monotonic() - started) * 2 * math.pi / 7.0)
            control[0].send("/dexbridge/morph", float(x))
            self.counts["morph"] += 1

        def macro() -> None:
            control[0].send("/dexbridge/macro", random.randint(0, 3), random.uniform(-1, 1))
            self.counts["macro"] += 1

        def junk() -> None:
            payload = random.choice([os.urandom(random.randint(1, 900)), b"/dexbridge/morph\x00\x00\x00\x00,s\x00\x00x\x00\x00\x00",
                                     b"/dexbridge/infer/blob\x00\x00\x00,bi\x00\x00\x00\x00\x00\xff\xff\xff"])
            garbage[0].send_raw(payload)
            self.counts["garbage"] += 1

        def hostile() -> Awaitable[None] | None:
            name, payload = random.choice(HOSTILE_DATAGRAMS)
            self.counts[f"hostile: {name}"] += 1
            if name in ("idle TCP", "half-sent TCP frame"):
                return self.hold_tcp(osc_port, payload)
            garbage[0].send_raw(payload)
            return None

        def midi_in() -> None:
            keys.send_message(encode_voice_dump(random.choice(voices)))
            self.counts["midi dump in"] += 1

        def cc() -> None:
            keys.send_message([0xB0, random.choice((1, 7, 74)), random.randint(0, 127)])
            self.counts["midi cc in"] += 1

        async def one_upload() -> None:
            data, upload_id = self.tone(1.0), random.randint(1, 1 << 30)
            client, replies = upload

            def send() -> None:
                client.send("/dexbridge/upload/begin", upload_id, len(data), SAMPLE_RATE)
                for offset in range(0, len(data), 16_384):
                    client.send("/dexbridge/upload/chunk", upload_id, offset, data[offset:offset + 16_384])
                client.send("/dexbridge/upload/end", upload_id)
            await self.request(client, replies, "upload", send, "/dexbridge/inferred")

        def blob() -> Awaitable[None]:
            client, replies = infer
            data = self.tone(0.5)
            return self.request(client, replies, "infer", lambda: client.send("/dexbridge/infer/blob", data, SAMPLE_RATE),
                                "/dexbridge/inferred")

        def bank() -> Awaitable[None]:
            client, replies = control
            return self.request(client, replies, "bank", lambda: client.send("/dexbridge/bank/load", str(self.bank)),
                                "/dexbridge/done")

        def pinged() -> Awaitable[None]:
            client, replies = ping
            return self.request(client, replies, "ping", lambda: client.send("/dexbridge/ping"), "/dexbridge/pong")

        return [self.every(0.25, pinged, pauses=False), self.every(4.0, blob), self.every(10.0, one_upload),
                self.every(1 / 200, morph), self.every(0.1, macro), self.every(15.0, bank), self.every(0.2, junk),
                self.every(1.0, hostile),
                self.every(2.0, midi_in), self.every(0.05, cc), self.every(self.args.flap_s, self.flap),
                self.every(0.01, self.follow_synth, pauses=False)]

    async def hold_tcp(self, osc_port: int, first_bytes: bytes) -> None:
        """A TCP client that sends ``first_bytes`` (nothing, or the start of a frame), then goes quiet for
        a while; the daemon's timeouts, not the client, decide when the connection ends."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", osc_port)
        except OSError as exc:
            self.failures.append(f"a TCP connection to the daemon failed: {exc}")
            return
        try:
            writer.write(first_bytes)
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(reader.read(), 20.0)
        finally:
            writer.close()

    async def flap(self) -> None:
        """The synth quits (its port vanishes) and comes back holding nothing: 2 s later, or every other
        time 0.2 s later (a host that restarts fast)."""
        self.follow_synth()
        self.close_synth()
        await asyncio.sleep(0.2 if self.counts["flap"] % 2 else 2.0)
        self.open_synth()
        self.counts["flap"] += 1

    async def watch(self, began: float, client: Any, replies: Replies) -> None:
        """Sample, check, and end the run after ``--minutes``."""
        end = began + self.args.minutes * 60
        next_sample, next_check = began, began + self.args.check_s
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                self.failures.append(f"the daemon exited with status {self.proc.returncode} after {now_s(began):.0f} s")
                return
            now = time.monotonic()
            if now >= next_sample:
                self.samples.append({"t": round(now - began, 1), **proc_sample(self.proc.pid)})
                next_sample += self.args.sample_s
                self.progress(now - began)
            if now >= next_check:
                await self.check(client, replies)
                next_check = time.monotonic() + self.args.check_s
            await asyncio.sleep(0.2)

    async def check(self, client: Any, replies: Replies) -> None:
        """Pause the traffic, let the daemon settle, compare the synth's voice with the daemon's own
        (saved by ``/dexbridge/voice/save``: the daemon's word, not a broadcast that UDP may drop)."""
        from bridge.midi.syxfile import read_syx_voices

        self.quiet.set()
        try:
            deadline = time.monotonic() + 90
            while (self.in_flight or self.synth is None) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)
            self.follow_synth()
            saved = self.folder / "current.syx"
            done = replies.expect("/dexbridge/done")
            client.send("/dexbridge/voice/save", str(saved))
            await asyncio.wait_for(done, REPLY_TIMEOUT_S["bank"])
            current, held = read_syx_voices(saved).voices[0].voice, self.receiver.voice
            self.checks.append(held == current)
            if held != current:
                wrong = [index for index, (a, b) in enumerate(zip(held.values, current.values, strict=True)) if a != b]
                self.failures.append(f"check {len(self.checks)}: the synth holds {len(wrong)} of 155 bytes unlike the "
                                     f"daemon's voice (VCED {wrong[:12]})")
        finally:
            self.quiet.clear()

    def progress(self, elapsed: float) -> None:
        if self.args.quiet:
            return
        last = self.samples[-1]
        print(f"\r{elapsed / 60:5.1f}/{self.args.minutes:g} min  rss {last['rss_mib']:.0f} MiB  fds {last['fds']:.0f}  "
              f"threads {last['threads']:.0f}  checks {sum(self.checks)}/{len(self.checks)}  failures {len(self.failures)}",
              end="", file=sys.stderr, flush=True)

    def stop_daemon(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # its threads' stacks go to its log
            time.sleep(1.0)
            self.proc.kill()
            self.failures.append(f"the daemon did not stop within 30 s of SIGINT (its threads' stacks are at the end of "
                                 f"{self.folder / 'daemon.log'})")
            return
        if status < 0:
            self.failures.append(f"the daemon died of {signal.Signals(-status).name} while stopping (its threads' stacks "
                                 f"are at the end of {self.folder / 'daemon.log'})")
        elif status != 0:
            self.failures.append(f"the daemon stopped with status {status}")

    def report(self, elapsed: float) -> int:
        if not self.args.quiet:
            print(file=sys.stderr)
        warm_t = min(60.0, self.args.minutes * 12)  # a fifth of the run, at most a minute
        warm_up = [s for s in self.samples if s["t"] <= warm_t]
        later = [s for s in self.samples if s["t"] > warm_t]
        # the highest value of the warm-up: threads and ports come and go with the flaps and the work
        warm = ({key: max(s[key] for s in warm_up) for key in ("rss_mib", "fds", "threads")} | {"t": warm_t}
                if warm_up else None)
        growth = {}
        bounds = BOUNDS | {"rss_mib": self.args.rss_growth_mib}
        if warm is not None and later:
            for key, bound in bounds.items():
                growth[key] = round(max(s[key] for s in later) - warm[key], 1)
                if growth[key] > bound:
                    self.failures.append(f"{key} grew by {growth[key]:g} past its warm-up high (bound {bound})")
        if self.end_sample is not None and warm is not None and self.end_sample["fds"] > warm["fds"]:
            self.failures.append(f"{self.end_sample['fds']:g} file descriptors open once the traffic stopped, "
                                 f"{warm['fds']:g} at the warm-up high")
        tracebacks = (self.folder / "daemon.log").read_text(errors="replace").count("Traceback")
        if tracebacks:
            self.failures.append(f"{tracebacks} traceback(s) in the daemon's log")
        if self.unreachable:
            self.failures.append(f"the network said {self.unreachable} times that the daemon's OSC port did not answer")
        for kind, tally in self.tallies.items():
            if tally.sent - tally.answered:
                self.failures.append(f"{kind}: {tally.sent - tally.answered} of {tally.sent} unanswered")
        result = {"minutes": round(elapsed / 60, 2), "period": self.args.period, "realtime": self.args.realtime,
                  "requests": {kind: tally.summary() for kind, tally in self.tallies.items()},
                  "traffic": dict(self.counts), "checks": {"passed": sum(self.checks), "total": len(self.checks)},
                  "first": self.samples[0] if self.samples else None, "warm": warm,
                  "last": self.samples[-1] if self.samples else None, "end": self.end_sample, "growth": growth, "bounds": bounds,
                  "samples": self.samples,
                  "failures": self.failures, "daemon_log": str(self.folder / "daemon.log")}
        if self.args.json is not None:
            self.args.json.write_text(json.dumps(result, indent=2))
        print(words(result))
        return 1 if self.failures else 0


def now_s(began: float) -> float:
    """Seconds since ``began`` (monotonic)."""
    return time.monotonic() - began


def run_command(args: argparse.Namespace) -> int:
    """``dexbridge soak``: run the soak on a JACK dummy server of its own; 0 when it ran clean, else 1."""
    from bridge.commands.voices import bundled_bank_path
    from bridge.midi.jack_server import dummy_jack_server, realtime_allowed

    if args.realtime is None:
        args.realtime = realtime_allowed()
        if not args.realtime and args.period < 256:
            print(f"soak: JACK cannot run real-time for this user, so at {args.period} frames a busy machine may cut its "
                  "cycles short and lose MIDI between clients (checks out of step); give the user real-time rights "
                  "(the audio group) or use --period 256", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="dexbridge-soak-") as tmp, \
            dummy_jack_server(args.period, name=f"dxsoak{os.getpid() % 1_000_000}", realtime=args.realtime) as server:
        folder = Path(tmp)
        bank = folder / "brass.syx"
        bank.write_bytes(bundled_bank_path("brass").read_bytes())
        if server is not None:
            os.environ["JACK_DEFAULT_SERVER"] = server  # this process's MIDI peers and the daemon join it
        # a JACK call that never returns holds the GIL: only faulthandler's C thread can still end the run
        faulthandler.dump_traceback_later(args.minutes * 60 + WATCHDOG_GRACE_S, exit=True)
        status = asyncio.run(Soak(args, folder, bank).run())
        faulthandler.cancel_dump_traceback_later()
        if status and args.keep_log is not None:
            args.keep_log.write_text((folder / "daemon.log").read_text())
        return status
