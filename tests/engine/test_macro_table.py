"""Macros keep the voice's structure and move it in small steps: the shipped checkpoint's axes swept around
voices of the brass bank, and the table's rules on voices built to test them."""

from __future__ import annotations

import numpy as np
import pytest

from engine.eval.macros import structure
from engine.macro_table import MOVED, POSITIONS, MacroTable
from engine.runtime import Engine
from models.checkpoint import DEFAULT_CHECKPOINT
from models.errors import ModelInputError
from models.params import BY_NAME, VOICE_PARAMS
from models.voice import Voice

SWEPT = (0, 6, 9, 12, 20)  # BRASS 1, PERCBRASS, BC BRSENSM, HORNS 3, TRUMPET
MOST_CHANGED = MOVED  # parameters a 0.05 step of one macro may change (measured: 10-16, docs/morphing.md)


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.load(DEFAULT_CHECKPOINT, backend="torch", search=False)


@pytest.mark.parametrize("index", SWEPT)
def test_every_macro_keeps_the_structure_and_a_small_step_makes_a_small_change(shipped: Engine, brass_voices: list[Voice],
                                                                               index: int) -> None:
    origin = brass_voices[index]
    table = shipped.macro_table(origin)
    assert table.count == shipped.macro_count == 8
    for axis in range(table.count):
        voices = [table.voice_at(np.eye(8)[axis] * value) for value in np.round(np.arange(-1.0, 1.001, 0.05), 10)]
        assert voices[20] == origin
        assert all(structure(voice) == structure(origin) for voice in voices), f"axis {axis}: the structure changed"
        changed = [len(a.diff(b)) for a, b in zip(voices, voices[1:], strict=False)]
        assert max(changed) <= MOST_CHANGED, f"axis {axis}: a 0.05 step changed {max(changed)} parameters"
        assert voices[0] != origin and voices[-1] != origin  # the macro does move the sound


def test_silent_operators_stay_untouched_sounding_ones_keep_sounding_and_an_axis_moves_few_parameters(
        brass_voices: list[Voice]) -> None:
    level6, level5, feedback = (BY_NAME[name].index for name in ("op6_output_level", "op5_output_level", "feedback"))
    origin = brass_voices[0].replace({level6: 0, level5: 3, feedback: 3})
    pulled = [p.index for p in VOICE_PARAMS if p.op == 6] + [level5, feedback, BY_NAME["algorithm"].index]
    decoded = np.tile(np.asarray(origin.values, dtype=np.float64), (1, POSITIONS, 1))
    decoded[0][:, pulled] += np.linspace(-60, 60, POSITIONS)[:, None]  # pulled down at -1, up at +1
    table = MacroTable.of(origin, decoded)
    low, high = table.voice_at([-1.0]), table.voice_at([1.0])
    assert set(origin.diff(low)) == set(origin.diff(high)) == {level5, feedback}  # op 6 is silent, the algorithm held
    assert low[level5] == 1 and high[level5] == 63  # 1 at the least: it still sounds
    assert table.voice_at([0.0]) is origin and table.voice_at([0.5])[level5] == 33
    everything = MacroTable.of(brass_voices[0], np.tile(np.asarray(brass_voices[0].values, dtype=np.float64), (1, POSITIONS, 1))
                               + np.linspace(-60, 60, POSITIONS)[None, :, None])
    assert np.count_nonzero(np.abs(everything.deltas[0]).max(axis=0)) == MOVED  # the parameters the axis moves most
    with pytest.raises(ModelInputError, match=r"macro values \[1.5\]: at most 1 values in -1..1"):
        table.voice_at([1.5])
