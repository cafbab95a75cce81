"""The embedded synth: dexed-py driven by a DX7 receiver, rendering or playing the voice it holds.

It takes exactly the bytes a MIDI output sends (:meth:`EmbeddedSynth.send`), applies them as
Dexed would (:class:`bridge.midi.receiver.Receiver`), and renders the resulting voice with
:class:`models.render.Renderer`: the same audio as rendering that voice directly. It always renders
at :data:`models.render.SAMPLE_RATE`, the rate of the search and the morph planner (dexed-py refuses
to render at two rates at once in one process), and playback resamples to the output device's rate.

Playback goes through sounddevice (PortAudio) on an :class:`AudioPlayer`: one thread makes every
PortAudio call, so notes sent at once never open or close streams side by side.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import numpy as np
import sounddevice as sd
import soxr

from bridge.midi.cc_map import CcMap
from bridge.midi.receiver import audible_voice
from bridge.sinks.base import ReceiverSynth, SinkError
from models.render import NOTE_SECONDS, RENDER_SECONDS, SAMPLE_RATE, Renderer
from models.voice import Voice

logger = logging.getLogger(__name__)

MAX_WAITING = 4  # notes queued behind the one being started; more are refused as busy
CALL_TIMEOUT_S = 30.0  # the longest wait for the player thread (a note behind MAX_WAITING others, a device query)
CLOSE_TIMEOUT_S = 2.0  # how long stopping or closing waits for the player thread


class PlayerBusy(SinkError):
    """A note refused because :data:`MAX_WAITING` notes already wait to play."""


@dataclass
class _Job:
    work: Callable[[], Any]
    future: Future[Any]
    note: bool  # a note (counted against MAX_WAITING, dropped by stop) or a control call


class AudioPlayer:
    """Plays mono float32 sounds on one PortAudio output device, one at a time, like a mono synth.

    One thread of its own, started with the first sound, makes every PortAudio call (device
    queries, stream open, start, abort, close): a new sound aborts and closes the stream playing and
    opens the next. Sounds wait in a queue of at most ``max_waiting``; beyond that :meth:`play`
    refuses at once with :class:`PlayerBusy`. :meth:`close` ends the thread within
    :data:`CLOSE_TIMEOUT_S` (it is a daemon thread: one stuck in PortAudio never blocks an exit).

    Args:
        device: sounddevice output device (None: the system default).
        max_waiting: sounds that may wait to play at once.
    """

    def __init__(self, device: int | str | None = None, max_waiting: int = MAX_WAITING) -> None:
        self.device = device
        self.max_waiting = max_waiting
        self._jobs: collections.deque[_Job] = collections.deque()
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stream: sd.OutputStream | None = None  # touched only on the player thread
        self._silent = threading.Event()
        self._silent.set()

    def play(self, make: Callable[[int], np.ndarray]) -> Future[np.ndarray]:
        """Queue a sound; returns at once.

        Args:
            make: called on the player thread with the device's sample rate; returns the sound at it.

        Returns:
            A future of the sound, set once it plays (or of the error: :class:`SinkError` when the device
            cannot play, the player closed or :meth:`stop` dropped it first; whatever ``make`` raised).

        Raises:
            PlayerBusy: ``max_waiting`` sounds already wait.
            SinkError: the player is closed.
        """
        future: Future[np.ndarray] = Future()
        with self._changed:
            self._check_open()
            waiting = sum(job.note for job in self._jobs)
            if waiting >= self.max_waiting:
                raise PlayerBusy(f"busy: {waiting} notes already waiting to play (at most {self.max_waiting}); "
                                 f"send the next one when a note is answered")
            self._jobs.append(_Job(lambda: self._start(make), future, note=True))
            self._wake()
        return future

    def call(self, work: Callable[[], Any], timeout_s: float = CALL_TIMEOUT_S) -> Any:
        """Run ``work`` on the player thread, ahead of the sounds waiting, and return its result.

        Raises:
            SinkError: the player is closed, or the thread did not get to it within ``timeout_s``.
            whatever ``work`` raised.
        """
        future: Future[Any] = Future()
        with self._changed:
            self._check_open()
            self._jobs.appendleft(_Job(work, future, note=False))
            self._wake()
        try:
            return future.result(timeout_s)
        except FutureTimeout:
            raise SinkError(f"embedded synth: the audio player did not answer within {timeout_s:g} s "
                            f"(PortAudio stuck on output device {self.device!r}?)") from None

    @property
    def sample_rate(self) -> int:
        """The output device's default sample rate (what sounds are played at).

        Raises:
            SinkError: no such output device.
        """
        return self.call(self._rate)

    def stop(self) -> None:
        """Silence the sound playing and drop those waiting (their futures get a :class:`SinkError`)."""
        with self._changed:
            if self._thread is None or self._closed:
                return
            dropped = [job for job in self._jobs if job.note]
            for job in dropped:
                self._jobs.remove(job)
        _fail(dropped, "stopped (all notes off) before it played")
        self.call(self._silence, CLOSE_TIMEOUT_S)

    def wait(self, timeout_s: float) -> bool:
        """Block until the sound playing ends; False if it still plays after ``timeout_s``."""
        return self._silent.wait(timeout_s)

    def close(self) -> None:
        """Silence, drop the sounds waiting and end the thread (idempotent)."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            dropped = list(self._jobs)
            self._jobs.clear()
            self._changed.notify()
        _fail(dropped, "not played: the synth closed")
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT_S)
            if self._thread.is_alive():
                logger.warning("embedded synth: the audio player is still inside PortAudio after %g s; left behind",
                               CLOSE_TIMEOUT_S)

    def _check_open(self) -> None:
        if self._closed:
            raise SinkError("embedded synth: closed; it plays no more notes")

    def _wake(self) -> None:
        """With the lock held: make sure the thread runs and sees the new job."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dexbridge-audio", daemon=True)
            self._thread.start()
        self._changed.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._jobs and not self._closed:
                        self._changed.wait()
                    if self._closed:
                        return
                    job = self._jobs.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    job.future.set_result(job.work())
                except Exception as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    job.future.set_exception(exc)
        finally:
            try:
                self._silence()
            except SinkError as exc:
                logger.warning("%s", exc)

    def _rate(self) -> int:
        try:
            return int(sd.query_devices(self.device, "output")["default_samplerate"])
        except (sd.PortAudioError, ValueError) as exc:
            raise SinkError(f"embedded synth: no audio output device {self.device!r}: {exc}") from exc

    def _start(self, make: Callable[[int], np.ndarray]) -> np.ndarray:
        rate = self._rate()
        audio = make(rate)
        position = 0

        def callback(out: np.ndarray, frames: int, _time: object, _status: sd.CallbackFlags) -> None:
            nonlocal position
            chunk = audio[position:position + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk):, 0] = 0.0
            position += len(chunk)
            if len(chunk) < frames:
                raise sd.CallbackStop

        self._silence()
        try:
            stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32", device=self.device,
                                     callback=callback, finished_callback=self._silent.set)
        except sd.PortAudioError as exc:
            raise SinkError(f"embedded synth: cannot play on output device {self.device!r}: {exc}") from exc
        self._silent.clear()
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self._silent.set()
            stream.close()
            raise SinkError(f"embedded synth: cannot play on output device {self.device!r}: {exc}") from exc
        self._stream = stream
        return audio

    def _silence(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.abort()
            stream.close()
        except sd.PortAudioError as exc:
            raise SinkError(f"embedded synth: cannot stop the note on output device {self.device!r}: {exc}") from exc
        finally:
            self._silent.set()


def _fail(jobs: list[_Job], why: str) -> None:
    for job in jobs:
        if job.future.set_running_or_notify_cancel():
            job.future.set_exception(SinkError(f"embedded synth: note {why}"))


class EmbeddedSynth(ReceiverSynth):
    """A dexed-py synth that follows MIDI like Dexed.

    Args:
        cc_map: the CCs it has "learned" (cc mode); None = CCs change nothing.
        voice: the initial voice (default ``Voice.init()``).
        device: sounddevice output device for :meth:`play` (default: the system default).
    """

    def __init__(self, cc_map: CcMap | None = None, voice: Voice | None = None, device: int | str | None = None) -> None:
        super().__init__("embedded", voice, cc_map)
        self.device = device
        self._renderer: Renderer | None = None
        self._render_lock = threading.Lock()  # a Renderer loads then renders: one caller at a time
        self._player = AudioPlayer(device)

    def render(self, note: int = 60, velocity: int = 85, *, note_seconds: float = NOTE_SECONDS,
               render_seconds: float = RENDER_SECONDS) -> np.ndarray:
        """Render one note of the current voice (operators switched off stay silent) at ``SAMPLE_RATE``.

        Returns:
            Mono float32 audio, ``render_seconds`` long.

        Raises:
            ValueError: note, velocity or durations out of range.
        """
        return self._render(audible_voice(self.voice, self.receiver.op_switch), note, velocity, note_seconds, render_seconds)

    def submit(self, note: int = 60, velocity: int = 85, *, note_seconds: float = 1.0,
               render_seconds: float = 1.5) -> Future[np.ndarray]:
        """Queue one note of the current voice to play; returns at once. It replaces the note playing.

        Returns:
            A future of the audio played (mono float32, at :attr:`playback_rate`), set once it sounds
            (see :meth:`AudioPlayer.play` for its errors; ValueError for a note, velocity or duration out of range).

        Raises:
            PlayerBusy: :data:`MAX_WAITING` notes already wait to play.
            SinkError: the synth is closed.
        """
        voice = audible_voice(self.voice, self.receiver.op_switch)  # the voice now, not when its turn comes

        def make(rate: int) -> np.ndarray:
            audio = self._render(voice, note, velocity, note_seconds, render_seconds)
            return audio if rate == SAMPLE_RATE else soxr.resample(audio, SAMPLE_RATE, rate)

        return self._player.play(make)

    def play(self, note: int = 60, velocity: int = 85, *, note_seconds: float = 1.0, render_seconds: float = 1.5) -> np.ndarray:
        """Start playing one note of the current voice and return once it sounds (see :meth:`submit`).

        Returns:
            The audio being played (mono float32, at :attr:`playback_rate`).

        Raises:
            SinkError: no usable output device (PortAudio's message included), the player busy or stuck.
            ValueError: note, velocity or durations out of range.
        """
        try:
            return self.submit(note, velocity, note_seconds=note_seconds, render_seconds=render_seconds).result(CALL_TIMEOUT_S)
        except FutureTimeout:
            raise SinkError(f"embedded synth: note {note} did not start within {CALL_TIMEOUT_S:g} s") from None

    @property
    def playback_rate(self) -> int:
        """The output device's default sample rate (what :meth:`play` resamples to).

        Raises:
            SinkError: no output device.
        """
        return self._player.sample_rate

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until the note being played ends; False if it still plays after ``timeout_s``."""
        return self._player.wait(timeout_s)

    def all_notes_off(self) -> None:
        """Stop the note being played and drop those waiting, if any."""
        self._player.stop()

    def close(self) -> None:
        """Stop playback and end the audio thread (idempotent)."""
        self._player.close()

    def _render(self, voice: Voice, note: int, velocity: int, note_seconds: float, render_seconds: float) -> np.ndarray:
        with self._render_lock:
            renderer = self._renderer
            if renderer is None or (renderer.note_seconds, renderer.render_seconds) != (note_seconds, render_seconds):
                renderer = self._renderer = Renderer(SAMPLE_RATE, note_seconds, render_seconds)
            return renderer.render(voice, note, velocity)
