"""Live capture through real PortAudio on the JACK server: a tone played into our input comes back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient

from bridge.daemon.capture import CaptureError, record
from bridge.daemon.lifecycle import Daemon
from engine.runtime import Engine
from models.voice import Voice

pytestmark = pytest.mark.jack
TONE_HZ = 440.0


async def _jack(*args: str) -> str:
    """Run a JACK tool without blocking the event loop (the daemon under test shares it)."""
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"{args}: {err.decode()}"
    return out.decode()


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
    """Wire our output port to our input port once the recording stream has registered it
    (PortAudio numbers its ports per stream: ``PortAudio:in_0``, later ``in_1``, ...)."""
    ports: list[str] = []
    for _ in range(200):
        ports = (await _jack("jack_lsp")).split()
        inputs = [p for p in ports if re.fullmatch(r"PortAudio[^:]*:in_\d+", p)]
        if inputs:
            client = inputs[-1].rsplit(":", 1)[0]
            outputs = [p for p in ports if re.fullmatch(rf"{re.escape(client)}:out_\d+", p)]
            assert outputs, f"no output port of {client} for the tone: {ports}"
            await _jack("jack_connect", outputs[-1], inputs[-1])
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


async def test_the_daemon_captures_and_infers_from_the_tone(tone: None, tiny_engine: Engine) -> None:
    async with run_daemon(daemon_settings(), tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/capture", 1.0)
        await connect_tone_to_capture()
        (vced,) = await client.until("/dexbridge/voice")
        f0_hz, level_db, backend, *_ = await client.until("/dexbridge/inferred")
        assert len(vced) == 155 and backend == "torch"
        assert abs(f0_hz - TONE_HZ) < 10 and -7 < level_db < -5  # a 0.5 peak is -6 dB
        client.close()


@pytest.mark.parametrize("among_sinks", [False, True])
async def test_note_auditions_the_current_voice_on_the_embedded_synth(jack: str, tiny_engine: Engine, brass_path: Path,
                                                                      brass_voices: list[Voice], among_sinks: bool) -> None:
    from bridge.sinks.embedded import EmbeddedSynth

    sinks = [EmbeddedSynth()] if among_sinks else []
    settings = daemon_settings(files_dir=(brass_path.parent,))
    async with run_daemon(settings, tiny_engine, open_sinks=lambda settings: sinks) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/voice/load", str(brass_path), 5)
        await client.until("/dexbridge/voice")
        client.send("/dexbridge/note", 62, 90, 0.2)
        assert await client.until("/dexbridge/done") == ["/dexbridge/note", "62 90 0.2 s on embedded"]
        assert daemon.session is not None
        synth = sinks[0] if among_sinks else daemon.session.audition
        assert synth.voice == brass_voices[5]  # among the sinks, it got there through the param stream
        assert (daemon.session.audition is None) == among_sinks
        client.send("/dexbridge/note", 200)
        (text,) = await client.until("/dexbridge/error")
        assert text.startswith("/dexbridge/note: note 200 (0..127)")
        client.close()


async def test_a_graceful_stop_finishes_requests_in_flight_and_a_second_one_cancels_them(jack: str,
                                                                                        tiny_engine: Engine) -> None:
    for stops, answered in ((1, True), (2, False)):
        daemon = Daemon(daemon_settings(), engine=tiny_engine)
        serving = asyncio.create_task(daemon.serve())
        await asyncio.wait_for(daemon.ready.wait(), 60)
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/capture", 1.0)  # the dummy JACK input is silent: the answer is an error
        while daemon.session is not None and not daemon.session.tasks:
            await asyncio.sleep(0.01)
        for _ in range(stops):
            daemon.request_stop()
        await asyncio.wait_for(serving, 10)
        replies = await client.settle()
        client.close()
        got_answer = any(address == "/dexbridge/error" and "silent" in args[0] for address, args in replies)
        assert got_answer == answered, f"stops={stops}: {replies}"
