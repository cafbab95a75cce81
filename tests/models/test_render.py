"""Rendering voices with dexed-py: shapes, paper defaults, determinism, argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from dexed import DexedSynth, Patch

from models.params import BY_NAME
from models.render import MIN_SAMPLE_RATE, MULTI_NOTES, SAMPLE_RATE, SINGLE_NOTE, Renderer
from models.voice import Voice


def test_render_is_the_paper_note_as_finite_float32() -> None:
    renderer = Renderer()
    audio = renderer.render(Voice.init())
    assert (renderer.sample_rate, renderer.note_seconds, renderer.render_seconds) == (SAMPLE_RATE, 3.0, 4.0)
    assert audio.dtype == np.float32
    assert audio.shape == (renderer.samples,) == (4 * 22050,)
    assert np.isfinite(audio).all()
    held, released = audio[: 3 * 22050], audio[-2000:]
    assert np.abs(held).max() > 0.5  # the INIT voice sounds a full-level sine while held
    assert np.abs(released).max() < np.abs(held).max() / 100  # and has released by the end


def test_render_notes_stacks_one_row_per_note() -> None:
    renderer = Renderer()
    audio = renderer.render_notes(Voice.init(), MULTI_NOTES)
    assert audio.shape == (6, renderer.samples)
    assert np.array_equal(audio[3], renderer.render(Voice.init(), *MULTI_NOTES[3]))
    assert renderer.render_notes(Voice.init()).shape == (len(SINGLE_NOTE), renderer.samples)
    # velocity 42 vs 127 on the same note: the INIT voice is velocity-insensitive, pitch 40 vs 70 is not
    assert not np.array_equal(audio[0], audio[5])


def test_render_does_not_depend_on_what_was_rendered_before() -> None:
    loud = Voice.init().replace({BY_NAME["feedback"].index: 7, BY_NAME["op2_output_level"].index: 99})
    fresh = Renderer().render(Voice.init(), 50, 100)
    used = Renderer()
    used.render(loud, 70, 127)
    assert np.array_equal(used.render(Voice.init(), 50, 100), fresh)


@pytest.mark.parametrize(
    ("note", "velocity", "message"),
    [(128, 85, "MIDI note 128 out of range 0..127"), (60, 0, "velocity 0 out of range 1..127")],
)
def test_render_refuses_bad_notes(note: int, velocity: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Renderer().render(Voice.init(), note, velocity)


def test_renderer_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="need 0 < note <= render"):
        Renderer(note_seconds=5.0, render_seconds=4.0)
    with pytest.raises(ValueError, match="sample rate 0 Hz is below 16000 Hz"):
        Renderer(sample_rate=0)
    with pytest.raises(ValueError, match="sample rate 11025 Hz is below 16000 Hz, where dexed-py renders some voices silent"):
        Renderer(sample_rate=11025)
    with pytest.raises(ValueError, match="at least one"):
        Renderer().render_notes(Voice.init(), ())


def test_dexed_py_renders_voices_silent_below_the_lowest_rate(brass_voices: list[Voice]) -> None:
    """Why :data:`MIN_SAMPLE_RATE`: one synth at 11 025 Hz, the brass bank in order, falls silent on its last voices;
    at the lowest rate allowed every voice sounds. (When dexed-py plays them at 11 025 Hz, the floor can go.)"""

    def silent(sample_rate: int) -> list[int]:
        synth = DexedSynth(sample_rate)
        found = []
        for number, voice in enumerate(brass_voices):
            synth.load_patch(Patch.from_sysex(voice.vced + bytes([63])))
            if float(np.abs(np.asarray(synth.render(60, 85, 1.0, 1.0))).max()) < 1e-6:
                found.append(number)
        return found

    assert len(silent(11025)) >= 4
    assert silent(MIN_SAMPLE_RATE) == []
