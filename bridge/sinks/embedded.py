"""The embedded synth: dexed-py driven by a DX7 receiver, rendering or playing the voice it holds.

It takes exactly the bytes a MIDI output sends (:meth:`EmbeddedSynth.send`), applies them as
Dexed would (:class:`bridge.midi.receiver.Receiver`), and renders the resulting voice with
:class:`models.render.Renderer`: the same audio as rendering that voice directly. Playback goes
through sounddevice (PortAudio) at the output device's own sample rate.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import sounddevice as sd

from bridge.midi.cc_map import CcMap
from bridge.midi.receiver import audible_voice
from bridge.sinks.base import ReceiverSynth, SinkError
from models.render import NOTE_SECONDS, RENDER_SECONDS, SAMPLE_RATE, Renderer
from models.voice import Voice


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
        self._stream: sd.OutputStream | None = None
        self._lock = threading.Lock()

    def render(self, note: int = 60, velocity: int = 85, *, sample_rate: int = SAMPLE_RATE,
               note_seconds: float = NOTE_SECONDS, render_seconds: float = RENDER_SECONDS) -> np.ndarray:
        """Render one note of the current voice (operators switched off stay silent).

        Returns:
            Mono float32 audio, ``render_seconds`` long.

        Raises:
            ValueError: note, velocity, rate or durations out of range.
        """
        renderer = self._renderer
        if renderer is None or (renderer.sample_rate, renderer.note_seconds, renderer.render_seconds) != (
            sample_rate, note_seconds, render_seconds
        ):
            renderer = self._renderer = Renderer(sample_rate, note_seconds, render_seconds)
        return renderer.render(audible_voice(self.voice, self.receiver.op_switch), note, velocity)

    def play(self, note: int = 60, velocity: int = 85, *, note_seconds: float = 1.0, render_seconds: float = 1.5) -> np.ndarray:
        """Render a note at the output device's rate and start playing it; returns at once.

        A note still playing is replaced. Wait with :meth:`wait`.

        Returns:
            The audio being played (mono float32, at :attr:`playback_rate`).

        Raises:
            SinkError: no usable output device (PortAudio's message included).
            ValueError: note, velocity or durations out of range.
        """
        rate = self.playback_rate
        audio = self.render(note, velocity, sample_rate=rate, note_seconds=note_seconds, render_seconds=render_seconds)
        position = 0

        def callback(out: np.ndarray, frames: int, _time: object, _status: sd.CallbackFlags) -> None:
            nonlocal position
            chunk = audio[position:position + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk):, 0] = 0.0
            position += len(chunk)
            if len(chunk) < frames:
                raise sd.CallbackStop

        self.all_notes_off()
        try:
            stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32", device=self.device, callback=callback)
            stream.start()
        except sd.PortAudioError as exc:
            raise SinkError(f"embedded synth: cannot play on output device {self.device!r}: {exc}") from exc
        with self._lock:
            self._stream = stream
        return audio

    @property
    def playback_rate(self) -> int:
        """The output device's default sample rate (what :meth:`play` renders at).

        Raises:
            SinkError: no output device.
        """
        try:
            return int(sd.query_devices(self.device, "output")["default_samplerate"])
        except (sd.PortAudioError, ValueError) as exc:
            raise SinkError(f"embedded synth: no audio output device {self.device!r}: {exc}") from exc

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until the note being played ends; False if it still plays after ``timeout_s``."""
        with self._lock:
            stream = self._stream
        if stream is None:
            return True
        deadline = time.monotonic() + timeout_s
        while stream.active and time.monotonic() < deadline:
            time.sleep(0.01)
        return not stream.active

    def all_notes_off(self) -> None:
        """Stop the note being played, if any."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()

    def close(self) -> None:
        """Stop playback."""
        self.all_notes_off()
