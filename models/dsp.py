"""The signal measures models, engine and bridge share: frames, STFT magnitude and power, scaled logs,
frame RMS, percentiles.

Each function takes its frame, hop and window as arguments, so every caller keeps its own numbers:
the paper's metric (:func:`models.metrics.stft_magnitude`) is librosa's centred STFT, bit for bit.
Frames are views (``frames x frame`` samples); spectra are ``frames x bins`` unless ``bins_first``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def frames(audio: np.ndarray, frame: int, hop: int, *, center: bool = True, fill: bool = False) -> np.ndarray:
    """The frames of ``frame`` samples every ``hop`` samples along the last axis: a (..., frames, frame) view.

    Args:
        audio: samples along the last axis.
        frame: samples per frame.
        hop: samples from one frame's start to the next.
        center: zero-pad ``frame // 2`` samples on each side, so frame k is centred on sample k * hop
            (librosa's ``center=True`` with ``pad_mode="constant"``).
        fill: first zero-pad audio shorter than one frame at its end to a frame's length (more frames
            for a short signal than librosa's centred frames).
    """
    signal = np.asarray(audio)
    padding = [(0, 0)] * (signal.ndim - 1)
    if fill and signal.shape[-1] < frame:
        signal = np.pad(signal, [*padding, (0, frame - signal.shape[-1])])
    if center:
        signal = np.pad(signal, [*padding, (frame // 2, frame // 2)])
    return sliding_window_view(signal, frame, axis=-1)[..., ::hop, :]


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int, *, window: str | np.ndarray = "hann", center: bool = True,
                   fill: bool = False, nfft: int | None = None, bins_first: bool = False,
                   fft: Callable[..., np.ndarray] = np.fft.rfft) -> np.ndarray:
    """|STFT| of ``audio`` along its last axis: (..., frames, bins), float32 for float32 audio.

    Args:
        audio: samples along the last axis.
        n_fft: samples per frame.
        hop: samples between frames.
        window: a scipy window name (periodic, as librosa's STFT takes it) or the window's samples
            (their dtype counts: a float32 window on float32 audio transforms in float32).
        center, fill: as :func:`frames`.
        nfft: FFT length (the frame zero-padded to it); ``None`` = ``n_fft``.
        bins_first: (..., bins, frames) laid out as librosa's ``stft`` returns it (Fortran order), so
            sums over it add in librosa's order.
        fft: the real FFT (``scipy.fft.rfft`` is several times faster on float32; NumPy's, the default, keeps
            every figure measured with it to the bit).
    """
    signal = np.asarray(audio)
    if isinstance(window, str):
        from scipy.signal import get_window  # here: the percentiles of a command's --help need numpy only

        window = get_window(window, n_fft, fftbins=True)
    spectrum = fft(window * frames(signal, n_fft, hop, center=center, fill=fill), nfft, axis=-1)
    if signal.dtype == np.float32:
        spectrum = spectrum.astype(np.complex64, copy=False)  # as librosa: the input's precision
    magnitude = np.abs(spectrum)
    return np.asfortranarray(np.swapaxes(magnitude, -1, -2)) if bins_first else magnitude


def stft_power(audio: np.ndarray, n_fft: int, hop: int, window: np.ndarray,
               fft: Callable[..., np.ndarray] = np.fft.rfft) -> np.ndarray:
    """|STFT|^2 of ``audio`` along its last axis, centred frames (:func:`frames`): (..., frames, bins), in the
    precision of the audio and the window (float32 for both: float32 throughout, with ``scipy.fft.rfft``).
    No square root is taken: a caller that wants a log magnitude halves the log of the power."""
    spectrum = fft(window * frames(np.asarray(audio), n_fft, hop), axis=-1)
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)
    return power


def log_scaled(values: np.ndarray, floor: float, scale: float) -> np.ndarray:
    """``scale`` times the natural log of ``values`` floored at ``floor``, in the values' precision (a new array):
    a log10 or dB as NumPy computes it fastest (its float32 ``log10`` is 3.5 times slower than its ``log``)."""
    kind = values.dtype.type
    floored = np.maximum(values, kind(floor))
    np.log(floored, out=floored)
    floored *= kind(scale)
    return floored


def frame_rms(audio: np.ndarray, frame: int, hop: int, *, center: bool = True, fill: bool = False,
              dtype: type[np.floating] | None = None) -> np.ndarray:
    """The RMS of each frame (:func:`frames`): (..., frames).

    Args:
        dtype: the precision the squares are taken in (``np.float32``: as ``librosa.feature.rms``);
            ``None`` = the audio's.
    """
    return np.sqrt(np.mean(np.square(frames(audio, frame, hop, center=center, fill=fill), dtype=dtype), axis=-1))


def frame_rms_db(audio: np.ndarray, frame: int, hop: int, *, floor: float = 1e-12, center: bool = True,
                 fill: bool = False, dtype: type[np.floating] | None = None) -> np.ndarray:
    """:func:`frame_rms` in dB re full scale (1.0), each frame's RMS floored at ``floor`` first."""
    rms = frame_rms(audio, frame, hop, center=center, fill=fill, dtype=dtype)
    return 20.0 * np.log10(np.maximum(rms, floor))


def spectral_flatness(magnitude: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """Each frame's spectral flatness of a (bins, frames) magnitude: the geometric over the arithmetic mean of its
    power (floored), 1 for white noise, near 0 for a few partials (librosa's ``spectral_flatness``, power 2)."""
    power = np.maximum(floor, magnitude.astype(np.float64) ** 2)
    return np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)


def percentiles(samples: Sequence[float] | np.ndarray, qs: Sequence[float] = (50, 99), *,
                method: str = "linear") -> dict[str, float]:
    """Percentiles of ``samples`` by name: ``{"p50": ..., "p99": ...}`` for ``qs=(50, 99)``.

    Args:
        samples: the values (at least one).
        qs: the percentiles, 0-100.
        method: numpy's percentile method; the default interpolates linearly between neighbours,
            ``"higher"`` takes the nearest sample at or above (the sorted samples' index ``int(q / 100 * n)``).
    """
    values = np.percentile(np.asarray(samples, dtype=np.float64), list(qs), method=method)
    return {f"p{q:g}": float(value) for q, value in zip(qs, values, strict=True)}


ONSET_DB = -40.0
"""A sample this far below the loudest is before the onset."""
ONSET_MARGIN_S = 0.005
"""What :func:`trim_onset` keeps before the onset."""


def onset_sample(audio: np.ndarray, onset_db: float = ONSET_DB) -> int:
    """Index of the first sample within ``onset_db`` of the peak of a 1-D signal (0 for silence)."""
    magnitude = np.abs(np.asarray(audio))
    if magnitude.size == 0 or magnitude.max() == 0.0:
        return 0
    return int(np.argmax(magnitude >= magnitude.max() * 10.0 ** (onset_db / 20.0)))


def trim_onset(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A 1-D signal from :data:`ONSET_MARGIN_S` before its onset (:func:`onset_sample`) on."""
    return audio[max(0, onset_sample(audio) - round(ONSET_MARGIN_S * sample_rate)):]
