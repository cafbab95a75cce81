"""Live audio input through sounddevice (PortAudio), recorded without blocking the event loop.

The stream is opened and started in a worker thread (opening may wait on the audio server);
PortAudio's callback thread fills a preallocated buffer and hands completion back to the loop
with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.errors import DexbridgeError

logger = logging.getLogger(__name__)

MIN_SECONDS = 0.1
MAX_SECONDS = 10.0


class CaptureError(DexbridgeError, OSError):
    """No usable audio input, or a recording that failed."""


@dataclass(frozen=True)
class CapturedAudio:
    """Mono float32 samples, their sample rate and the device they came from."""

    audio: np.ndarray
    sample_rate: int
    device: str


def _input_device(device: str | int | None) -> tuple[Any, dict[str, Any]]:
    import sounddevice as sd  # PortAudio enumerates devices on import: load it only when recording

    try:
        info = sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as exc:
        names = [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]
        raise CaptureError(f"audio input {device if device is not None else '(default)'}: {exc}; "
                           f"inputs: {names or 'none (start JACK or plug in an interface)'}; "
                           f"choose one with --input-device") from None
    return sd, info


async def record(seconds: float, device: str | int | None = None) -> CapturedAudio:
    """Record ``seconds`` of mono audio from an input device at its default sample rate.

    Args:
        seconds: 0.1 to 10.
        device: a sounddevice device name (substring) or index; None for the default input.

    Raises:
        CaptureError: seconds out of range, no such input device, or PortAudio failing.
    """
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise CaptureError(f"capture of {seconds} s: range {MIN_SECONDS}..{MAX_SECONDS} s")
    loop = asyncio.get_running_loop()
    sd, info = await asyncio.to_thread(_input_device, device)
    sample_rate = int(info["default_samplerate"])
    buffer = np.zeros(round(seconds * sample_rate), dtype=np.float32)
    filled = 0
    done: asyncio.Future[None] = loop.create_future()

    def finish(error: str | None) -> None:
        if done.done():
            return
        if error:
            done.set_exception(CaptureError(error))
        else:
            done.set_result(None)

    def to_loop(error: str | None) -> None:  # from PortAudio's thread; the loop may be gone at shutdown
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finish, error)

    def stopped() -> None:  # the stream ended, filled or not
        to_loop(f"audio input '{info['name']}' stopped after {filled} samples")

    def callback(indata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        nonlocal filled
        take = min(frames, buffer.size - filled)
        buffer[filled:filled + take] = indata[:take, 0]
        filled += take
        if filled >= buffer.size:
            to_loop(None)
            raise sd.CallbackStop

    def open_stream() -> Any:
        stream = sd.InputStream(device=info["index"], channels=1, samplerate=sample_rate, dtype="float32",
                                callback=callback, finished_callback=stopped)
        stream.start()
        return stream

    opening = asyncio.ensure_future(asyncio.to_thread(open_stream))
    try:
        stream = await asyncio.shield(opening)
    except sd.PortAudioError as exc:
        raise CaptureError(f"audio input '{info['name']}' cannot be opened: {exc}") from None
    except asyncio.CancelledError:  # the thread still opens the stream: close it, never leave it to PortAudio
        with contextlib.suppress(Exception):
            await asyncio.to_thread((await opening).close)
        raise
    try:
        await asyncio.wait_for(done, seconds + 5.0)
    except TimeoutError:
        raise CaptureError(f"audio input '{info['name']}' delivered {filled} of {buffer.size} samples "
                           f"in {seconds + 5.0:.1f} s: is the audio server running?") from None
    finally:  # shielded: a second cancellation must not leave the stream open for PortAudio's thread
        await asyncio.shield(asyncio.to_thread(stream.close))
    logger.info("capture.done device=%s seconds=%.2f sample_rate=%d", info["name"], seconds, sample_rate)
    return CapturedAudio(buffer, sample_rate, info["name"])
