"""The multi-start search on dexed-py renders of a real bank, with real pitch measurements."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft

from engine.conditioning import REFERENCE_NOTE
from engine.pitch import F0Estimate, estimate_f0
from engine.search import DRIFT_CENTS, SCALING, Found, SearchResult, VoiceSearch, holds_pitch, mutate
from engine.search_score import SUBSONIC_WEIGHT, cepstrum, onset_aligned, score_renders, spectra, subsonic_share, targets_of
from engine.takes import Take
from engine.tuning import Tuning, tune
from models.metrics import log_magnitude, mel_db, spec_mae, stft_magnitude
from models.params import BY_NAME, TRANSPOSE_CENTRE, TRANSPOSE_INDEX, VOICE_PARAMS
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice

C4 = 261.6256


@pytest.fixture(scope="module")
def search() -> VoiceSearch:
    return VoiceSearch(SAMPLE_RATE, 4.0)


def _recording(voice: Voice) -> np.ndarray:
    return Renderer().render(voice, REFERENCE_NOTE)


def _takes(voice: Voice) -> list[Take]:
    return [Take(_recording(voice), SAMPLE_RATE, REFERENCE_NOTE, 85)]


@pytest.mark.parametrize("cma_up_to", [40, 0], ids=["cma-es", "one-plus-one-es"])
def test_the_search_improves_on_a_wrong_start_and_is_deterministic(search: VoiceSearch, brass_voices: list,
                                                                   cma_up_to: int) -> None:
    target = brass_voices[0]
    start = target.replace({BY_NAME["op1_output_level"].index: 60, BY_NAME["op2_eg_rate1"].index: 20})
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    runs = [search.run(_takes(target), f0, [(start, "network")], budget_ms=math.inf, max_renders=40, seed=3,
                       cma_up_to=cma_up_to) for _ in range(2)]
    assert runs[0].best.voice == runs[1].best.voice and runs[0].best.score == runs[1].best.score
    assert runs[0].renders >= 40 and runs[0].best.score < runs[0].start.score
    assert runs[0].best.source == "network + search"
    assert [f.score for f in runs[0].found] == sorted((f.score for f in runs[0].found), reverse=True)


def test_the_closest_start_wins_and_is_reported_first(search: VoiceSearch, brass_voices: list) -> None:
    streamed: list[Found] = []
    target = brass_voices[4]
    result = search.run(_takes(target), None, [(brass_voices[9], "network"), (target, "library: exact")],
                        budget_ms=math.inf, max_renders=5, on_better=streamed.append)  # first: a score; the other:
    assert result.renders == 4 and result.best.source == "library: exact"  # screened, scored; the answer: its pitch
    assert result.best.score == pytest.approx(0.0, abs=1e-6)
    assert [f.source for f in streamed] == ["network", "library: exact"]


def test_a_recording_with_no_pitch_measures_the_answer_alone(search: VoiceSearch, brass_voices: list) -> None:
    streamed: list[Found] = []
    result = search.run(_takes(brass_voices[2]), None, [(brass_voices[9], "network")], budget_ms=math.inf, max_renders=30,
                        seed=0, on_better=streamed.append)
    assert all(found.tuning.voice_f0_hz is None for found in streamed)  # no candidate measured: nothing depends on it
    reported = tune(result.best.voice, None, search.measure_pitch).voice_f0_hz
    assert reported is not None and result.best.tuning.voice_f0_hz == reported
    assert result.best.tuning.input_f0_hz is None and result.best.voice == streamed[-1].voice


class _HeardOtherwise(VoiceSearch):
    """A search whose neural check hears the chosen voices (centred) otherwise than their partials: what a voice
    whose loud partials sound an octave above its weak fundamental does, here on plain brass voices."""

    def __init__(self) -> None:
        super().__init__(SAMPLE_RATE, 4.0)
        self.otherwise: set[tuple[int, ...]] = set()

    def measure_pitch(self, voice: Voice, checked: bool = True) -> F0Estimate:
        measured = super().measure_pitch(voice, checked)
        if checked and voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE}).values in self.otherwise:
            return F0Estimate(None, measured.voiced_fraction, measured.harmonicity, "unpitched: ambiguous (chosen)")
        return measured


def test_the_answer_is_the_latest_improvement_a_listener_hears_in_tune(brass_voices: list) -> None:
    target = brass_voices[0]
    start = target.replace({BY_NAME["op1_output_level"].index: 60, BY_NAME["op2_eg_rate1"].index: 20})
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    search = _HeardOtherwise()

    def run() -> tuple[SearchResult, list[Voice]]:
        result = search.run(_takes(target), f0, [(start, "network")], budget_ms=math.inf, max_renders=60, seed=3,
                            cma_up_to=0)
        return result, [found.voice for found in result.found if found.source == "network + search"]

    alike, improvements = run()
    assert len(improvements) >= 5 and alike.best.voice == improvements[-1]  # the check hears every voice alike
    centred = [voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE}).values for voice in improvements]
    for first_otherwise in (len(improvements) - 1, 3, 1, 0):
        search.otherwise = set(centred[first_otherwise:])
        checked, searched = run()
        assert searched == improvements  # the search judged its improvements by their partials alone
        expected = improvements[first_otherwise - 1] if first_otherwise else alike.found[0].voice  # else the start
        assert checked.best.voice == expected and checked.renders > alike.renders, first_otherwise
        heard = search.measure_pitch(expected)  # the answer's pitch as heard: played, tracked, checked
        assert checked.best.tuning.voice_f0_hz == heard.f0_hz and checked.best.tuning.in_tune


def test_a_search_that_reaches_the_recording_stops_there(search: VoiceSearch, brass_voices: list) -> None:
    target = brass_voices[4]
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    result = search.run(_takes(target), f0, [(brass_voices[9], "network"), (target, "library: exact")],
                        budget_ms=math.inf, max_renders=100, seed=0)
    assert result.best.voice == target and result.best.score == 0.0 and result.best.playable
    assert result.renders < 20  # the starts' renders and pitch checks, none of the 100 spent on mutations


def test_a_start_an_octave_off_is_tuned_before_it_is_scored(search: VoiceSearch) -> None:
    octave_up = Voice.init().replace({BY_NAME["op1_coarse"].index: 2})
    result = search.run(_takes(Voice.init()), C4, [(octave_up, "network")], budget_ms=0.0)
    assert result.best.voice[TRANSPOSE_INDEX] == TRANSPOSE_CENTRE - 12 and result.best.tuning.in_tune
    assert result.best.score < 0.05


def test_a_voice_that_cannot_play_the_pitch_loses_to_one_that_can() -> None:
    pitched = Found(Voice.init(), 0.9, "network", Tuning(Voice.init(), C4, C4, 0.0))
    unpitched = Found(Voice.init(), 0.1, "library: bell", Tuning(Voice.init(), C4, None, None, pitch="voice unpitched"))
    assert pitched.playable and not unpitched.playable
    assert sorted([unpitched, pitched], key=lambda f: (not f.playable, f.score))[0] is pitched


def test_the_time_budget_bounds_the_search(search: VoiceSearch, brass_voices: list) -> None:
    result = search.run(_takes(brass_voices[2]), None, [(Voice.init(), "network")], budget_ms=80.0, seed=0)
    assert result.elapsed_ms < 80.0 + 60.0  # at most one render and pitch check past the estimate
    assert result.best.score <= result.start.score


def test_a_stop_request_ends_the_search(search: VoiceSearch, brass_voices: list) -> None:
    result = search.run(_takes(brass_voices[2]), None, [(Voice.init(), "network")], budget_ms=math.inf,
                        should_stop=lambda: True)
    assert result.renders <= 2 and result.found == [result.start] and result.best.voice == result.start.voice


def test_subsonic_energy_is_measured() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    assert subsonic_share(np.sin(2 * np.pi * 5.0 * t), SAMPLE_RATE) > 0.99
    assert subsonic_share(np.sin(2 * np.pi * 440.0 * t), SAMPLE_RATE) < 0.01


def test_the_scores_spectrograms_are_the_metrics_within_float32_rounding(brass_voices: list) -> None:
    audio = Renderer().render(brass_voices[2], 60, 85)
    magnitude = stft_magnitude(audio)
    heard = spectra(audio, SAMPLE_RATE)
    for ours, metrics in ((heard.log_magnitude, log_magnitude(magnitude.copy())[0].T),
                          (heard.mel_db / 20.0, mel_db(magnitude, SAMPLE_RATE)[0].T / 20.0)):  # both in log10 units
        assert ours.shape == metrics.shape and ours.dtype == np.float32
        near_peak = metrics > metrics.max() - 3.0  # within 60 dB of the peak; far below, float32's rounding shows
        assert np.abs(ours - metrics)[near_peak].max() < 1e-3 and np.abs(ours - metrics).mean() < 1e-4
    other = Renderer().render(brass_voices[5], 60, 85)
    target = targets_of([Take(audio, SAMPLE_RATE, 60, 85)], SAMPLE_RATE, "spec")
    played = onset_aligned(other, SAMPLE_RATE)
    thumps = SUBSONIC_WEIGHT * max(0.0, subsonic_share(played, SAMPLE_RATE) - subsonic_share(audio, SAMPLE_RATE))
    assert score_renders(Renderer(), brass_voices[5], target) == pytest.approx(
        spec_mae(magnitude, stft_magnitude(played)) + thumps, rel=1e-4)


def test_the_envelope_score_hears_how_long_a_note_rings() -> None:
    held = Voice.init()  # a sine held at full level until the key is released at 3 s
    dies = held.replace({BY_NAME["op1_eg_rate2"].index: 60, BY_NAME["op1_eg_level2"].index: 0,
                         BY_NAME["op1_eg_level3"].index: 0})  # the same sine, gone within half a second
    renderer = Renderer()
    takes = _takes(held)

    def envelope_term(voice: Voice) -> float:
        return (score_renders(renderer, voice, targets_of(takes, SAMPLE_RATE, "spec+mel+env"))
                - score_renders(renderer, voice, targets_of(takes, SAMPLE_RATE, "spec+mel")))

    assert envelope_term(held) == pytest.approx(0.0, abs=1e-6)
    assert envelope_term(dies) > 0.8  # more than 16 dB apart on average over the 4 s


def test_the_mfcc_score_hears_the_spectral_envelope() -> None:
    sine = Voice.init()
    bright = sine.replace({BY_NAME["op2_output_level"].index: 80})  # op 2 modulates op 1: partials up the spectrum
    renderer = Renderer()
    takes = _takes(sine)
    targets = {score: targets_of(takes, SAMPLE_RATE, score) for score in ("spec+mel", "spec+mel+mfcc")}
    assert targets["spec+mel+mfcc"][0].cepstrum.shape[-1] == 19 and targets["spec+mel"][0].cepstrum is None

    def mfcc_term(voice: Voice) -> float:
        return score_renders(renderer, voice, targets["spec+mel+mfcc"]) - score_renders(renderer, voice, targets["spec+mel"])

    assert mfcc_term(sine) == pytest.approx(0.0, abs=1e-6)
    assert mfcc_term(bright) > 0.05
    assert np.allclose(cepstrum(np.full((4, 128), -30.0)), 0.0, atol=1e-9)  # a flat spectrum has no envelope
    mel = np.random.default_rng(0).uniform(-80.0, 0.0, (5, 128))
    np.testing.assert_allclose(cepstrum(mel), scipy.fft.dct(mel, norm="ortho", axis=-1)[..., 1:20], atol=1e-3)


def test_worker_processes_find_the_same_voice_as_one_thread(search: VoiceSearch, brass_voices: list) -> None:
    from engine.render_pool import RenderPool

    target = brass_voices[2]
    start = target.replace({BY_NAME["op2_output_level"].index: 50, BY_NAME["op1_eg_rate2"].index: 30})
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    pool = RenderPool(2, SAMPLE_RATE, 4.0)
    measured: dict[str, int] = {"alone": 0, "together": 0}

    def counted(searcher: VoiceSearch, where: str) -> VoiceSearch:
        measure = searcher.measure_pitch

        def counting(voice: Voice, checked: bool = True) -> F0Estimate:  # pitches this thread measures
            measured[where] += 1
            return measure(voice, checked)
        searcher.measure_pitch = counting  # type: ignore[method-assign]
        return searcher

    try:
        alone_search = counted(VoiceSearch(SAMPLE_RATE, 4.0), "alone")
        pooled = counted(VoiceSearch(SAMPLE_RATE, 4.0, pool), "together")
        starts = [(start, "network"), *[(voice, f"library {n}") for n, voice in enumerate(brass_voices[10:22])]]
        for cma_up_to in (60, 0):  # CMA-ES generations and (1+λ)-ES batches, on the workers
            alone, together = (s.run(_takes(target), f0, starts, budget_ms=math.inf, max_renders=60, seed=2,
                                     cma_up_to=cma_up_to) for s in (alone_search, pooled))
            assert together.best.voice == alone.best.voice and together.best.score == alone.best.score
            assert [f.voice for f in together.found] == [f.voice for f in alone.found]
            assert together.renders == alone.renders  # a pitch measured on a worker counts as one measured here
        assert measured["together"] < measured["alone"] / 2  # the workers measured most pitches, ahead of tuning
        takes = [Take(Renderer().render(target, note, velocity), SAMPLE_RATE, note, velocity)
                 for note, velocity in ((60, 85), (48, 60), (72, 120))]
        alone, together = (s.run(takes, f0, starts, budget_ms=math.inf, max_renders=40, seed=2, cma_up_to=0)
                           for s in (alone_search, pooled))  # several takes: children screened on the first
        assert together.best.voice == alone.best.voice and together.best.score == alone.best.score
        voices = brass_voices[:5]
        assert pool.pitches(voices, 60) == [search.measure_pitch(voice) for voice in voices]
        assert pool.pitches(voices, 60, checked=False) == [search.measure_pitch(voice, False) for voice in voices]
        targets = search.targets(takes)
        firsts = pool.scores(voices, targets[:1])
        assert pool.scores(voices, targets, firsts) == pool.scores(voices, targets)  # to the bit, the first take not played
    finally:
        pool.close()


def test_a_score_on_the_first_take_already_known_is_not_played_again(search: VoiceSearch, brass_voices: list) -> None:
    takes = [Take(Renderer().render(brass_voices[4], note, velocity), SAMPLE_RATE, note, velocity)
             for note, velocity in ((60, 85), (40, 85), (60, 127))]
    targets = search.targets(takes)
    renderer = Renderer()
    played = []
    render = renderer.render

    def counting(voice: Voice, note: int = REFERENCE_NOTE, velocity: int = 85) -> np.ndarray:
        played.append((note, velocity))
        return render(voice, note, velocity)

    renderer.render = counting  # type: ignore[method-assign]
    for voice in brass_voices[:4]:
        first = score_renders(renderer, voice, targets[:1])
        played.clear()
        assert score_renders(renderer, voice, targets, first) == score_renders(renderer, voice, targets)  # to the bit
        assert played == [(40, 85), (60, 127), (60, 85), (40, 85), (60, 127)]  # the first take once, without it


def _tuned_at(off: float | None) -> Tuning:
    """A voice tuned to 220 Hz that plays ``off`` cents from it (``None``: unpitched)."""
    return Tuning(Voice.init(), 220.0, None if off is None else 220.0 * 2 ** (off / 1200), off)


def test_an_improvement_may_not_drift_off_the_recordings_pitch() -> None:
    at = _tuned_at

    assert holds_pitch(at(DRIFT_CENTS - 1), at(0.5)) and holds_pitch(at(-DRIFT_CENTS + 1), at(0.5))
    assert not holds_pitch(at(DRIFT_CENTS + 5), at(0.5))  # in tune (within 50 cents), but drifted from its parent
    assert holds_pitch(at(-30.0), at(35.0)) and not holds_pitch(at(40.0), at(35.0))  # a start 35 cents off: no farther
    assert not holds_pitch(at(None), at(0.5)) and not holds_pitch(at(60.0), at(0.5))  # unpitched or out of tune


def test_a_parent_no_start_could_tune_keeps_no_pitch_it_does_not_have() -> None:
    at = _tuned_at

    assert holds_pitch(at(60.0), at(70.0)) and holds_pitch(at(-70.0), at(70.0)) and holds_pitch(at(20.0), at(70.0))
    assert not holds_pitch(at(80.0), at(70.0)) and not holds_pitch(at(None), at(70.0))  # farther off, or lost
    assert holds_pitch(at(None), at(None)) and holds_pitch(at(3.0), at(None))
    assert not holds_pitch(at(900.0), at(None))  # no wrong pitch where there was none


def test_a_start_that_cannot_be_tuned_is_still_improved(search: VoiceSearch, brass_voices: list) -> None:
    """No voice reaches 20 Hz at middle C (transpose and whole-octave ratios stop short): the best start plays out
    of tune, and the search still finds a closer voice that plays no farther off."""
    target = brass_voices[0]
    start = target.replace({BY_NAME["op1_output_level"].index: 60, BY_NAME["op2_eg_rate1"].index: 20})
    result = search.run(_takes(target), 20.0, [(start, "network")], budget_ms=math.inf, max_renders=40, seed=3)
    assert not result.start.playable and result.start.tuning.cents is not None
    assert result.best.score < result.start.score and result.best.source == "network + search"
    assert result.best.tuning.cents is not None and abs(result.best.tuning.cents) <= abs(result.start.tuning.cents)


def test_with_several_takes_mutations_reach_the_key_and_velocity_scaling_more_often(brass_voices: list) -> None:
    """Six takes at other notes and velocities tell how the voice scales; the mutations look there more."""
    scaling = {p.index for p in VOICE_PARAMS if p.op is not None and p.name.split("_", 1)[1] in SCALING}
    voice = brass_voices[0]

    def share(takes: int) -> float:
        rng = np.random.default_rng(0)
        changed = [i for _ in range(3000) for i in voice.diff(mutate(voice, rng, takes))]
        return sum(i in scaling for i in changed) / len(changed)

    one, six = share(1), share(6)
    assert 0.1 < one < 0.3 and 0.3 < six < 0.5, (one, six)  # about 19 % and 41 % of the draws at SCALING_WEIGHT 3


def test_with_several_takes_a_mutation_changes_up_to_four_parameters(brass_voices: list) -> None:
    voice = brass_voices[0]
    rng = np.random.default_rng(0)
    counts = {takes: {len(voice.diff(mutate(voice, rng, takes))) for _ in range(300)} for takes in (1, 6)}
    assert max(counts[1]) == 2 and max(counts[6]) == 4  # none: a parameter drawn at its bound, pushed past it


def test_with_several_takes_the_es_finds_a_key_scaling_curve(search: VoiceSearch, brass_voices: list) -> None:
    """A start whose operator 2 scales the wrong way above its break point (+LIN for -LIN, depth 99) plays the low
    take right and the high ones too loud: the ES, drawing the scaling parameters more often, finds the curve."""
    target = brass_voices[9]
    curve = BY_NAME["op2_right_curve"].index
    start = target.replace({curve: 3})
    takes = [Take(Renderer().render(target, note, 85), SAMPLE_RATE, note, 85) for note in (60, 48, 72, 84)]
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    result = search.run(takes, f0, [(start, "network")], budget_ms=math.inf, max_renders=400 * len(takes), seed=0,
                        cma_up_to=0)  # a render per take for each candidate
    assert result.start.voice[curve] == 3 and result.best.voice[curve] == target[curve]
    assert result.best.score < 0.7 * result.start.score


def test_with_several_takes_the_budget_and_the_count_are_renders(search: VoiceSearch, brass_voices: list,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate played on three takes is three renders (one, where the first take alone screened it out): the
    search stops at its render budget and reports every render it played, as with one take."""
    target = brass_voices[9]
    takes = [Take(Renderer().render(target, note, 85), SAMPLE_RATE, note, 85) for note in (60, 48, 72)]
    f0 = estimate_f0(_recording(target), SAMPLE_RATE).f0_hz
    start = target.replace({BY_NAME["op2_right_curve"].index: 3, BY_NAME["op1_output_level"].index: 80})
    played = []
    render = Renderer.render
    monkeypatch.setattr(Renderer, "render", lambda self, *args, **kwargs: played.append(1) or render(self, *args, **kwargs))
    result = search.run(takes, f0, [(start, "network")], budget_ms=math.inf, max_renders=120, seed=0, cma_up_to=0)
    assert result.renders == len(played)
    assert 120 - 3 <= result.renders <= 120 + 5  # the answer's pitch heard again at the end adds a render or two
