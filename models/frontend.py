"""Audio -> mel spectrogram in dB -> [-1, 1], the model's input (after Le Vaillant, Dutoit, Dekeyser, DAFx 2021).

As the paper's code (Le Vaillant et al., DAFx 2021, ``utils/audio.py``): a symmetric Hann
window, ``center=True`` with zero padding, magnitude STFT divided by the window's sum (a sine
of amplitude A peaks near 20 log10(A / 2) dB), Slaney mel filters without area normalisation,
20 log10 with a floor, then min-max normalisation with dataset statistics. 4 s at 22 050 Hz
(88 200 samples) gives 257 bands x 345 frames (1 + 88 200 // 256) per note.

Two equivalent DFTs: ``torch.stft`` (FFT, fastest in eager mode on CPU and GPU) and, for
ONNX export, a strided ``conv1d`` with a fixed windowed-DFT kernel (the legacy ONNX exporter
cannot export complex ``stft``). They agree to about 1e-6 of full scale. The mel product runs
frames-major in row blocks that each touch only their filters' FFT bins (:class:`MelFilterbank`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import librosa
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.config import FrontendConfig
from models.errors import ConfigError, ModelInputError


@dataclass(frozen=True)
class FrontendStats:
    """Dataset range of the dB mel spectrograms, mapped to [-1, 1].

    Attributes:
        min_db: smallest dB value over the training spectrograms (maps to -1).
        max_db: largest dB value (maps to +1).
    """

    min_db: float
    max_db: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_db) and math.isfinite(self.max_db) and self.min_db < self.max_db):
            raise ConfigError(
                f"front-end stats min_db = {self.min_db}, max_db = {self.max_db}: need finite values "
                "with min_db < max_db (compute them with FrontendStats.from_db_arrays over the dataset)"
            )

    @classmethod
    def from_db_arrays(cls, arrays: Iterable[np.ndarray | torch.Tensor]) -> FrontendStats:
        """The global min and max over dB spectrograms (e.g. :meth:`Frontend.spectrogram_db` output).

        Raises:
            ConfigError: no arrays, an empty array, a NaN, or a constant range.
        """
        low, high, count = math.inf, -math.inf, 0
        for array in arrays:
            values = torch.as_tensor(array)
            if values.numel() == 0 or bool(torch.isnan(values).any()):
                raise ConfigError(f"dB array #{count} is empty or holds NaN: recompute that spectrogram")
            low, high, count = min(low, float(values.min())), max(high, float(values.max())), count + 1
        if count == 0:
            raise ConfigError("no dB arrays given: pass the training set's spectrograms")
        return cls(min_db=low, max_db=high)

    def normalise(self, db: torch.Tensor) -> torch.Tensor:
        """dB values mapped linearly to [-1, 1] over [min_db, max_db] (values outside go past it)."""
        return (db - self.min_db) * (2.0 / (self.max_db - self.min_db)) - 1.0


MEL_BLOCK_ROWS = 16  # 257 bands -> 17 blocks: 15x fewer multiply-adds than the dense 257 x 513 product


class MelFilterbank(nn.Module):
    """Magnitudes (..., frames, bins) -> mel bands (..., frames, n_mels).

    Slaney mel filters (``librosa.filters.mel``, no area normalisation) split into blocks of
    :data:`MEL_BLOCK_ROWS` bands; each block multiplies only the FFT bins its filters cover.
    """

    def __init__(self, config: FrontendConfig, scale: float) -> None:
        """
        Args:
            config: sample rate, n_fft, n_mels.
            scale: every weight is divided by it (the window sum).
        """
        super().__init__()
        mel = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, norm=None) / scale
        self.bin_ranges: list[tuple[int, int]] = []
        for block, first in enumerate(range(0, config.n_mels, MEL_BLOCK_ROWS)):
            rows = mel[first : first + MEL_BLOCK_ROWS]
            used = np.flatnonzero(rows.any(axis=0))
            low, high = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
            weights = torch.from_numpy(np.ascontiguousarray(rows[:, low:high].T)).float()
            self.register_buffer(f"block{block}", weights, persistent=False)
            self.bin_ranges.append((low, high))

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Mel magnitudes, frames-major like the input."""
        blocks = enumerate(self.bin_ranges)
        return torch.cat([magnitude[..., low:high] @ getattr(self, f"block{block}") for block, (low, high) in blocks], -1)


class Frontend(nn.Module):
    """(batch, notes, samples) float32 audio -> (batch, notes, n_mels, frames) in [-1, 1].

    Window, DFT kernel, mel filters and the stats are buffers: they follow ``.to(device)``.
    Only the stats are saved in the ``state_dict``; the rest is rebuilt from the config. Works on
    any device; the input decides.
    """

    def __init__(self, config: FrontendConfig, stats: FrontendStats, *, exportable: bool = False) -> None:
        """
        Args:
            config: STFT, mel and floor settings.
            stats: dataset dB range for the normalisation.
            exportable: compute the DFT as a conv1d (ONNX-exportable) instead of ``torch.stft``.
        """
        super().__init__()
        self.config = config
        self.exportable = exportable
        window = torch.hann_window(config.n_fft, periodic=False, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        kernel = _windowed_dft_kernel(window) if exportable else torch.empty(0)
        self.register_buffer("dft_kernel", kernel, persistent=False)
        # The paper divides |STFT| by max |rfft(window)| = the window sum: folded into the filters.
        self.mel = MelFilterbank(config, scale=float(window.sum()))
        self.register_buffer("min_db", torch.tensor(stats.min_db, dtype=torch.float32))
        self.register_buffer("max_db", torch.tensor(stats.max_db, dtype=torch.float32))
        self.floor_amplitude = 10.0 ** (config.floor_db / 20.0)

    @property
    def stats(self) -> FrontendStats:
        """The normalisation range held in the buffers."""
        return FrontendStats(float(self.min_db), float(self.max_db))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Normalised spectrogram: -1 at ``stats.min_db``, +1 at ``stats.max_db``.

        Raises:
            ModelInputError: audio not shaped (batch, notes, samples), shorter than n_fft // 2 + 1,
                or not of the module's dtype (float32).
        """
        db = self.spectrogram_db(audio)
        return (db - self.min_db) * (2.0 / (self.max_db - self.min_db)) - 1.0

    def spectrogram_db(self, audio: torch.Tensor) -> torch.Tensor:
        """Un-normalised mel spectrogram in dB, floored at ``config.floor_db``; same shape as forward.

        Raises:
            ModelInputError: audio not shaped (batch, notes, samples), shorter than n_fft // 2 + 1,
                or not of the module's dtype (float32).
        """
        if not torch.jit.is_tracing():  # the legacy ONNX exporter traces; shape checks would warn
            _check_audio(audio, self.config.n_fft, self.window.dtype)
        batch, notes, samples = audio.shape
        flat = audio.reshape(batch * notes, samples)
        real, imag = self._dft_conv(flat) if self.exportable else self._dft_fft(flat)
        magnitude = torch.sqrt(real * real + imag * imag)  # 3x faster than complex abs() on CPU
        mel = self.mel(magnitude.transpose(1, 2))  # (batch * notes, frames, n_mels)
        db = 20.0 * torch.log10(torch.clamp(mel, min=self.floor_amplitude))
        return db.transpose(1, 2).reshape(batch, notes, self.config.n_mels, db.shape[1])

    def _dft_fft(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, imag), each (signals, bins, frames)."""
        spectrum = torch.stft(
            flat, self.config.n_fft, self.config.hop, window=self.window,
            center=True, pad_mode="constant", return_complex=True,
        )
        return spectrum.real, spectrum.imag

    def _dft_conv(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, imag) as :meth:`_dft_fft`, from a conv1d with the windowed-DFT kernel."""
        half = self.config.n_fft // 2  # conv zero padding = torch.stft's center=True, pad_mode="constant"
        spectrum = F.conv1d(flat.unsqueeze(1), self.dft_kernel, stride=self.config.hop, padding=half)
        real, imag = spectrum.split(half + 1, dim=1)
        return real, imag


def _windowed_dft_kernel(window: torch.Tensor) -> torch.Tensor:
    """(2 (n_fft // 2 + 1), 1, n_fft) conv1d kernel: windowed cosines then negated sines."""
    n_fft = window.numel()
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    phase = 2.0 * math.pi * bins * torch.arange(n_fft, dtype=torch.float64)[None, :] / n_fft
    kernel = torch.cat([torch.cos(phase) * window, -torch.sin(phase) * window])
    return kernel.unsqueeze(1).float()


def _check_audio(audio: torch.Tensor, n_fft: int, dtype: torch.dtype) -> None:
    if audio.dtype != dtype:
        raise ModelInputError(f"audio dtype {audio.dtype}: the front end computes in {dtype}; convert the audio first")
    if audio.dim() != 3:
        raise ModelInputError(
            f"audio shape {tuple(audio.shape)}: expected (batch, notes, samples); "
            "add the missing axes, e.g. audio[None, None] for one mono note"
        )
    if audio.shape[-1] < n_fft // 2 + 1:
        raise ModelInputError(
            f"audio of {audio.shape[-1]} samples is shorter than {n_fft // 2 + 1} (n_fft // 2 + 1): pad it"
        )
