"""The daemon's lifecycle: ``serve()`` = ``startup()`` -> wait for a stop request -> ``shutdown()``.

Startup checks the MIDI system and opens the synth sinks first (a port or MIDI system that cannot
open is reported at once, before seconds of model loading), then loads and warms the engine, opens
the files folder and MIDI in, starts the control loop and binds OSC last (so nothing is accepted
before it can be served); any failure there is a named error and closes what was opened. Listening
beyond this computer logs what is exposed (:func:`exposure_warning`). The first SIGINT/SIGTERM asks
for a graceful stop, a second one skips the wait for in-flight requests.
Shutdown runs in a fixed order: stop OSC and MIDI intake -> finish (or, past
``shutdown_timeout_s``, cancel) in-flight requests, whose replies still go out -> stop the control
loop and the worker -> all-notes-off to every output -> close the outputs (flushing files) -> close
the OSC sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from bridge.daemon.files import FileArea
from bridge.daemon.midi_in import MidiRouter, watch_input_port
from bridge.daemon.midi_out import MidiOut
from bridge.daemon.session import BridgeSession
from bridge.daemon.settings import Settings
from bridge.midi.ports import VIRTUAL_PREFIX
from bridge.midi.systems import resolve_api
from bridge.osc.allow import is_loopback_host
from bridge.osc.namespace import OSC_ROUTES
from bridge.osc.server import OscServer
from bridge.sinks import MidiPortSink, Sink, open_sinks

logger = logging.getLogger(__name__)

SinkFactory = Callable[[Settings], Sequence[Sink]]


class Daemon:
    """One running bridge.

    Args:
        settings: resolved settings.
        engine: an already loaded :class:`engine.runtime.Engine` (tests, the demo); ``None`` loads
            ``settings.checkpoint`` with ``settings.backend`` at startup.
        open_sinks: opens the synth sinks the settings name (tests pass their own).
    """

    def __init__(self, settings: Settings, *, engine: Any = None, open_sinks: SinkFactory = open_sinks) -> None:
        self.settings = settings
        self.engine = engine
        self.open_sinks = open_sinks
        self.session: BridgeSession | None = None
        self.server: OscServer | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._force = False
        self._worker: Any = None
        self._midi_in: Any = None
        self.midi_out: MidiOut | None = None
        self._watch: asyncio.Task[None] | None = None
        self._keepers: list[asyncio.Task[None]] = []  # the output port watch and the idle refresh
        self.router: MidiRouter | None = None

    @property
    def osc_port(self) -> int:
        """The bound OSC port (UDP; TCP has the same number)."""
        assert self.server is not None, "Daemon.startup() first"
        return self.server.port

    async def startup(self) -> None:
        """Load the engine, open the files folder, outputs and MIDI in, start the control loop, bind OSC.

        Raises:
            DexbridgeError: a checkpoint, backend, port, files folder or setting that cannot be used.
            OSError: the OSC port is taken.
        """
        began = time.monotonic()
        settings = self.settings
        if settings.midi_out or settings.midi_in:
            api = await asyncio.to_thread(resolve_api, settings.midi_api)
            settings = self.settings = dataclasses.replace(settings, midi_api=api)
        sinks = await asyncio.to_thread(self.open_sinks, settings)
        try:
            await self._start(settings, sinks, began)
        except BaseException:
            if self.midi_out is None or not self.midi_out.sinks:  # not handed over yet: shutdown() will not close them
                for sink in sinks:
                    sink.close()
            raise

    async def _start(self, settings: Settings, sinks: Sequence[Sink], began: float) -> None:
        from engine.library import load_libraries
        from engine.runtime import Engine
        from engine.worker import InferenceWorker

        if self.engine is None:
            logger.info("daemon.loading: the voice library and the model (%s, backend %s), a few seconds",
                        settings.checkpoint or "the shipped checkpoint", settings.backend)
            library = await asyncio.to_thread(load_libraries, settings.library, not settings.no_library)
            self.engine = await asyncio.to_thread(Engine.load, settings.checkpoint, backend=settings.backend,
                                                  threads=settings.inference_threads(), library=library,
                                                  search_budget_ms=settings.search_ms,
                                                  search_max_renders=settings.search_renders,
                                                  search_workers=settings.inference_threads())
        files = await asyncio.to_thread(FileArea.open, settings.files_dir, overwrite=settings.overwrite)
        self._worker = InferenceWorker(self.engine, max_jobs=settings.max_jobs)
        await self._worker.start()
        self.server = OscServer(OSC_ROUTES, lambda request: None, reply_port=settings.reply_port,
                                max_frame=settings.upload_limit + 1024, allow=settings.allow_list)
        self.midi_out = MidiOut(settings, [], lambda exc: session.report(exc, "MIDI out"),
                                held_notes=lambda: len(router.held))
        session = self.session = BridgeSession(settings, self.engine, self._worker, self.server, [self.midi_out], files)
        router = self.router = MidiRouter(session, channel=settings.midi_channel)
        self.midi_out.sinks.extend(sinks)
        if settings.midi_in:
            self._midi_in = await asyncio.to_thread(self._open_midi_in, asyncio.get_running_loop())
            if not settings.midi_in.startswith(VIRTUAL_PREFIX):
                self._watch = asyncio.get_running_loop().create_task(
                    watch_input_port(self._midi_in.name, settings.midi_api, lambda exc: session.report(exc, "MIDI in")))
        self.server.handler = session.handle
        self.midi_out.start()
        await self._start_keepers(settings, session)
        opened = [sink.name for sink in sinks if isinstance(sink, MidiPortSink) and not sink.output.virtual]
        if opened:  # the synth behind a named port holds whatever it held: give it the daemon's voice
            session.resend(f"{', '.join(opened)} opened")
        session.controls.loop.start()
        await self.server.start(settings.osc_host, settings.osc_port, tcp=settings.osc_tcp)
        logger.info("osc.access allow=%s files=%s writes=%s overwrite=%s", self.server.allow.describe(), files.describe(),
                    files.write_folder, settings.overwrite)
        if (warning := exposure_warning(settings, self.osc_port, files)) is not None:
            logger.warning("%s", warning)
        logger.info("daemon.ready osc=%s:%d modes=%s backend=%s sinks=%s midi_in=%s midi_api=%s in %.1f s", settings.osc_host,
                    self.osc_port, ",".join(settings.mode), self.engine.backend_name, ",".join(s.name for s in sinks) or "-",
                    self._midi_in.name if self._midi_in else "-", settings.midi_api, time.monotonic() - began)
        port = "" if self.osc_port == 9000 else f" --port {self.osc_port}"
        logger.info("daemon.hint: send it a sound: dexbridge send%s /dexbridge/infer/file FILE.wav (FILE.wav in %s); "
                    "watch what it sends: dexbridge monitor%s; stop it: Ctrl-C", port, files.write_folder, port)
        keep_loaded_objects_out_of_collections()
        self.ready.set()

    async def _start_keepers(self, settings: Settings, session: BridgeSession) -> None:
        """Watch the MIDI output port (reopen it, see new connections and xruns) and refresh when idle
        (``--resync-s``); the watch sees xruns from here on, so also those as the first voice goes out."""
        from bridge.daemon.resync import OutputWatch, refresh_when_idle

        assert self.midi_out is not None
        loop = asyncio.get_running_loop()
        if settings.midi_out and "midi" in settings.sink:
            watch = OutputWatch(settings.midi_out, settings.midi_api, self.midi_out, session.resend,
                                per_period=settings.messages_per_period)
            await watch.open()
            self._keepers.append(loop.create_task(watch.run(), name="dexbridge-output-watch"))
        if settings.resync_s is not None:
            self._keepers.append(loop.create_task(refresh_when_idle(self.midi_out, session.resend, settings.resync_s),
                                                  name="dexbridge-idle-refresh"))

    def _open_midi_in(self, loop: asyncio.AbstractEventLoop) -> Any:
        from bridge.midi.ports import MidiInput

        router = self.router
        assert router is not None and self.settings.midi_in is not None

        def deliver(message: bytes) -> None:
            router.feed(message)
            router.report_dropped(port.take_errors())

        port = MidiInput(self.settings.midi_in, deliver, loop=loop, api=self.settings.midi_api)
        return port

    def request_stop(self) -> None:
        """Ask for a graceful stop (what the first SIGINT/SIGTERM does)."""
        if self._stop.is_set():
            self._force = True
            logger.warning("daemon.force_stop: not waiting for in-flight requests")
            if self.session is not None:
                for task in list(self.session.tasks):
                    task.cancel()
        self._stop.set()

    async def serve(self) -> None:
        """Run until SIGINT/SIGTERM (or :meth:`request_stop`), then shut down in order."""
        with self._capture_signals():
            try:
                await self.startup()
                await self._stop.wait()
            finally:
                await self.shutdown()

    @contextlib.asynccontextmanager
    async def running(self, startup_timeout_s: float | None = None) -> AsyncIterator[Daemon]:
        """Serve in this event loop for the duration of the block, then stop gracefully.

        Raises:
            whatever startup raised (a checkpoint or backend that cannot be loaded, a taken port);
            TimeoutError: not ready within ``startup_timeout_s``.
        """
        task = asyncio.create_task(self.serve(), name="dexbridge-daemon")
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({task, ready}, timeout=startup_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if task.done():
                task.result()  # startup failed: raise its error
                raise RuntimeError("the daemon stopped before it was ready, without an error")
            task.cancel()  # startup may be stuck: its cleanup runs, then the wait ends
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise TimeoutError(f"the daemon was not ready within {startup_timeout_s} s")
        try:
            yield self
        finally:
            self.request_stop()
            await task

    async def shutdown(self) -> None:
        """Stop intake, settle requests, silence and close the outputs. Safe after a failed startup."""
        gc.unfreeze()
        if self.server is not None:
            self.server.stop_intake()  # replies to requests in flight still go out
        watchers = [task for task in (self._watch, *self._keepers) if task is not None]
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        if self._midi_in is not None:
            self._midi_in.close()
        session = self.session
        if session is not None:
            session.inferences.end_search()  # a running search answers with its best voice so far
            pending = list(session.tasks)
            if pending and not self._force:
                _, late = await asyncio.wait(pending, timeout=self.settings.shutdown_timeout_s)
                pending = list(late)
            for task in pending:
                if not task.cancelling():  # cancelled once already by a second signal
                    task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await session.controls.loop.stop()
            session.close()
        if self._worker is not None:
            await self._worker.stop()
        if session is not None:
            for output in session.outputs:
                output.all_notes_off()
            for output in session.outputs:
                await output.aclose()
            logger.info("daemon.stopped voices=%d osc=%s", session.state.voices_applied,
                        dict(self.server.stats) if self.server else {})
        if self.server is not None:
            await self.server.close()

    @contextlib.contextmanager
    def _capture_signals(self) -> Any:
        loop = asyncio.get_running_loop()
        captured = []
        for number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows loops; not the main thread
                loop.add_signal_handler(number, self._on_signal, number)
                captured.append(number)
        try:
            yield
        finally:
            for number in captured:
                loop.remove_signal_handler(number)

    def _on_signal(self, number: int) -> None:
        logger.info("daemon.signal %s: %s", signal.Signals(number).name,
                    "forcing" if self._stop.is_set() else "stopping gracefully")
        self.request_stop()


def exposure_warning(settings: Settings, port: int, files: FileArea) -> str | None:
    """The start-up warning when OSC listens beyond this computer without a chosen allow-list
    (no ``--allow``, or ``--allow any``); None on a loopback address or with ``--allow`` networks."""
    if is_loopback_host(settings.osc_host) or (settings.allow and "any" not in settings.allow):
        return None
    where = f"OSC listens on {settings.osc_host}:{port} ({'UDP and TCP' if settings.osc_tcp else 'UDP'})"
    risk = (f"OSC has no authentication: a client that is served can drive the synth, run inferences, and read and "
            f"write .syx/.mid/audio files in {files.describe()} (--files-dir)")
    if settings.allow:
        return (f"osc.exposed: {where} and serves every address that reaches it (--allow any). {risk}, so anyone on "
                f"this network can. Restrict it to your computers: --allow 192.168.1.0/24 (their network) or "
                f"--allow 192.168.1.20 (one address)")
    return (f"osc.exposed: {where}, where other computers can reach it, but serves this computer only (no --allow "
            f"given: loopback); packets from other addresses are dropped without a reply and counted in "
            f"/dexbridge/status. {risk}. To serve Max on a second computer, name it: --allow 192.168.1.20, or its "
            f"network: --allow 192.168.1.0/24 (--allow any serves everyone)")


def keep_loaded_objects_out_of_collections() -> None:
    """Move every object alive once the daemon is loaded (modules, the model, the voice library: some
    300 000) out of the garbage collector's reach. A full collection scans only what requests create
    since: on a 2-core machine one held the event loop 140 ms before, under 1 ms after."""
    gc.collect()
    gc.freeze()
