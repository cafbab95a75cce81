"""The paper's evaluation metrics, as pure functions (Le Vaillant et al., DAFx 2021, section 4).

Parameter metrics compare two voices; audio metrics compare two renders of the same note(s).
Renders are arrays of shape (notes, samples) or (samples,); audio metrics average over notes.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from models import dsp
from models.params import CATEGORICAL, NUMERICAL
from models.voice import Voice

STFT_N_FFT = 1024
STFT_HOP = 256
LOG_FLOOR = 1e-4
_LOG10_E = 1.0 / np.log(10.0)
N_MFCC = 13

_NUM_INDEX = np.array([p.index for p in NUMERICAL])
_NUM_SPAN = np.array([p.hi - p.lo for p in NUMERICAL], dtype=np.float64)
_CAT_INDEX = np.array([p.index for p in CATEGORICAL])


@dataclass(frozen=True)
class Scores:
    """One voice's (or a mean over voices') scores; field names are the JSON keys."""

    num_mae: float
    cat_acc: float
    spec_mae: float
    spec_sc: float
    mfcc_mae: float
    log_mel_db: float
    mfcc: float

    def to_dict(self) -> dict[str, float]:
        """The scores as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def mean(cls, scores: list[Scores]) -> Scores:
        """The mean of each metric over several voices."""
        if not scores:
            raise ValueError("cannot average an empty list of scores")
        table = np.array([[getattr(s, k) for k in cls.__dataclass_fields__] for s in scores])
        return cls(*(float(x) for x in table.mean(axis=0)))


def num_mae(target: Voice, predicted: Voice) -> float:
    """Mean absolute error over the 122 numerical parameters, each scaled to [0, 1]."""
    a = np.asarray(target.values)[_NUM_INDEX]
    b = np.asarray(predicted.values)[_NUM_INDEX]
    return float(np.mean(np.abs(a - b) / _NUM_SPAN))


def cat_acc(target: Voice, predicted: Voice) -> float:
    """Fraction of the 22 categorical parameters predicted exactly."""
    a = np.asarray(target.values)[_CAT_INDEX]
    b = np.asarray(predicted.values)[_CAT_INDEX]
    return float(np.mean(a == b))


def _as_notes(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    return audio[None, :] if audio.ndim == 1 else audio


def stft_magnitude(audio: np.ndarray) -> np.ndarray:
    """|STFT| (1024 / hop 256, Hann, centred: librosa's) of each note: (notes, 513, frames).

    SciPy's FFT: NumPy 2.4's is 5 times slower on float32 (the two differ by a few units of float32's last place).
    """
    import scipy.fft  # here: a command's --help imports this module and needs NumPy only

    return dsp.stft_magnitude(_as_notes(audio), STFT_N_FFT, STFT_HOP, bins_first=True, fft=scipy.fft.rfft)


def log_magnitude(magnitude: np.ndarray) -> np.ndarray:
    """log10 max(|S|, 1e-4): what :func:`spec_mae` compares (computed once for a target compared often).

    Taken as the natural log scaled, in place: NumPy's float32 ``log10`` is 3.5 times slower than its ``log``.
    """
    return dsp.log_scaled(magnitude, LOG_FLOOR, _LOG10_E)


def spec_mae(target_mag: np.ndarray, predicted_mag: np.ndarray) -> float:
    """Mean |log10 max(|S1|, 1e-4) - log10 max(|S2|, 1e-4)| over all bins and notes."""
    return log_spec_mae(log_magnitude(target_mag), log_magnitude(predicted_mag))


def log_spec_mae(target_log: np.ndarray, predicted_log: np.ndarray) -> float:
    """:func:`spec_mae` of two :func:`log_magnitude` arrays."""
    return float(np.mean(np.abs(target_log - predicted_log)))


def spec_mae_silent(target_mag: np.ndarray, predicted_mag: np.ndarray) -> float:
    """The part of :func:`spec_mae` on the bins where the target is at the floor (digital silence: a sampled
    instrument above its samples' bandwidth or after its release), summed over those bins and divided by all;
    ``spec_mae - spec_mae_silent`` is the part on the bins where the target sounds."""
    target_log, predicted_log = log_magnitude(target_mag), log_magnitude(predicted_mag)
    silent = target_mag <= LOG_FLOOR
    return float(np.sum(np.abs(target_log - predicted_log), where=silent) / target_log.size)


def spec_sc(target_mag: np.ndarray, predicted_mag: np.ndarray) -> float:
    """Spectral convergence ||S1 - S2||_F / ||S1||_F, averaged over notes."""
    num = np.linalg.norm((target_mag - predicted_mag).reshape(len(target_mag), -1), axis=1)
    den = np.linalg.norm(target_mag.reshape(len(target_mag), -1), axis=1)
    return float(np.mean(num / np.maximum(den, LOG_FLOOR)))


def mfcc(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """13 MFCCs (librosa defaults otherwise, hop 256) of each note: (notes, 13, frames)."""
    import librosa

    return librosa.feature.mfcc(y=_as_notes(audio), sr=sample_rate, n_mfcc=N_MFCC, hop_length=STFT_HOP)


def mfcc_mae(target_mfcc: np.ndarray, predicted_mfcc: np.ndarray) -> float:
    """Mean absolute difference of two MFCC arrays."""
    return float(np.mean(np.abs(target_mfcc - predicted_mfcc)))


LOG_MEL_BANDS = 128
LOG_MEL_RANGE_DB = 80.0
TIMBRE_MFCC = 20  # coefficients 0..19; the distance compares 1..19 (0 is the level)


@functools.cache
def mel_filters(sample_rate: int) -> np.ndarray:
    """The 128 mel bands over the STFT's 513 bins (librosa's, float32): (bands, bins)."""
    import librosa  # loads in seconds: only when a metric needs it

    return librosa.filters.mel(sr=sample_rate, n_fft=STFT_N_FFT, n_mels=LOG_MEL_BANDS).astype(np.float32)


def mel_db(magnitude: np.ndarray, sample_rate: int) -> np.ndarray:
    """dB of the 128-band mel power spectrogram of a :func:`stft_magnitude` (notes, bins, frames)."""
    return 10.0 * np.log10(np.maximum(mel_filters(sample_rate) @ (magnitude * magnitude), 1e-12))


def log_mel_distance(target: np.ndarray, predicted: np.ndarray, sample_rate: int) -> float:
    """Mean |difference| in dB of two sounds' 128-band mel spectrograms (1024 / hop 256), both floored
    :data:`LOG_MEL_RANGE_DB` below the target's peak: a difference as the ear weighs frequency, where a
    linear-frequency score gives most of its bins to the top octaves."""
    return mel_db_distance(*(mel_db(stft_magnitude(audio), sample_rate) for audio in (target, predicted)))


def mel_db_distance(target_mel_db: np.ndarray, predicted_mel_db: np.ndarray) -> float:
    """:func:`log_mel_distance` of two :func:`mel_db` spectrograms."""
    frames = min(target_mel_db.shape[-1], predicted_mel_db.shape[-1])
    floor = target_mel_db.max() - LOG_MEL_RANGE_DB
    return float(np.mean(np.abs(np.maximum(target_mel_db[..., :frames], floor)
                                - np.maximum(predicted_mel_db[..., :frames], floor))))


def timbre_mfcc(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """MFCCs 1-19 (hop 256) of each note: what :func:`mfcc_distance` compares, (notes, 19, frames)."""
    import librosa

    return librosa.feature.mfcc(y=_as_notes(audio), sr=sample_rate, n_mfcc=TIMBRE_MFCC, hop_length=STFT_HOP)[..., 1:, :]


def mfcc_distance(target: np.ndarray, predicted: np.ndarray, sample_rate: int) -> float:
    """Mean |difference| of MFCCs 1-19 (hop 256; coefficient 0, the level, left out): timbre apart from
    loudness and fine pitch."""
    return timbre_distance(timbre_mfcc(target, sample_rate), timbre_mfcc(predicted, sample_rate))


def timbre_distance(target_mfcc: np.ndarray, predicted_mfcc: np.ndarray) -> float:
    """:func:`mfcc_distance` of two :func:`timbre_mfcc` arrays."""
    frames = min(target_mfcc.shape[-1], predicted_mfcc.shape[-1])
    return float(np.mean(np.abs(target_mfcc[..., :frames] - predicted_mfcc[..., :frames])))


@dataclass(frozen=True)
class AudioFeatures:
    """What the audio metrics need of one render, computed once and reused across comparisons: the paper's
    (magnitude, 13 MFCCs) and the distances the recordings are also reported with (mel dB, MFCCs 1-19)."""

    magnitude: np.ndarray
    mfcc: np.ndarray
    mel_db: np.ndarray
    timbre_mfcc: np.ndarray

    @classmethod
    def of(cls, audio: np.ndarray, sample_rate: int) -> AudioFeatures:
        """Features of a render of shape (notes, samples) or (samples,)."""
        magnitude = stft_magnitude(audio)
        return cls(magnitude, mfcc(audio, sample_rate), mel_db(magnitude, sample_rate), timbre_mfcc(audio, sample_rate))


def score(target: Voice, predicted: Voice, target_audio: AudioFeatures, predicted_audio: AudioFeatures) -> Scores:
    """The paper's five metrics for one predicted voice against its target, and the log-mel and MFCC 1-19 distances."""
    return Scores(
        num_mae=num_mae(target, predicted),
        cat_acc=cat_acc(target, predicted),
        spec_mae=spec_mae(target_audio.magnitude, predicted_audio.magnitude),
        spec_sc=spec_sc(target_audio.magnitude, predicted_audio.magnitude),
        mfcc_mae=mfcc_mae(target_audio.mfcc, predicted_audio.mfcc),
        log_mel_db=mel_db_distance(target_audio.mel_db, predicted_audio.mel_db),
        mfcc=timbre_distance(target_audio.timbre_mfcc, predicted_audio.timbre_mfcc),
    )
