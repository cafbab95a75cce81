"""The baselines' building blocks: the mean voice and the exact spectrogram search."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import EvaluationError
from models.evaluate import MEAN_VOICE_NAME, SpectrogramIndex, mean_voice, pooled_features
from models.params import BY_NAME
from models.voice import Voice


def test_mean_voice_averages_numbers_and_takes_the_mode_of_choices() -> None:
    base = Voice.init()
    algorithm, feedback = BY_NAME["algorithm"].index, BY_NAME["feedback"].index
    voices = [base.replace({algorithm: 4, feedback: 0}), base.replace({algorithm: 4, feedback: 7}),
              base.replace({algorithm: 30, feedback: 6})]
    mean = mean_voice(voices)
    assert mean[algorithm] == 4  # mode, not the mean 12.67
    assert mean[feedback] == 4  # round(13 / 3 = 4.33)
    assert mean.name == MEAN_VOICE_NAME
    with pytest.raises(EvaluationError, match="at least one training voice"):
        mean_voice([])


def test_pooling_averages_2x2_blocks_and_crops_odd_edges() -> None:
    db = np.arange(2 * 1 * 5 * 4, dtype=np.float32).reshape(2, 1, 5, 4)
    features = pooled_features(db)
    assert features.shape == (2, 2 * 2)
    assert features[0, 0] == pytest.approx(db[0, 0, :2, :2].mean())


def test_index_returns_the_exact_nearest_item() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 40)).astype(np.float32)
    queries = train[[7, 123, 299]] + rng.normal(scale=0.01, size=(3, 40)).astype(np.float32)
    index = SpectrogramIndex(train)
    assert index.nearest(queries).tolist() == [7, 123, 299]
    far = rng.normal(size=(20, 40)).astype(np.float32)  # no planted answer: agree with brute force
    assert index.nearest(far).tolist() == np.argmin(((far[:, None] - train[None]) ** 2).sum(-1), axis=1).tolist()
    with pytest.raises(EvaluationError, match="at least one training spectrogram"):
        SpectrogramIndex(np.empty((0, 40), np.float32))
