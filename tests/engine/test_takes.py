"""The pitch several takes ask of a voice."""

from __future__ import annotations

import pytest

from engine.conditioning import REFERENCE_NOTE
from engine.takes import takes_pitch

C4 = 261.6256


def test_each_take_is_brought_to_the_reference_note_and_the_median_taken() -> None:
    f0s = [C4 / 2, C4, C4 * 2 ** (7 / 12) * 1.01]  # the last take 17 cents sharp
    assert takes_pitch(f0s, [REFERENCE_NOTE - 12, REFERENCE_NOTE, REFERENCE_NOTE + 7], REFERENCE_NOTE) == pytest.approx(C4)
    assert takes_pitch([C4, None], [REFERENCE_NOTE, REFERENCE_NOTE + 5], REFERENCE_NOTE) == pytest.approx(C4)  # half pitched


def test_a_pitch_heard_in_few_takes_of_an_unpitched_sound_is_not_asked() -> None:
    """An inharmonic sound whose one take a tracker heard at 46.6 Hz (note 70): no voice is tuned to 26 Hz."""
    notes = [40, 50, 60, 60, 60, 70]
    assert takes_pitch([None, None, None, None, None, 46.6], notes, REFERENCE_NOTE) is None
    assert takes_pitch([None] * 6, notes, REFERENCE_NOTE) is None
    assert takes_pitch([None, None, None, C4, C4, C4 * 2 ** (10 / 12)], notes, REFERENCE_NOTE) == pytest.approx(C4)
