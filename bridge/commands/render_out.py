"""Renders written to be compared by ear with the recording they answer.

A render of the inferred voice comes out of dexed-py at 22 050 Hz, at whatever level the voice
plays. :func:`match_loudness` brings it to the recording's sample rate (soxr) and to the
recording's integrated loudness (ITU-R BS.1770, pyloudnorm), lowered further only where its true
peak (4x oversampled) would pass :data:`TRUE_PEAK_CEILING_DB`, so it never clips.
:func:`write_audio` writes audio in the format the file's extension names (:data:`RENDER_FORMATS`),
atomically. ``infer --render`` and ``demo`` both write through them. pyloudnorm and scipy.signal
(most of a second to import) load when a level is measured, so the formats can be checked at once.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from bridge.atomicfile import atomic_write
from bridge.commands.inputs import check_output
from engine.audio_input import to_mono

TRUE_PEAK_CEILING_DB = -1.0
"""The highest true peak a written render reaches, dB re full scale (EBU R 128's ceiling)."""
OVERSAMPLING = 4
"""True peak: the sample peak of the audio oversampled this many times (ITU-R BS.1770's estimate)."""


@dataclass(frozen=True)
class RenderFormat:
    """How a file with one extension is written: libsndfile's format and subtype, and the words for it."""

    format: str
    subtype: str
    words: str


RENDER_FORMATS = {
    ".wav": RenderFormat("WAV", "PCM_24", "24-bit WAV"),
    ".flac": RenderFormat("FLAC", "PCM_24", "24-bit FLAC"),
    ".ogg": RenderFormat("OGG", "VORBIS", "Ogg Vorbis"),
}
"""The audio formats renders are written in, by extension: formats every player reads."""


@dataclass(frozen=True)
class MatchedRender:
    """A render brought to a recording's rate and loudness.

    Attributes:
        audio: (samples,) float64 at ``sample_rate``.
        sample_rate: the recording's rate.
        input_lufs: the recording's integrated loudness (LUFS; -inf: too quiet to measure).
        gain_db: the gain applied to the render.
        below_db: how far below the recording's loudness the render was left so that its true peak
            stays at :data:`TRUE_PEAK_CEILING_DB` (0: as loud as the recording).
        true_peak_db: the result's true peak, dB re full scale.
    """

    audio: np.ndarray
    sample_rate: int
    input_lufs: float
    gain_db: float
    below_db: float
    true_peak_db: float

    def describe(self) -> str:
        """The level in words: as loud as the input, or how far below it and why."""
        if not math.isfinite(self.true_peak_db):
            return "silent: nothing to match to the input's loudness"
        if not math.isfinite(self.input_lufs):
            return "left at the voice's own level: the input is too quiet to measure its loudness (below -70 LUFS)"
        peak = f"true peak {self.true_peak_db:.1f} dBFS"
        if self.below_db >= 0.05:
            return (f"{self.below_db:.1f} dB below the input's loudness ({self.input_lufs:.1f} LUFS) so it does not clip "
                    f"({peak})")
        return f"as loud as the input ({self.input_lufs:.1f} LUFS integrated, ITU-R BS.1770; {peak})"


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of mono or (samples, channels) audio, mixed to mono (LUFS, ITU-R BS.1770;
    -inf when every block is below the -70 LUFS gate). Audio shorter than one 400 ms gating block is
    measured over one block, zero-padded."""
    import pyloudnorm

    mono = to_mono(audio)
    meter = pyloudnorm.Meter(sample_rate)
    block = math.ceil(meter.block_size * sample_rate) + 1
    if mono.size < block:
        mono = np.pad(mono, (0, block - mono.size))
    return float(meter.integrated_loudness(mono))


def true_peak_db(audio: np.ndarray) -> float:
    """The true peak of mono audio, dB re full scale: the peak of the audio oversampled
    :data:`OVERSAMPLING` times (-inf for silence)."""
    from scipy.signal import resample_poly

    peak = float(np.max(np.abs(resample_poly(np.asarray(audio, dtype=np.float64), OVERSAMPLING, 1)), initial=0.0))
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


def match_loudness(render: np.ndarray, render_rate: int, recording: np.ndarray, recording_rate: int) -> MatchedRender:
    """``render`` at the recording's rate and integrated loudness, lowered where its true peak would
    pass :data:`TRUE_PEAK_CEILING_DB`.

    Args:
        render: mono audio of the voice.
        render_rate: its rate (the model's, 22 050 Hz).
        recording: the recording it answers, mono or (samples, channels) (its mono mixdown is measured,
            as the engine hears it).
        recording_rate: the recording's rate, which the result takes.
    """
    audio = to_mono(render)
    if render_rate != recording_rate:
        audio = soxr.resample(audio, render_rate, recording_rate, quality="HQ")
    input_lufs = loudness_lufs(recording, recording_rate)
    render_lufs = loudness_lufs(audio, recording_rate)
    gain_db = input_lufs - render_lufs if math.isfinite(input_lufs) and math.isfinite(render_lufs) else 0.0
    peak_db = true_peak_db(audio) + gain_db
    below_db = max(0.0, peak_db - TRUE_PEAK_CEILING_DB)
    gain_db -= below_db
    return MatchedRender(audio * 10.0 ** (gain_db / 20.0), recording_rate, input_lufs, gain_db, below_db,
                         peak_db - below_db)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write audio in the format ``path``'s extension names (:data:`RENDER_FORMATS`), atomically
    (temp file + rename).

    Raises:
        OutputPathError: an extension that names none of them, or a folder that does not exist.
    """
    check_output(path, "audio file", tuple(RENDER_FORMATS))
    chosen = RENDER_FORMATS[path.suffix.lower()]
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, sample_rate, format=chosen.format, subtype=chosen.subtype)
    atomic_write(path, lambda file: file.write(buffer.getvalue()))
