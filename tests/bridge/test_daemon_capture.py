"""Live capture through real PortAudio on the JACK server: a tone played into our input comes back."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest

from bridge.capture import CaptureError, record

pytestmark = pytest.mark.jack
TONE_HZ = 440.0


def _jack_ports() -> list[str]:
    return subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture
def tone(jack: str) -> Iterator[None]:
    """A PortAudio output stream playing a 440 Hz sine into the JACK graph."""
    import sounddevice as sd

    phase = 0

    def callback(out: np.ndarray, frames: int, _time: object, _status: object) -> None:
        nonlocal phase
        n = np.arange(phase, phase + frames)
        phase += frames
        out[:, 0] = 0.5 * np.sin(2 * np.pi * TONE_HZ * n / 48000)

    stream = sd.OutputStream(channels=1, samplerate=48000, dtype="float32", callback=callback)
    stream.start()
    yield
    stream.close()


async def connect_tone_to_capture() -> None:
    """Wire our output port to our input port once the recording stream has registered it."""
    for _ in range(200):
        ports = _jack_ports()
        inputs = [p for p in ports if p.startswith("PortAudio") and p.endswith(":in_0")]
        if inputs:
            client = inputs[0].rsplit(":", 1)[0]
            subprocess.run(["jack_connect", f"{client}:out_0", inputs[0]], check=True, capture_output=True)
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"no PortAudio input port appeared in JACK: {ports}")


async def test_records_the_tone_from_the_jack_input(tone: None) -> None:
    task = asyncio.create_task(record(0.6))
    await connect_tone_to_capture()
    recording = await task
    assert recording.sample_rate == 48000 and recording.audio.dtype == np.float32
    assert recording.audio.shape == (28800,)
    tail = recording.audio[-8192:]  # after the connection was made
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(tail.size)))
    peak_hz = np.argmax(spectrum) * 48000 / tail.size
    assert abs(peak_hz - TONE_HZ) < 10, f"peak at {peak_hz:.1f} Hz"
    assert 0.3 < np.abs(tail).max() <= 0.5 + 1e-3


async def test_bad_requests_name_the_fix(jack: str) -> None:
    with pytest.raises(CaptureError, match=r"capture of 20.0 s: range 0.1..10.0 s"):
        await record(20.0)
    with pytest.raises(CaptureError, match=r"audio input no-such-device: .*inputs: .*--input-device"):
        await record(0.2, device="no-such-device")
