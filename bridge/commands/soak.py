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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.commands.argtypes import at_least
from models.dsp import percentiles

DEFAULT_MINUTES = 10.0
BOUNDS = {"rss_mib": 20.0, "fds": 8, "threads": 4}
"""Growth allowed from the highest value of the warm-up to the highest after it (``--rss-growth-mib`` sets the first)."""
REPLY_TIMEOUT_S = {"ping": 5.0, "infer": 60.0, "upload": 60.0, "bank": 10.0}
SAMPLE_RATE = 22_050
WATCHDOG_GRACE_S = 180.0


@dataclass
class Tally:
    """What happened to one kind of request."""

    sent: int = 0
    answered: int = 0
    refused: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        # the nearest latency at or above each percentile ("higher"): one a request really took
        found = percentiles(self.latencies_ms, method="higher") if self.latencies_ms else {"p50": None, "p99": None}
        return {"sent": self.sent, "answered": self.answered, "refused": self.refused, "unanswered": self.sent - self.answered,
                **{f"{name}_ms": None if value is None else round(value, 1) for name, value in found.items()},
                "max_ms": round(max(self.latencies_ms), 1) if self.latencies_ms else None}


class _Replies:
    """An OSC client's listener: the futures waiting for an address, and how often the network said
    the daemon cannot be reached."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future[tuple[Any, ...]]]] = {}
        self.unreachable = 0

    def packet(self, arrived: float, messages: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        for address, args in messages:
            if address == "/dexbridge/error" and str(args[0]).startswith("MIDI out:"):
                continue  # the port flap, told to every client: no request's answer
            for future in self.waiting.pop(address, []):
                if not future.done():
                    future.set_result(args)

    def failed(self, error: OSError) -> None:
        self.unreachable += 1

    def expect(self, address: str) -> asyncio.Future[tuple[Any, ...]]:
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(address, []).append(future)
        return future

    def forget(self, *futures: asyncio.Future[tuple[Any, ...]]) -> None:
        """Stop waiting with these futures (their request is settled)."""
        for address, waiting in list(self.waiting.items()):
            self.waiting[address] = [future for future in waiting if future not in futures]


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
    async def request(self, client: Any, replies: _Replies, kind: str, send: Callable[[], None], answer: str) -> None:
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

        osc_port = _free_udp_port()
        import rtmidi

        keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{self.tag}-keys")
        keys.open_virtual_port("out")
        self.open_synth()
        self.start_daemon(osc_port, f"{self.tag}-keys:out")
        clients: dict[str, tuple[Any, _Replies]] = {}
        stack = contextlib.AsyncExitStack()
        async with stack:
            for role in ("ping", "infer", "upload", "control", "garbage", "watch"):
                replies = _Replies()
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
                    self.end_sample = {"t": round(time.monotonic() - began, 1), **_proc_sample(self.proc.pid)}
                self.unreachable = sum(replies.unreachable for _, replies in clients.values())
                self.stop_daemon()
                keys.close_port()
                keys.delete()  # its JACK client closes now, not when the server is already gone
                if self.synth is not None:
                    self.close_synth()
        return self.report(time.monotonic() - began)

    async def until_ready(self, client: Any, replies: _Replies) -> None:
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

    async def prepare(self, client: Any, replies: _Replies) -> None:
        """Load the bank and fill morph slots A and B."""
        await self.request(client, replies, "bank", lambda: client.send("/dexbridge/bank/load", str(self.bank)), "/dexbridge/done")
        for slot, index in ((0, 3), (1, 17)):
            client.send("/dexbridge/morph/slot", slot, index)
        await asyncio.sleep(0.5)

    def traffic(self, clients: dict[str, tuple[Any, _Replies]], keys: Any, osc_port: int) -> list[Awaitable[None]]:
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

    async def watch(self, began: float, client: Any, replies: _Replies) -> None:
        """Sample, check, and end the run after ``--minutes``."""
        end = began + self.args.minutes * 60
        next_sample, next_check = began, began + self.args.check_s
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                self.failures.append(f"the daemon exited with status {self.proc.returncode} after {now_s(began):.0f} s")
                return
            now = time.monotonic()
            if now >= next_sample:
                self.samples.append({"t": round(now - began, 1), **_proc_sample(self.proc.pid)})
                next_sample += self.args.sample_s
                self.progress(now - began)
            if now >= next_check:
                await self.check(client, replies)
                next_check = time.monotonic() + self.args.check_s
            await asyncio.sleep(0.2)

    async def check(self, client: Any, replies: _Replies) -> None:
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
        if status != 0:
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
        print(_words(result))
        return 1 if self.failures else 0


def _nested_bundles(depth: int) -> bytes:
    packet = b"/dexbridge/ping\0,\0\0\0"
    for _ in range(depth):
        packet = b"#bundle\0" + (1).to_bytes(8, "big") + len(packet).to_bytes(4, "big") + packet
    return packet


def _future_bundle(count: int) -> bytes:
    from bridge.osc.packet import encode_message

    message = encode_message("/dexbridge/status", (), "")
    ntp = int((time.time() + 2_208_988_800 + 5.0) * 2**32)
    return b"#bundle\0" + ntp.to_bytes(8, "big") + (len(message).to_bytes(4, "big") + message) * count


def _hostile_datagrams() -> list[tuple[str, bytes]]:
    """What a hostile or clumsy client sends: (name, bytes); the TCP ones are the first bytes sent."""
    from bridge.osc.packet import encode_message

    empty = b"#bundle\0" + (1).to_bytes(8, "big")
    return [
        ("negative element", bytes.fromhex("2362756e646c65000000000000000001fffffffc")),
        ("64 KB of empty elements", empty + ((16).to_bytes(4, "big") + empty) * 3_000),
        ("nested 20 deep", _nested_bundles(20)),
        ("future-dated bundle", _future_bundle(100)),
        ("time tag argument", b"/dexbridge/voice/load\0\0\0,t\0\0" + bytes(8)),
        ("superscript digit", encode_message("/dexbridge/infer/takes", ["x.wav:\u00b2"], "s")),
        ("5 000-digit upload id", encode_message("/dexbridge/infer/takes", ["upload:" + "9" * 5_000], "s")),
        ("newline in a file name", encode_message("/dexbridge/voice/load", ["x.syx\ndaemon.ready forged"], "s")),
        ("idle TCP", b""),
        ("half-sent TCP frame", (1 << 20).to_bytes(4, "big") + bytes(4096)),
    ]


HOSTILE_DATAGRAMS = _hostile_datagrams()


def now_s(began: float) -> float:
    """Seconds since ``began`` (monotonic)."""
    return time.monotonic() - began


def _proc_sample(pid: int) -> dict[str, float]:
    """Resident memory (MiB), open file descriptors and threads of process ``pid``, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _words(result: dict[str, Any]) -> str:
    lines = [f"soak: {result['minutes']} min at a {result['period']}-frame JACK period, "
             f"JACK {'real-time' if result['realtime'] else 'not real-time'}"]
    for kind, tally in result["requests"].items():
        lines.append(f"  {kind:<7} sent {tally['sent']:5d}  answered {tally['answered']:5d}  refused {tally['refused']:3d}  "
                     f"p50 {tally['p50_ms']} ms  p99 {tally['p99_ms']} ms  max {tally['max_ms']} ms")
    traffic = ", ".join(f"{count} {kind}" for kind, count in sorted(result["traffic"].items()) if "refused" not in kind)
    lines.append(f"  traffic: {traffic}")
    lines += [f"  refused: {count} x {kind}" for kind, count in result["traffic"].items() if "refused" in kind]
    lines.append(f"  synth in step: {result['checks']['passed']} of {result['checks']['total']} checks")
    labels = {"first": "first sample at", "warm": "warm-up high to", "last": "last sample at",
              "end": "traffic stopped at"}
    for name, label in labels.items():
        if result[name]:
            sample = result[name]
            lines.append(f"  {label} {sample['t']:4.0f} s: rss {sample['rss_mib']} MiB, {sample['fds']} fds, "
                         f"{sample['threads']} threads")
    growth = ", ".join(f"{k} {v:g} (bound {result['bounds'][k]})" for k, v in result["growth"].items())
    lines.append(f"  growth past the warm-up high: {growth}")
    lines.append("  " + ("FAILED: " + "; ".join(result["failures"]) if result["failures"] else "clean"))
    return "\n".join(lines)


def _soak(args: argparse.Namespace) -> int:
    from bridge.commands.librarian import bundled_bank_path
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
