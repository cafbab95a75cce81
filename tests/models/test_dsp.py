"""models.dsp: the shared STFT and frame RMS give librosa's numbers bit for bit where callers ask for them, the
STFT power its squares in float32; percentiles name numpy's."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from models import dsp


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return (0.3 * np.random.default_rng(0).standard_normal((3, 9000))).astype(np.float32)


def test_stft_is_librosas_bit_for_bit(noise: np.ndarray) -> None:
    expected = np.abs(librosa.stft(noise, n_fft=1024, hop_length=256))
    found = dsp.stft_magnitude(noise, 1024, 256, bins_first=True)
    assert found.dtype == expected.dtype and found.flags.f_contiguous == expected.flags.f_contiguous
    assert np.array_equal(found, expected)
    assert np.array_equal(dsp.stft_magnitude(noise, 1024, 256), np.swapaxes(expected, -1, -2))


def test_stft_power_in_float32_is_the_squared_magnitude(noise: np.ndarray) -> None:
    import scipy.fft
    from scipy.signal import get_window

    window = get_window("hann", 1024, fftbins=True).astype(np.float32)
    power = dsp.stft_power(noise, 1024, 256, window, fft=scipy.fft.rfft)
    assert power.dtype == np.float32 and power.shape == (3, 36, 513)  # (notes, frames, bins)
    expected = np.square(dsp.stft_magnitude(noise, 1024, 256).astype(np.float64))
    np.testing.assert_allclose(power, expected, rtol=1e-4, atol=1e-6 * expected.max())


@pytest.mark.parametrize("kind", [np.float32, np.float64])
def test_log_scaled_is_a_floored_log_in_the_values_precision(kind: type) -> None:
    values = np.array([0.0, 1e-9, 1e-3, 1.0, 250.0], dtype=kind)
    found = dsp.log_scaled(values, 1e-6, 20.0 / np.log(10.0))
    assert found.dtype == kind and values[0] == 0.0  # a new array, the values untouched
    np.testing.assert_allclose(found, 20.0 * np.log10(np.maximum(values.astype(np.float64), 1e-6)), rtol=1e-6, atol=1e-5)


def test_frame_rms_is_librosas_bit_for_bit(noise: np.ndarray) -> None:
    signal = noise[0].astype(np.float64)
    expected = librosa.feature.rms(y=signal, frame_length=2048, hop_length=512)[0]
    assert np.array_equal(dsp.frame_rms(signal, 2048, 512, dtype=np.float32), expected)
    assert np.array_equal(dsp.frame_rms_db(signal, 2048, 512, dtype=np.float32), 20.0 * np.log10(np.maximum(expected, 1e-12)))


def test_frames_centre_and_fill() -> None:
    signal = np.arange(1.0, 301.0)
    assert dsp.frames(signal, 512, 256).shape == (2, 512)  # librosa's count: 1 + n // hop
    filled = dsp.frames(signal, 512, 256, fill=True)
    assert filled.shape == (3, 512) and filled[0, 256] == 1.0
    assert dsp.frames(signal, 100, 50, center=False).shape == (5, 100)


def test_percentiles_name_numpys() -> None:
    samples = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    assert dsp.percentiles(samples) == {"p50": 3.5, "p99": float(np.percentile(samples, 99))}
    assert dsp.percentiles(samples, (95, 5)) == {"p95": float(np.percentile(samples, 95)), "p5": float(np.percentile(samples, 5))}
    ordered = sorted(samples)
    assert dsp.percentiles(samples, method="higher") == {"p50": ordered[3], "p99": ordered[5]}


def test_spectral_flatness_is_librosas(noise: np.ndarray) -> None:
    magnitude = dsp.stft_magnitude(noise[0], 1024, 256, bins_first=True)
    magnitude[:, :10] = 0.0
    magnitude[5, :10] = 1.0  # a single partial: flat nowhere
    expected = librosa.feature.spectral_flatness(S=magnitude)[0]
    found = dsp.spectral_flatness(magnitude)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-9)
    assert found[:10].max() < 0.01 < 0.5 < found[10:].min()
