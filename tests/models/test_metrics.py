"""The paper's metrics on real dexed-py renders."""

from __future__ import annotations

import numpy as np
import pytest

from models import dsp
from models.metrics import (
    AudioFeatures,
    Scores,
    cat_acc,
    log_magnitude,
    num_mae,
    score,
    spec_mae,
    spec_mae_silent,
    spec_sc,
    stft_magnitude,
)
from models.params import BY_NAME, CATEGORICAL, NUMERICAL
from models.render import Renderer
from models.voice import Voice

SR = 22_050


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(sample_rate=SR)


def test_identical_voices_score_perfectly(renderer: Renderer) -> None:
    voice = Voice.init()
    feats = AudioFeatures.of(renderer.render(voice), SR)
    s = score(voice, voice, feats, feats)
    assert s == Scores(num_mae=0.0, cat_acc=1.0, spec_mae=0.0, spec_sc=0.0, mfcc_mae=0.0, log_mel_db=0.0, mfcc=0.0)


def test_parameter_metrics_count_each_kind() -> None:
    a = Voice.init()
    b = a.replace({BY_NAME["op1_output_level"].index: 0})  # 99 -> 0: one numerical fully off
    assert num_mae(a, b) == pytest.approx(1 / len(NUMERICAL))
    assert cat_acc(a, b) == 1.0
    c = a.replace({BY_NAME["algorithm"].index: 5})
    assert cat_acc(a, c) == pytest.approx(1 - 1 / len(CATEGORICAL))


def test_audio_metrics_grow_with_the_difference(renderer: Renderer) -> None:
    base = Voice.init()
    near = base.replace({BY_NAME["op1_fine"].index: 2})
    far = base.replace({BY_NAME["op1_coarse"].index: 7, BY_NAME["op2_output_level"].index: 99})
    f = {k: AudioFeatures.of(renderer.render(v), SR) for k, v in (("base", base), ("near", near), ("far", far))}
    assert 0 < spec_mae(f["base"].magnitude, f["near"].magnitude) < spec_mae(f["base"].magnitude, f["far"].magnitude)
    assert 0 < spec_sc(f["base"].magnitude, f["near"].magnitude) < spec_sc(f["base"].magnitude, f["far"].magnitude)
    near_scores, far_scores = (score(base, v, f["base"], f[k]) for k, v in (("near", near), ("far", far)))
    assert 0 < near_scores.log_mel_db < far_scores.log_mel_db and 0 < near_scores.mfcc < far_scores.mfcc


def test_mean_of_scores() -> None:
    a = Scores(0.1, 1.0, 1.0, 0.5, 2.0, 4.0, 5.0)
    b = Scores(0.3, 0.0, 3.0, 1.5, 4.0, 6.0, 7.0)
    assert Scores.mean([a, b]) == Scores(0.2, 0.5, 2.0, 1.0, 3.0, 5.0, 6.0)
    assert np.isclose(Scores.mean([a]).num_mae, 0.1)


def test_the_silent_part_of_spec_mae_is_where_the_target_is_at_the_floor() -> None:
    target = np.array([[[0.0, 1.0], [0.0, 10.0]]])  # two silent bins, two sounding
    predicted = np.array([[[0.01, 1.0], [0.0, 1.0]]])  # off by 2 on a silent bin, by 1 on a sounding one
    assert spec_mae(target, predicted) == pytest.approx(3 / 4)
    assert spec_mae_silent(target, predicted) == pytest.approx(2 / 4)
    assert spec_mae_silent(target, target) == 0.0


def test_a_note_cut_to_digital_silence_differs_from_its_render_where_it_is_silent(renderer: Renderer) -> None:
    played = renderer.render(Voice.init())
    cut = played.copy()
    cut[SR:] = 0.0  # the recording stops after one second; the render sounds on
    recorded, rendered = stft_magnitude(cut), stft_magnitude(played)
    total, silent = spec_mae(recorded, rendered), spec_mae_silent(recorded, rendered)
    assert 0.9 * total < silent <= total  # all but the frames that straddle the cut


def test_the_log_magnitude_is_log10_in_the_input_precision_and_the_stft_numpys() -> None:
    """The fast paths (the natural log scaled, SciPy's FFT) compute what log10 and NumPy's FFT compute."""
    magnitude = np.random.default_rng(0).random((2, 513, 40)).astype(np.float32) * 10.0
    magnitude[0, :5] = 0.0
    for values in (magnitude, magnitude.astype(np.float64)):
        found = log_magnitude(values)
        assert found.dtype == values.dtype
        np.testing.assert_allclose(found, np.log10(np.maximum(values, 1e-4)), rtol=0, atol=1e-6)
    audio = np.random.default_rng(1).standard_normal(22050).astype(np.float32)
    expected = np.swapaxes(np.abs(np.fft.rfft(np.hanning(1025)[:-1].astype(np.float32)
                                              * dsp.frames(audio, 1024, 256), axis=-1)), -1, -2)
    np.testing.assert_allclose(stft_magnitude(audio)[0], expected, rtol=1e-4, atol=1e-3)
