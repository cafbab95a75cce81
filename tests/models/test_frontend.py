"""The front end on real dexed-py renders: shape, range, floor, dB scale, DFT agreement, export."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from onnx_check import LEGACY_EXPORTER_WARNINGS, run_exported

from models.config import FrontendConfig
from models.errors import ConfigError, ModelInputError
from models.frontend import Frontend, FrontendStats
from models.packing import unpack_bank
from models.render import MULTI_NOTES, SINGLE_NOTE, Renderer

CONFIG = FrontendConfig()
FULL_RANGE = FrontendStats(min_db=CONFIG.floor_db, max_db=0.0)


@pytest.fixture(scope="module")
def rendered(brass_path: Path) -> torch.Tensor:
    """(3 voices, 6 notes, 88 200 samples) of the brass bank, rendered by dexed-py."""
    voices = [voice for voice, _ in unpack_bank(brass_path.read_bytes()[6:4102])[:3]]
    renderer = Renderer()
    return torch.from_numpy(np.stack([renderer.render_notes(voice, MULTI_NOTES) for voice in voices]))


@pytest.mark.parametrize("notes", [SINGLE_NOTE, MULTI_NOTES], ids=["1-note", "6-notes"])
def test_shape_and_range_with_dataset_stats(rendered: torch.Tensor, notes: tuple[tuple[int, int], ...]) -> None:
    audio = rendered[:, : len(notes)]
    probe = Frontend(CONFIG, FULL_RANGE)
    stats = FrontendStats.from_db_arrays(probe.spectrogram_db(voice[None]) for voice in audio)
    spectrogram = Frontend(CONFIG, stats)(audio)
    assert spectrogram.shape == (3, len(notes), 257, 345)
    assert spectrogram.shape[2:] == (CONFIG.n_mels, CONFIG.num_frames)
    assert spectrogram.dtype == torch.float32
    assert spectrogram.min().item() == pytest.approx(-1.0, abs=1e-6)
    assert spectrogram.max().item() == pytest.approx(1.0, abs=1e-6)


def test_floor_is_respected() -> None:
    silence = torch.zeros(2, 1, CONFIG.num_samples)
    frontend = Frontend(CONFIG, FULL_RANGE)
    assert torch.all(frontend.spectrogram_db(silence) == CONFIG.floor_db)
    assert torch.all(frontend(silence) == -1.0)
    quiet = torch.full((1, 1, CONFIG.num_samples), 1e-9)
    assert frontend.spectrogram_db(quiet).min().item() == CONFIG.floor_db


def test_magnitude_in_db_doubling_adds_6_db() -> None:
    time = torch.arange(CONFIG.num_samples) / CONFIG.sample_rate
    sine = torch.sin(2 * math.pi * 440.0 * time).reshape(1, 1, -1) * 0.25
    frontend = Frontend(CONFIG, FULL_RANGE)
    low, high = frontend.spectrogram_db(sine), frontend.spectrogram_db(2 * sine)
    audible = low > CONFIG.floor_db + 40
    assert audible.sum() > 1000
    gain = high[audible] - low[audible]
    torch.testing.assert_close(gain, torch.full_like(gain, 20 * math.log10(2)), atol=1e-3, rtol=0)
    # A sine of amplitude A peaks near 20 log10(A / 2) dB (|STFT| is divided by the window sum).
    assert abs(low.max().item() - 20 * math.log10(0.25 / 2)) < 3.0


def test_matches_the_papers_librosa_pipeline(rendered: torch.Tensor) -> None:
    audio = rendered[0, :2].numpy()
    window = np.hanning(CONFIG.n_fft)  # symmetric Hann, as torch.hann_window(periodic=False)
    stft = librosa.stft(audio, n_fft=CONFIG.n_fft, hop_length=CONFIG.hop, window=window, pad_mode="constant")
    mel = librosa.feature.melspectrogram(
        S=np.abs(stft) / window.sum(), sr=CONFIG.sample_rate, n_fft=CONFIG.n_fft, n_mels=CONFIG.n_mels, norm=None
    )
    expected = 20 * np.log10(np.maximum(mel, 10 ** (CONFIG.floor_db / 20)))
    ours = Frontend(CONFIG, FULL_RANGE).spectrogram_db(rendered[:1, :2])[0].numpy()
    assert ours.shape == expected.shape == (2, 257, 345)
    loud = expected > -80
    assert np.abs(ours - expected)[loud].max() < 5e-3  # dB
    assert np.abs(ours - expected).max() < 0.05


def test_conv_dft_matches_torch_stft(rendered: torch.Tensor) -> None:
    unfloored = dataclasses.replace(CONFIG, floor_db=-300.0)
    fft = Frontend(unfloored, FULL_RANGE).spectrogram_db(rendered)
    conv = Frontend(unfloored, FULL_RANGE, exportable=True).spectrogram_db(rendered)
    linear_fft, linear_conv = 10 ** (fft / 20), 10 ** (conv / 20)
    assert (linear_fft - linear_conv).abs().max() <= 1e-4 * linear_fft.max()
    # Normalised: within 1e-4 where the signal is above -60 dB; near the floor the two float32
    # DFTs round differently by a few hundredths of a dB.
    normalised_fft = Frontend(CONFIG, FULL_RANGE)(rendered)
    normalised_conv = Frontend(CONFIG, FULL_RANGE, exportable=True)(rendered)
    loud = fft > -60
    assert (normalised_fft - normalised_conv)[loud].abs().max() <= 1e-4
    assert (normalised_fft - normalised_conv).abs().max() <= 1e-3


def test_stats_travel_in_the_state_dict() -> None:
    trained = Frontend(CONFIG, FrontendStats(-118.5, 3.25))
    state = trained.state_dict()
    assert set(state) == {"min_db", "max_db"}  # everything else is rebuilt from the config
    loaded = Frontend(CONFIG, FULL_RANGE, exportable=True)
    loaded.load_state_dict(state)
    assert loaded.stats == FrontendStats(-118.5, 3.25)


def test_stats_validation() -> None:
    arrays = [np.array([-120.0, -3.0]), torch.tensor([[-50.0, 1.5]])]
    assert FrontendStats.from_db_arrays(arrays) == FrontendStats(-120.0, 1.5)
    with pytest.raises(ConfigError, match="min_db < max_db"):
        FrontendStats(0.0, 0.0)
    with pytest.raises(ConfigError, match="no dB arrays"):
        FrontendStats.from_db_arrays([])
    with pytest.raises(ConfigError, match="#1 is empty or holds NaN"):
        FrontendStats.from_db_arrays([np.zeros(3), np.array([np.nan])])


def test_bad_audio_shapes_are_refused() -> None:
    frontend = Frontend(CONFIG, FULL_RANGE)
    with pytest.raises(ModelInputError, match=r"audio shape \(88200,\): expected \(batch, notes, samples\)"):
        frontend(torch.zeros(CONFIG.num_samples))
    with pytest.raises(ModelInputError, match="shorter than 513"):
        frontend(torch.zeros(1, 1, 100))
    with pytest.raises(ModelInputError, match="audio dtype torch.float64: the front end computes in torch.float32"):
        frontend(torch.zeros(1, 1, CONFIG.num_samples, dtype=torch.float64))


@pytest.mark.filterwarnings(*LEGACY_EXPORTER_WARNINGS)
def test_exportable_frontend_runs_in_onnxruntime(rendered: torch.Tensor, tmp_path: Path) -> None:
    frontend = Frontend(CONFIG, FULL_RANGE, exportable=True)
    exported = run_exported(frontend, rendered[:1, :2], rendered[:, :2], tmp_path / "frontend.onnx")
    expected = frontend(rendered[:, :2]).numpy()
    loud = frontend.spectrogram_db(rendered[:, :2]).numpy() > -60
    assert exported.shape == expected.shape
    assert np.abs(exported - expected)[loud].max() <= 1e-4
    assert np.abs(exported - expected).max() <= 1e-3


@pytest.mark.parametrize("exportable", [False, True], ids=["stft", "conv-dft"])
def test_frontend_exports_with_torch_export(rendered: torch.Tensor, exportable: bool) -> None:
    frontend = Frontend(CONFIG, FULL_RANGE, exportable=exportable)
    batch = torch.export.Dim("batch", min=1, max=256)
    program = torch.export.export(frontend, (rendered[:2, :2],), dynamic_shapes=({0: batch},))
    torch.testing.assert_close(program.module()(rendered[:, :2]), frontend(rendered[:, :2]))
