"""The learnable representations: sizes, exact round trips, total decoding, layout metadata."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from voice_strategies import valid_voices

from models.errors import DexbridgeError
from models.params import (
    BY_NAME,
    CATEGORICAL,
    LEARNABLE,
    NUMERICAL,
    TRANSPOSE_INDEX,
    VOICE_PARAMS,
    Kind,
)
from models.representations import (
    DEFAULT_NAME,
    LEARNABLE_INDICES,
    NUMERICAL_MASK,
    REPRESENTATIONS,
    Representation,
    RepresentationError,
    get_representation,
)
from models.voice import Voice

NAMES = ("num", "numcat", "numcat++")
# The paper (Le Vaillant et al., DAFx 2021): the numerical parameters "numcat++" one-hot encodes (<= 32 steps).
ONE_HOT_NUMERICAL = {"feedback", "pitch_mod_sens"} | {
    f"op{op}_{field}"
    for op in range(1, 7)
    for field in ("coarse", "detune", "rate_scaling", "amp_mod_sens", "key_vel_sens")
}

representations = st.sampled_from([REPRESENTATIONS[name] for name in NAMES])


def any_vector(rep: Representation, dtype: type) -> st.SearchStrategy[np.ndarray]:
    """Vectors of any floats of the dtype: NaN, +-inf, subnormals, huge and negative values."""
    return arrays(dtype, rep.size, elements=st.floats(width=np.dtype(dtype).itemsize * 8))


@pytest.mark.parametrize(("name", "size"), [("num", 144), ("numcat", 224), ("numcat++", 610)])
def test_sizes_match_the_paper(name: str, size: int) -> None:
    rep = get_representation(name)
    assert rep.name == name
    assert rep.size == size
    assert rep.encode(Voice.init()).shape == (size,)


def test_registry_names() -> None:
    assert tuple(REPRESENTATIONS) == NAMES


def test_lookup_is_case_insensitive() -> None:
    assert get_representation("NumCat++") is REPRESENTATIONS["numcat++"]


def test_unknown_name_lists_the_choices() -> None:
    expected = r"unknown representation 'numcat\+'; choose one of num, numcat, numcat\+\+"
    with pytest.raises(RepresentationError, match=expected):
        get_representation("numcat+")
    assert issubclass(RepresentationError, DexbridgeError)
    assert issubclass(RepresentationError, ValueError)


@given(rep=representations, voice=valid_voices)
def test_every_valid_voice_round_trips_exactly(rep: Representation, voice: Voice) -> None:
    vector = rep.encode(voice)
    assert vector.dtype == np.float32
    assert vector.shape == (rep.size,)
    assert np.all((vector >= 0.0) & (vector <= 1.0))
    assert rep.decode(vector, template=voice) == voice


@given(rep=representations, voice=valid_voices)
def test_default_template_sets_transpose_and_name(rep: Representation, voice: Voice) -> None:
    decoded = rep.decode(rep.encode(voice))
    assert decoded[TRANSPOSE_INDEX] == 24
    assert decoded.name == DEFAULT_NAME.ljust(10)
    assert decoded.values[: len(LEARNABLE)] == voice.values[: len(LEARNABLE)]


@given(rep=representations, data=st.data())
def test_any_float64_vector_decodes_to_a_valid_voice(rep: Representation, data: st.DataObject) -> None:
    template = data.draw(valid_voices)
    decoded = rep.decode(data.draw(any_vector(rep, np.float64)), template=template)
    assert isinstance(decoded, Voice)  # Voice validates every range on construction
    assert decoded.values[TRANSPOSE_INDEX:] == template.values[TRANSPOSE_INDEX:]


@given(rep=representations, data=st.data())
def test_any_float32_vector_decodes_to_a_valid_voice(rep: Representation, data: st.DataObject) -> None:
    vector = data.draw(any_vector(rep, np.float32))
    assert isinstance(rep.decode(vector), Voice)


@given(rep=representations, voices=st.lists(valid_voices, max_size=6))
def test_batch_equals_per_item(rep: Representation, voices: list[Voice]) -> None:
    matrix = rep.encode_batch(voices)
    assert matrix.shape == (len(voices), rep.size)
    assert matrix.dtype == np.float32
    for row, voice in zip(matrix, voices, strict=False):
        np.testing.assert_array_equal(row, rep.encode(voice))
    noisy = matrix + np.float32(0.3) * np.sin(np.arange(matrix.size, dtype=np.float32)).reshape(matrix.shape)
    decoded = rep.decode_batch(noisy)
    assert decoded == [rep.decode(row) for row in noisy]
    np.testing.assert_array_equal(
        rep.decode_values(noisy).reshape(len(voices), len(VOICE_PARAMS)),
        np.array([v.values for v in decoded], dtype=np.int64).reshape(len(voices), len(VOICE_PARAMS)),
    )


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_infinities_decode_deterministically(name: str) -> None:
    rep = REPRESENTATIONS[name]
    lowest = tuple(spec.lo for spec in LEARNABLE)
    highest = tuple(spec.hi for spec in LEARNABLE)
    for fill, expected in ((np.nan, lowest), (-np.inf, lowest), (-1e300, lowest)):
        assert rep.decode(np.full(rep.size, fill)).values[: len(LEARNABLE)] == expected
    high = np.zeros(rep.size)
    high[rep.numerical_slots] = np.inf
    for group in rep.groups:
        high[group.stop - 1] = 1e300
    assert rep.decode(high).values[: len(LEARNABLE)] == highest


def test_scalars_quantise_to_the_nearest_step() -> None:
    rep = REPRESENTATIONS["num"]
    vector = rep.encode(Voice.init())
    slot = int(np.flatnonzero(np.array(rep.numerical_params) == BY_NAME["op1_output_level"].index)[0])
    vector[slot] = 50.4 / 99
    assert rep.decode(vector)["op1_output_level"] == 50
    vector[slot] = 50.6 / 99
    assert rep.decode(vector)["op1_output_level"] == 51


def test_one_hot_takes_the_argmax_and_nan_never_wins() -> None:
    rep = REPRESENTATIONS["numcat"]
    algorithm = next(g for g in rep.groups if g.index == BY_NAME["algorithm"].index)
    vector = rep.encode(Voice.init())
    vector[algorithm.slots] = -5.0
    vector[algorithm.start + 20] = 2.0
    vector[algorithm.start + 3] = np.nan
    assert rep.decode(vector)["algorithm"] == 20


@pytest.mark.parametrize("name", NAMES)
def test_wrong_shapes_are_refused(name: str) -> None:
    rep = REPRESENTATIONS[name]
    with pytest.raises(RepresentationError, match=rf"shape \({rep.size},\), got \({rep.size + 1},\)"):
        rep.decode(np.zeros(rep.size + 1))
    with pytest.raises(RepresentationError, match=rf"shape \(N, {rep.size}\), got \({rep.size},\)"):
        rep.decode_batch(np.zeros(rep.size))


def test_empty_batches() -> None:
    rep = REPRESENTATIONS["numcat++"]
    assert rep.encode_batch([]).shape == (0, rep.size)
    assert rep.decode_batch(np.zeros((0, rep.size))) == []


@pytest.mark.parametrize("name", NAMES)
def test_layout_covers_every_slot_and_every_learnable_param_once(name: str) -> None:
    rep = REPRESENTATIONS[name]
    params = list(rep.numerical_params) + [g.index for g in rep.groups]
    assert sorted(params) == [spec.index for spec in LEARNABLE]
    slots = list(rep.numerical_slots) + [s for g in rep.groups for s in range(g.start, g.stop)]
    assert sorted(slots) == list(range(rep.size))
    assert list(rep.numerical_params) == sorted(rep.numerical_params)
    assert len(rep.numerical_slots) == len(rep.numerical_params)
    assert all(g.classes == g.spec.steps for g in rep.groups)
    assert all(g.categorical == (g.spec.kind is Kind.CATEGORICAL) for g in rep.groups)
    with pytest.raises(ValueError, match="read-only"):
        rep.numerical_slots[0] = 1


def test_num_holds_every_parameter_as_a_scaled_scalar() -> None:
    rep = REPRESENTATIONS["num"]
    assert rep.groups == ()
    voice = Voice.init()
    expected = [(voice[spec.index] - spec.lo) / (spec.hi - spec.lo) for spec in LEARNABLE]
    np.testing.assert_allclose(rep.encode(voice)[rep.numerical_slots], expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["numcat", "numcat++"])
def test_categorical_groups_are_exactly_the_categorical_params(name: str) -> None:
    rep = REPRESENTATIONS[name]
    assert [g.index for g in rep.groups if g.categorical] == [spec.index for spec in CATEGORICAL]


def test_numcat_scalars_are_the_numerical_params() -> None:
    assert REPRESENTATIONS["numcat"].numerical_params == tuple(spec.index for spec in NUMERICAL)


def test_numcat_plus_one_hot_numericals_are_those_with_at_most_32_steps() -> None:
    rep = REPRESENTATIONS["numcat++"]
    one_hot = {g.spec.name for g in rep.groups if not g.categorical}
    assert one_hot == {spec.name for spec in NUMERICAL if spec.steps <= 32} == ONE_HOT_NUMERICAL
    assert all(VOICE_PARAMS[i].steps > 32 for i in rep.numerical_params)


def test_metric_helpers_split_learnable_params() -> None:
    np.testing.assert_array_equal(LEARNABLE_INDICES, [spec.index for spec in LEARNABLE])
    assert NUMERICAL_MASK.shape == (144,)
    assert int(NUMERICAL_MASK.sum()) == 122
    assert [int(i) for i in LEARNABLE_INDICES[~NUMERICAL_MASK]] == [spec.index for spec in CATEGORICAL]
    assert REPRESENTATIONS["num"].numerical_params == tuple(int(i) for i in LEARNABLE_INDICES)


def _decode_one_by_one(rep: Representation, vector: np.ndarray, template: Voice) -> tuple[int, ...]:
    """An independent oracle of the vectorised decode: one parameter at a time, in plain Python."""
    values = list(template.values)
    for index, slot in zip(rep.numerical_params, rep.numerical_slots, strict=True):
        spec, score = VOICE_PARAMS[index], float(vector[slot])
        unit = 0.0 if np.isnan(score) else min(max(score, 0.0), 1.0)
        values[index] = spec.lo + round(unit * (spec.hi - spec.lo))  # round(): ties to even, as np.rint
    for group in rep.groups:
        scores = [-np.inf if np.isnan(s) else float(s) for s in vector[group.slots]]
        values[group.index] = group.spec.lo + scores.index(max(scores))  # first of equal maxima
    return tuple(values)


@given(rep=representations, data=st.data())
def test_decode_matches_a_one_parameter_at_a_time_oracle(rep: Representation, data: st.DataObject) -> None:
    template = data.draw(valid_voices)
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    vector = data.draw(any_vector(rep, dtype)) if data.draw(st.booleans()) else data.draw(
        arrays(dtype, rep.size, elements=st.floats(-0.5, 1.5, width=np.dtype(dtype).itemsize * 8)))
    assert rep.decode(vector, template).values == _decode_one_by_one(rep, vector, template)
