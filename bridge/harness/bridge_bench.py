"""``dexbridge bench --bridge``: the daemon's own latencies, measured through its real parts.

An in-process daemon (real UDP socket, real inference thread, real JACK MIDI port in ``param`` mode)
is driven by a UDP client. The MIDI port sink is wrapped to timestamp each message right after
the port took it (``rtmidi.send_message`` returned): that is "out" (a JACK period later the bytes
are on the wire; the dummy server's period is 5.3 ms and is not the daemon's). Three figures:

* control -> first MIDI byte: datagram sent -> first parameter change out, for three controls: a
  ``/dexbridge/morph`` step with the ``planned`` method (the default: a look-up on the planned line),
  a ``/dexbridge/macro`` move (a look-up in the voice's macro table) and a ``/dexbridge/morph`` step
  with the ``latent`` method (a decode of the latent line on the loop, what ``/dexbridge/latent``
  costs too). The decoding one is broken down into
  parse (datagram sent -> the handler sets the control's target: socket, loop wake, OSC parse),
  step (the control loop slews, at once when it was idle -> ``Engine.decode`` starts, on the loop), decode,
  emit (decode done -> the voice applied), diff (the changed parameters queued as
  SysEx, up to the first sink's send) and write (rtmidi took the message). The bench takes these
  timestamps by wrapping the daemon's parts it hands over (engine, the control loop's ``set``, ``apply_voice``, sink):
  nothing in the daemon changes, so the instrumentation costs nothing when the bench is not running;
* snippet -> first voice: ``/dexbridge/infer/blob`` (0.5 s snippet) -> the first parameter change of
  the first voice out (the network's answer or the nearest library voice, tuned: pitch tracking
  included), and -> the final voice's last parameter change out, once the search (``--search-ms``,
  the daemon's default) has streamed its better voices (a bank voice is made current before each
  round, so every answer is a change);
* sustained control: 1 000 planned ``/dexbridge/morph`` messages a second from another thread for a
  few seconds: messages lost, the largest backlog seen, and how long after the last message the
  daemon is idle with nothing queued (latest wins: no backlog means it is idle within a tick), and
  whether the daemon ends on the voice of the last message (the plan's at that position).

The baseline, in the same process and rounds as the decoding control: ``Engine.decode`` alone (the
model's share of a control step), so their ratio says what the bridge adds around the model. The
planned morph and the macro run on one daemon (with the snippets and the sustained run), the latent
morph on a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.daemon.lifecycle import Daemon
from bridge.daemon.settings import Settings
from bridge.midi.syxfile import read_syx_voices
from bridge.osc.packet import encode_message
from bridge.sinks import MidiPortSink
from engine.latent import interpolate
from models.dsp import percentiles
from models.render import Renderer
from models.voice import Voice

SNIPPET_SECONDS = 0.5
QUIET_S = 0.05
CONTROLS = ("morph (planned, the default)", "macro", "morph (latent: a decode)")
"""The controls timed from datagram to first MIDI byte (module docstring)."""
MACRO_MOVE = 0.5  # macro 0 moves between +0.5 and -0.5, a round each
BREAKDOWN = ("parse", "step", "decode", "emit", "diff", "write")
"""The parts of control -> first MIDI byte, in order (module docstring)."""


@dataclass
class BridgeBenchReport:
    """Latency percentiles (ms) and the sustained-rate figures."""

    control_to_first_midi_ms: dict[str, dict[str, float]]
    snippet_to_first_voice_ms: dict[str, float]
    snippet_to_final_voice_ms: dict[str, float]
    decode_baseline_ms: dict[str, float]
    sustained: dict[str, float]
    iterations: int
    backend: str
    notes: list[str] = field(default_factory=list)
    control_breakdown_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return dataclasses.asdict(self)

    def table(self) -> str:
        """A readable summary."""
        def row(name: str, values: dict[str, float]) -> str:
            return f"{name:<34}{values['p50']:>10.3f}{values['p99']:>10.3f}{values['max']:>10.3f}"

        decoding = self.control_to_first_midi_ms[CONTROLS[2]]
        ratio = decoding["p50"] / max(self.decode_baseline_ms["p50"], 1e-9)
        sustained = self.sustained
        lines = [f"{'bridge path (' + self.backend + ')':<34}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
                 "control -> first MIDI byte:",
                 *(row(f"  {name}", values) for name, values in self.control_to_first_midi_ms.items()),
                 *(row(f"    {part.replace('_', ' ')}", values) for part, values in self.control_breakdown_ms.items()),
                 row("snippet -> first voice, first byte", self.snippet_to_first_voice_ms),
                 row("snippet -> final voice, last byte", self.snippet_to_final_voice_ms),
                 row("baseline: Engine.decode alone", self.decode_baseline_ms),
                 f"decoding control path / decode alone (p50): {ratio:.2f}x; {self.iterations} rounds per control",
                 f"sustained {sustained['rate_hz']:.0f} msgs/s for {sustained['seconds']:.1f} s: "
                 f"{sustained['sent']:.0f} sent, {sustained['lost']:.0f} lost, max backlog {sustained['max_backlog']:.0f} "
                 f"messages, idle {sustained['drain_ms']:.2f} ms after the last one, {sustained['voices']:.0f} voices, "
                 f"final voice = the plan's at the last position: {bool(sustained['final_ok'])}"]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


class _Trace:
    """When one control message passed each part of the daemon: the first time of each mark since
    :meth:`reset`."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def reset(self) -> None:
        self.marks.clear()

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter())

    def breakdown(self, sent: float) -> dict[str, float] | None:
        """Seconds per part of :data:`BREAKDOWN` for a message sent at ``sent``; None when a mark is missing."""
        names = ("handled", "decode_start", "decode_end", "applied", "send_start", "send_end")
        if any(name not in self.marks for name in names):
            return None
        times = [sent, *(self.marks[name] for name in names)]
        return {part: end - start for part, start, end in zip(BREAKDOWN, times[:-1], times[1:], strict=True)}


class _TimedEngine:
    """The engine, its ``decode`` timed into a trace; everything else passes through."""

    def __init__(self, engine: Any, trace: _Trace) -> None:
        self._engine = engine
        self._trace = trace

    def decode(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        self._trace.mark("decode_start")
        voice = self._engine.decode(latent, template)
        self._trace.mark("decode_end")
        return voice

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class _TimedSink:
    """A real sink that also records when each message left through it."""

    def __init__(self, sink: MidiPortSink, trace: _Trace) -> None:
        self.sink = sink
        self.name = sink.name
        self.sent: list[float] = []
        self.trace = trace

    def send(self, message: bytes) -> None:
        self.trace.mark("send_start")
        self.sink.send(message)
        self.sent.append(time.perf_counter())
        self.trace.mark("send_end")

    @property
    def backlog(self) -> int:
        return self.sink.backlog

    def all_notes_off(self) -> None:
        self.sink.all_notes_off()

    def close(self) -> None:
        self.sink.close()


def _latencies_ms(samples_s: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples_s) * 1000.0
    return {**percentiles(values), "max": float(values.max()), "n": float(len(values))}


async def _settled(daemon: Daemon, sink: _TimedSink, received: int, timeout_s: float = 5.0) -> None:
    """Wait until the daemon has read ``received`` messages, its control loop is idle, nothing is queued
    for MIDI, no request is in flight and no message left for ``QUIET_S``. Polls sparingly: the
    timestamps come from the sink, and a busy poll would take the GIL from the inference thread."""
    assert daemon.session is not None and daemon.midi_out is not None and daemon.server is not None
    deadline = time.perf_counter() + timeout_s
    while daemon.server.stats["messages"] < received and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    while time.perf_counter() < deadline:
        idle = daemon.session.controls.loop.idle and not daemon.midi_out.pending and not daemon.session.tasks
        if idle and (not sink.sent or time.perf_counter() - sink.sent[-1] > QUIET_S):
            return
        await asyncio.sleep(0.005)
    raise TimeoutError(f"the daemon did not settle within {timeout_s} s")


class _Rig:
    """One in-process daemon with a timed JACK sink, its morph slots filled from a bank, and a UDP client."""

    def __init__(self, daemon: Daemon, sink: _TimedSink, trace: _Trace, client: socket.socket) -> None:
        self.daemon = daemon
        self.sink = sink
        self.trace = trace
        self.client = client
        self.target = ("127.0.0.1", daemon.osc_port)

    async def ask(self, dgram: bytes) -> float:
        """Send one datagram, wait until its effects settle; returns when it was sent."""
        assert self.daemon.server is not None
        received = self.daemon.server.stats["messages"] + 1
        sent = time.perf_counter()
        self.client.sendto(dgram, self.target)
        await _settled(self.daemon, self.sink, received)
        return sent

    async def rounds(self, dgrams: Sequence[bytes], iterations: int, after: Callable[[int], None] | None = None,
                     ) -> tuple[list[float], dict[str, list[float]]]:
        """Send ``dgrams`` in turn, one a round: control -> first MIDI byte of each round that changed the voice,
        and its parts (:data:`BREAKDOWN`) where it passed them all (a decode); ``after`` is called with each
        round's number once it settled."""
        control: list[float] = []
        parts: dict[str, list[float]] = {part: [] for part in BREAKDOWN}
        for round_index in range(iterations):
            before = len(self.sink.sent)
            self.trace.reset()
            sent = await self.ask(dgrams[round_index % len(dgrams)])
            if len(self.sink.sent) > before:
                control.append(self.sink.sent[before] - sent)
                for part, elapsed in (self.trace.breakdown(sent) or {}).items():
                    parts[part].append(elapsed)
            if after is not None:
                after(round_index)
        return control, parts


@contextlib.asynccontextmanager
async def _rig(engine: Any, bank_path: str, morph_method: str, midi_api: str) -> AsyncIterator[_Rig]:
    """A daemon playing morphs by ``morph_method``, the bank loaded and voices 1 and 20 in slots A and B."""
    timed: list[_TimedSink] = []
    trace = _Trace()

    def open_timed(settings: Settings) -> list[_TimedSink]:
        from bridge.midi.ports import MidiOutput

        timed.append(_TimedSink(MidiPortSink(MidiOutput(f"virtual:dexbridge-bench-{morph_method}", midi_api)), trace))
        return timed

    settings = Settings(osc_host="127.0.0.1", osc_port=0, mode=("param",), slew_ms=0.0, midi_api=midi_api,
                        morph_method=morph_method,
                        files_dir=(Path(bank_path).resolve().parent,))  # the bank is the one file it reads; it writes none
    daemon = Daemon(settings, engine=_TimedEngine(engine, trace), open_sinks=open_timed)
    await daemon.startup()
    # a bare socket, not bridge.osc.client: the sustained run sends from a thread, and no reply is read on the
    # loop being timed
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        _trace_daemon(daemon, trace)
        rig = _Rig(daemon, timed[0], trace, client)
        await rig.ask(encode_message("/dexbridge/bank/load", [str(Path(bank_path).resolve())]))
        for slot, index in ((0, 1), (1, 20)):
            await rig.ask(encode_message("/dexbridge/morph/slot", [slot, index]))
        assert daemon.session is not None and all(daemon.session.state.slots[:2]), "morph slots did not fill"
        yield rig
    finally:
        client.close()
        daemon.request_stop()
        await daemon.shutdown()


async def run_bridge_bench(engine: Any, bank_path: str, *, iterations: int = 100, rate_hz: float = 1000.0,
                           seconds: float = 3.0, midi_api: str = "jack") -> BridgeBenchReport:
    """Measure the daemon's latencies (see the module docstring).

    Args:
        engine: a loaded ``engine.runtime.Engine``.
        bank_path: a 32-voice ``.syx`` bank (the morph slots are voices 1 and 20).
        iterations: timed rounds per control and per latency figure (the inference one runs a fifth as many).
        rate_hz: the sustained control rate.
        seconds: how long the sustained run lasts.
        midi_api: the MIDI system of the output port (``jack`` here).

    Raises:
        MidiPortError: no MIDI system to open a virtual port on (start JACK).
    """
    ends = [encode_message("/dexbridge/morph", [1.0]), encode_message("/dexbridge/morph", [0.0])]
    control: dict[str, dict[str, float]] = {}
    notes: list[str] = []

    def record(name: str, samples: list[float]) -> None:
        control[name] = _latencies_ms(samples)
        if len(samples) < iterations:
            notes.append(f"{name}: {iterations - len(samples)} rounds changed no parameter (skipped)")

    async with _rig(engine, bank_path, "planned", midi_api) as rig:
        await rig.ask(ends[1])  # the line is planned (the morph holds until then) and played once
        record(CONTROLS[0], (await rig.rounds(ends, iterations))[0])
        macros = [encode_message("/dexbridge/macro", [0, value]) for value in (MACRO_MOVE, -MACRO_MOVE)]
        await rig.ask(macros[1])  # the macro table is decoded, off the loop, at the first move
        record(CONTROLS[1], (await rig.rounds(macros, iterations))[0])
        first, final = await _snippets(rig, bank_path, max(3, iterations // 5))
        sustained = await _sustained(rig, rate_hz, seconds)
        port = rig.sink.name

    async with _rig(engine, bank_path, "latent", midi_api) as rig:
        assert rig.daemon.session is not None
        slots = rig.daemon.session.state.slots
        decode: list[float] = []

        def decode_alone(round_index: int) -> None:  # Engine.decode on the latent the round decoded
            latent = interpolate(slots[0].latent, slots[1].latent, 0.0 if round_index % 2 else 1.0)  # type: ignore[union-attr]
            start = time.perf_counter()
            engine.decode(latent)
            decode.append(time.perf_counter() - start)

        samples, parts = await rig.rounds(ends, iterations, decode_alone)
        record(CONTROLS[2], samples)

    notes.insert(0, f"'out' = rtmidi took the message for JACK port {port}; the JACK period adds up to one cycle")
    breakdown = {part: _latencies_ms(values) for part, values in parts.items() if values}
    return BridgeBenchReport(control, _latencies_ms(first), _latencies_ms(final), _latencies_ms(decode),
                             sustained, iterations, engine.backend_name, notes, breakdown)


async def _snippets(rig: _Rig, bank_path: str, rounds: int) -> tuple[list[float], list[float]]:
    """``/dexbridge/infer/blob`` of two brass notes in turn -> the first voice's first byte and the final voice's last."""
    voices = [item.voice for item in read_syx_voices(bank_path).voices]
    renderer = Renderer()
    snippets = [renderer.render(voices[i], 60, 85)[: round(SNIPPET_SECONDS * renderer.sample_rate)] for i in (3, 20)]
    first, final = [], []
    for round_index in range(rounds):
        snippet = snippets[round_index % 2]
        await rig.ask(encode_message("/dexbridge/program", [10 + round_index % 2]))  # so the inferred voice is always a change
        before = len(rig.sink.sent)
        sent = await rig.ask(encode_message("/dexbridge/infer/blob", [snippet.astype("<f4").tobytes(), renderer.sample_rate]))
        if len(rig.sink.sent) > before:
            first.append(rig.sink.sent[before] - sent)
            final.append(rig.sink.sent[-1] - sent)
    return first, final


def _trace_daemon(daemon: Daemon, trace: _Trace) -> None:
    """Mark when the OSC handler sets a control's target and when a voice is applied."""
    assert daemon.session is not None
    loop, apply_voice = daemon.session.controls.loop, daemon.session.apply_voice
    set_target = loop.set

    def handled(*args: Any, **kwargs: Any) -> None:
        trace.mark("handled")
        set_target(*args, **kwargs)

    def applied(voice: Voice, *args: Any, **kwargs: Any) -> None:
        trace.mark("applied")
        apply_voice(voice, *args, **kwargs)

    loop.set = handled  # type: ignore[method-assign]
    daemon.session.apply_voice = applied  # type: ignore[method-assign]


async def _sustained(rig: _Rig, rate_hz: float, seconds: float) -> dict[str, float]:
    """``/dexbridge/morph`` at ``rate_hz`` from another thread for ``seconds`` (a planned line)."""
    daemon, client, target = rig.daemon, rig.client, rig.target
    assert daemon.server is not None and daemon.session is not None
    count = round(rate_hz * seconds)
    positions = np.random.default_rng(0).random(count)
    received_before = daemon.server.stats["messages"]
    voices_before = daemon.session.state.voices_applied
    done = threading.Event()
    last_sent = [0.0]

    def send_all() -> None:  # another thread, paced by the clock: a steady 1 000 messages/s
        start = time.perf_counter()
        for i, x in enumerate(positions):
            wait = start + i / rate_hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            client.sendto(encode_message("/dexbridge/morph", [float(x)]), target)
        last_sent[0] = time.perf_counter()
        done.set()

    sender = threading.Thread(target=send_all, name="bench-sender")
    sender.start()
    max_backlog = 0
    started = time.perf_counter()
    while not done.is_set():
        sent_so_far = min(count, int((time.perf_counter() - started) * rate_hz))
        max_backlog = max(max_backlog, sent_so_far - (daemon.server.stats["messages"] - received_before))
        await asyncio.sleep(0.01)
    sender.join()
    while daemon.server.stats["messages"] - received_before < count and time.perf_counter() - last_sent[0] < 2.0:
        await asyncio.sleep(0.001)
    assert daemon.midi_out is not None
    while not (daemon.session.controls.loop.idle and not daemon.midi_out.pending) and time.perf_counter() - last_sent[0] < 2.0:
        await asyncio.sleep(0.001)
    drain = time.perf_counter() - last_sent[0]
    last = float(np.float32(positions[-1]))  # what the float32 OSC argument carried
    ends = [slot.voice for slot in daemon.session.state.slots[:2]]  # type: ignore[union-attr]
    plan = daemon.session.controls.plans.line_for(*ends)
    expected = None if plan is None else plan.voice_at(last)
    return {"rate_hz": rate_hz, "seconds": seconds, "sent": float(count),
            "lost": float(count - (daemon.server.stats["messages"] - received_before)),
            "max_backlog": float(max(0, max_backlog)), "drain_ms": drain * 1000.0,
            "voices": float(daemon.session.state.voices_applied - voices_before),
            "final_ok": float(daemon.session.state.voice == expected)}


def bridge_bench(checkpoint: Any, backend: str, iterations: int) -> BridgeBenchReport:
    """Build an engine for ``checkpoint`` on ``backend`` (the shipped library, the daemon's default search
    budget) and run :func:`run_bridge_bench` on the bundled brass bank."""
    from bridge.commands.voices import bundled_bank_path
    from engine.backends import select_backend
    from engine.library import load_libraries
    from engine.runtime import Engine

    engine = Engine(checkpoint, select_backend(backend, checkpoint), library=load_libraries(None),
                    search_budget_ms=Settings().search_ms)  # as the daemon serves by default
    engine.infer(engine.reference_tone(), engine.sample_rate, search=False)  # warm-up, as Engine.load does
    return asyncio.run(run_bridge_bench(engine, str(bundled_bank_path("brass")), iterations=iterations))
