"""Loudness and harmonic / percussive / sfx labels of real dexed-py renders."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from scipy.ndimage import median_filter as scipy_median

from models.analysis import (
    RMS_FLOOR_DB,
    analyse_voice,
    analyse_voices,
    hpss_masks,
    max_rms_db,
    median_filter,
)
from models.params import BY_NAME
from models.render import Renderer
from models.voice import Voice


def _set(voice: Voice, **values: int) -> Voice:
    return voice.replace({BY_NAME[name].index: value for name, value in values.items()})


SINE = Voice.init("SINE")
SILENT = _set(Voice.init("SILENT"), op1_output_level=0)
# A sine that decays in a fraction of a second: all attack.
BLIP = _set(Voice.init("BLIP"), op1_eg_rate2=70, op1_eg_level2=0, op1_eg_level3=0)
# Algorithm 1 with every modulator loud and detuned, OP6 with full feedback: inharmonic noise.
NOISE = _set(
    Voice.init("NOISE"), feedback=7, op2_output_level=99, op3_output_level=99, op4_output_level=99,
    op5_output_level=99, op6_output_level=99, op6_coarse=0, op6_fine=13, op5_coarse=7, op4_fine=41,
)


@pytest.mark.parametrize(
    ("voice", "label"), [(SINE, "harmonic"), (BLIP, "percussive"), (NOISE, "sfx"), (SILENT, None)]
)
def test_labels_follow_the_paper_rule(voice: Voice, label: str | None) -> None:
    analysis = analyse_voice(Renderer(), voice, label=True)
    assert analysis.label == label
    if label == "harmonic":
        assert analysis.harmonic_ratio is not None and analysis.harmonic_ratio > 0.9
    if label == "percussive":
        assert analysis.percussive_ratio is not None and analysis.percussive_ratio > 0.9


def test_loudness_of_a_sine_and_of_silence() -> None:
    renderer = Renderer()
    assert analyse_voice(renderer, SILENT, label=False).max_rms_db == RMS_FLOOR_DB
    sine = analyse_voice(renderer, SINE, label=False)
    assert sine.label is None and sine.harmonic_ratio is None
    # INIT voice peaks near 1.0: a sine's RMS is peak / sqrt(2), about -3 dB
    assert -4.0 < sine.max_rms_db < -2.0
    assert max_rms_db(np.full(4096, 0.1, dtype=np.float32)) == pytest.approx(-20.0, abs=1e-4)


def test_fast_median_equals_scipy_and_masks_equal_librosa_hpss() -> None:
    audio = Renderer().render(NOISE)
    magnitude = np.abs(librosa.stft(audio, n_fft=2048, hop_length=512))
    for axis in (0, 1):
        size = (31, 1) if axis == 0 else (1, 31)
        assert np.array_equal(median_filter(magnitude, 31, axis), scipy_median(magnitude, size=size, mode="reflect"))
    ours = hpss_masks(magnitude)
    theirs = librosa.decompose.hpss(magnitude, margin=3.0, mask=True)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def test_worker_processes_give_the_same_results_in_order() -> None:
    voices = [SINE, BLIP, SILENT]
    alone = analyse_voices(voices, label=True, workers=1)
    pooled = analyse_voices(voices, label=True, workers=2, chunk_size=1)
    assert pooled == alone
    assert [a.label for a in pooled] == ["harmonic", "percussive", None]


def test_analyse_voices_refuses_zero_workers() -> None:
    with pytest.raises(ValueError, match="workers \\(0\\)"):
        analyse_voices([SINE], label=False, workers=0)
