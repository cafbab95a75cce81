"""The Engine on a real (tiny, random-weight) checkpoint and dexed-py renders."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from bridge.midi.syxfile import read_syx_voices
from engine.inference import starts as search_starts
from engine.latent import MACRO_SPAN
from engine.lfo_vibrato import with_vibrato
from engine.library import VoiceLibrary, render_embeddings
from engine.pitch import F0Estimate, Vibrato
from engine.runtime import Engine
from engine.search_score import separate_parts
from models.checkpoint import load_checkpoint, save_checkpoint
from models.config import FrontendConfig
from models.errors import BackendError, CheckpointError, ModelInputError, SilentInputError
from models.latent_axes import encode_voices, fit_latent_axes, regression_flow
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import Renderer
from models.representations import LEARNABLE_INDICES
from models.voice import Voice


@pytest.fixture(scope="module")
def engine(tiny_checkpoint: Path) -> Engine:
    return Engine.load(tiny_checkpoint, backend="torch", search=False)  # deterministic: the search has a time budget


@pytest.fixture(scope="module")
def brass(brass_path: Path) -> list[Voice]:
    return [item.voice for item in read_syx_voices(brass_path).voices]


@pytest.fixture(scope="module")
def renders() -> dict[int, np.ndarray]:
    renderer = Renderer()
    return {note: renderer.render(Voice.init(), note, 85) for note in (60, 67)}


def test_load_describes_the_model(engine: Engine) -> None:
    assert (engine.latent_dim, engine.sample_rate, engine.backend_name) == (610, 22050, "torch")
    assert engine.macro_count == 0 and engine.search_by_default is False


def test_the_search_is_on_by_default(tiny_checkpoint: Path, renders: dict[int, np.ndarray]) -> None:
    engine = Engine.load(tiny_checkpoint, backend="torch", search_budget_ms=30.0)
    assert engine.search_by_default is True
    assert engine.infer(renders[60], 22050).diagnostics.searched
    assert not engine.infer(renders[60], 22050, search=False).diagnostics.searched


def test_infer_gives_a_voice_its_latent_and_diagnostics(engine: Engine, renders: dict[int, np.ndarray]) -> None:
    result = engine.infer(renders[60], 22050)
    assert result.latent.shape == (610,) and result.latent.dtype == np.float32
    assert result.model_input.shape == (1, 88200)
    diag = result.diagnostics
    assert (diag.backend, diag.searched, diag.source, diag.f0_hz is not None) == ("torch", False, "network", True)
    assert diag.distance[0] == diag.distance[1] and diag.renders >= 2  # the first voice: its pitch, its score
    assert set(diag.timings_ms) == {"conditioning", "network", "decode", "library", "search", "total"}
    assert result.recording.shape == (88200,)
    # the latent is the voice's latent point: decoding it gives the voice back
    assert engine.decode(result.latent, template=result.voice) == result.voice


def test_a_note_at_midi_67_is_answered_in_tune_from_the_library(tiny_checkpoint: Path, brass: list[Voice],
                                                                  renders: dict[int, np.ndarray]) -> None:
    library = VoiceLibrary([Voice.init(), *brass[:3]], ["init", "b0", "b1", "b2"],
                           *render_embeddings([Voice.init(), *brass[:3]], FrontendConfig(), workers=1))
    engine = Engine.load(tiny_checkpoint, backend="torch", library=library, search=False)
    result = engine.infer(renders[67], 22050, max_renders=40, budget_ms=float("inf"))
    diag = result.diagnostics
    assert diag.source == "library: INIT VOICE (init)" and result.voice.values[:144] == Voice.init().values[:144]
    assert result.voice[TRANSPOSE_INDEX] == TRANSPOSE_CENTRE + 7 and diag.transpose == 7
    assert diag.f0_hz == pytest.approx(392.0, rel=0.01) and abs(diag.cents) < 5 and diag.pitch == "pitched"
    assert diag.distance[1] < 0.05


def test_the_input_vibrato_is_left_off_an_answer_it_would_put_out_of_tune(tiny_checkpoint: Path, brass: list[Voice],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    library = VoiceLibrary([Voice.init(), *brass[:3]], ["init", "b0", "b1", "b2"],
                           *render_embeddings([Voice.init(), *brass[:3]], FrontendConfig(), workers=1))
    engine = Engine.load(tiny_checkpoint, backend="torch", library=library, search=False)
    sung = Renderer().render(with_vibrato(Voice.init(), Vibrato(60.0, 5.5)), 67, 85)
    played = engine.infer(sung, 22050, max_renders=40, budget_ms=float("inf"))
    vibrato = played.diagnostics.vibrato
    assert vibrato is not None and played.voice["lfo_pm_depth"] > 0  # heard in tune: the LFO plays the vibrato
    heard = engine.voice_pitch  # real renders; the vibrato voice is chosen to be heard with no clear pitch
    monkeypatch.setattr(engine, "voice_pitch", lambda voice: F0Estimate(None, 0.0, 0.0, "unpitched: chosen")
                        if voice["lfo_pm_depth"] else heard(voice))
    left = engine.infer(sung, 22050, max_renders=40, budget_ms=float("inf"))
    assert left.voice["lfo_pm_depth"] == 0 and with_vibrato(left.voice, vibrato) == played.voice
    assert left.diagnostics.cents == played.diagnostics.cents and left.diagnostics.pitch == "pitched"


def test_a_batch_matches_single_inferences(engine: Engine, renders: dict[int, np.ndarray]) -> None:
    stereo_44k = np.repeat(np.repeat(renders[60][:, None], 2, axis=1), 2, axis=0)  # (samples, 2) at 44.1 kHz
    batch = engine.infer_batch([renders[67], stereo_44k[::2]], 22050)
    singles = [engine.infer(renders[67], 22050), engine.infer(stereo_44k, 44100)]
    for got, single in zip(batch, singles, strict=True):
        assert got.voice == single.voice
        np.testing.assert_allclose(got.latent, single.latent, atol=1e-4)


def test_a_bad_recording_in_a_batch_is_named(engine: Engine, renders: dict[int, np.ndarray]) -> None:
    with pytest.raises(SilentInputError, match=re.escape("recording 1 of 2: audio is silent")):
        engine.infer_batch([renders[60], np.zeros(22050, np.float32)], 22050)


def test_encode_decode_round_trip_on_a_real_bank(engine: Engine, brass: list[Voice]) -> None:
    for voice in brass:
        latent = engine.encode(voice)
        assert latent.shape == (610,)
        assert engine.decode(latent, template=voice) == voice
        decoded = engine.decode(latent)  # default template: transpose 24, name DEXBRIDGE
        assert np.array_equal(np.array(decoded.values)[LEARNABLE_INDICES], np.array(voice.values)[LEARNABLE_INDICES])


@pytest.mark.parametrize(("latent", "message"), [
    (np.zeros(609), "latent shape (609,): expected (610,) for this checkpoint (numcat++)"),
    (np.full(610, np.nan), "latent holds 610 NaN/inf values: give finite values"),
])
def test_decode_refuses_bad_latents(engine: Engine, latent: np.ndarray, message: str) -> None:
    with pytest.raises(ModelInputError, match=re.escape(message)):
        engine.decode(latent)


def test_macros_need_axes_and_start_at_the_origin(engine: Engine, tiny_checkpoint: Path, brass: list[Voice],
                                                  tmp_path: Path) -> None:
    with pytest.raises(ModelInputError, match="has no latent axes, so no macro controls: export it with "
                                              "'dexbridge export-checkpoint --axes-corpus CORPUS.sqlite'"):
        engine.macros_to_latent([0.5])
    checkpoint = load_checkpoint(tiny_checkpoint)
    flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
    axes = fit_latent_axes(encode_voices(flow, checkpoint.representation, brass), 4)
    path = save_checkpoint(tmp_path / "axes.pt", dataclasses.replace(checkpoint, latent_axes=axes))
    with_axes = Engine.load(path, backend="torch")
    assert with_axes.macro_count == 4
    np.testing.assert_allclose(with_axes.macros_to_latent([0, 0, 0, 0]), axes.mean, atol=1e-6)
    origin = with_axes.encode(brass[0])
    np.testing.assert_allclose(with_axes.macros_to_latent([0.0], origin=origin), origin, atol=1e-6)
    moved = with_axes.macros_to_latent([0.0, 1.0], origin=origin)
    assert np.linalg.norm(moved - origin) == pytest.approx(MACRO_SPAN * axes.scales[1], rel=1e-4)
    assert isinstance(with_axes.decode(moved), Voice)


def test_a_search_never_ends_worse_than_its_first_voice_and_repeats(engine: Engine,
                                                                    renders: dict[int, np.ndarray]) -> None:
    streamed = []
    runs = [engine.infer(renders[67], 22050, search=True, budget_ms=float("inf"), max_renders=30, seed=1,
                         on_better=streamed.append) for _ in range(2)]
    first, best = runs[0].diagnostics.distance
    assert runs[0].diagnostics.searched and best <= first and runs[0].diagnostics.renders >= 30
    assert runs[0].voice == runs[1].voice and streamed and streamed[-1].voice == runs[1].voice
    assert engine.decode(runs[0].latent, template=runs[0].voice) == runs[0].voice


def test_load_errors_are_clear(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {tmp_path / 'none.pt'} not found")):
        Engine.load(tmp_path / "none.pt")
    with pytest.raises(BackendError, match=re.escape("unknown backend 'warp'")):
        Engine.load(tiny_checkpoint, backend="warp")


def test_the_search_starts_from_the_network_its_latent_neighbours_and_the_library(
        tiny_checkpoint: Path, brass: list[Voice], renders: dict[int, np.ndarray]) -> None:
    library = VoiceLibrary(brass[:5], [f"b{i}" for i in range(5)], *render_embeddings(brass[:5], FrontendConfig(), workers=1))
    engine = Engine.load(tiny_checkpoint, backend="torch", library=library)
    heard = engine.conditioner(renders[60], 22050)
    params = engine.backend.audio_to_params(heard.audio[None])[0]
    voice = engine.representation.decode(params)
    latent = engine.encode(voice)
    found = search_starts(engine, voice, latent, heard, seed=4)
    sources = [source for _, source in found]
    assert "network" in sources[:2]  # first, or second behind a library voice that is closer by embedding
    assert sum(s.startswith("library: ") for s in sources) == 5 and sources[-2:] == ["network neighbour 1", "network neighbour 2"]
    again = search_starts(engine, voice, latent, heard, seed=4)
    assert [v for v, _ in again] == [v for v, _ in found]  # seeded: the same neighbours


def test_several_takes_give_one_voice_scored_on_every_note(tiny_checkpoint: Path, brass: list[Voice]) -> None:
    from engine.takes import Take

    target = brass[6]
    library = VoiceLibrary([target, *brass[:3]], ["t", "b0", "b1", "b2"],
                           *render_embeddings([target, *brass[:3]], FrontendConfig(), workers=1))
    engine = Engine.load(tiny_checkpoint, backend="torch", library=library, search=False)
    renderer = Renderer()
    notes = ((48, 60), (60, 100), (72, 120))
    takes = [Take(renderer.render(target, note, velocity), 22050, note, velocity) for note, velocity in notes]
    answer = engine.infer_takes(takes, max_renders=200, budget_ms=float("inf"))
    assert answer.voice.values[:145] == target.values[:145] and answer.diagnostics.distance[1] < 0.05
    estimated = engine.infer_takes([Take(takes[1].audio, 22050, None, 100)], max_renders=200, budget_ms=float("inf"))
    # this brass voice sounds an octave below the key: its take's note is taken as 48 (nearest its 131 Hz),
    # so the voice comes back transposed up an octave to play that pitch at note 48
    assert estimated.voice.values[:144] == target.values[:144] and estimated.voice[TRANSPOSE_INDEX] == TRANSPOSE_CENTRE + 12
    with pytest.raises(ModelInputError, match=r"take 1 has no clear pitch \(unpitched: .*\): give its note, e.g. FILE:60:100"):
        noise = np.random.default_rng(0).normal(0, 0.3, 22050).astype(np.float32) * np.exp(-np.arange(22050) / 2000)
        engine.infer_takes([Take(noise, 22050, None, 100)])
    with pytest.raises(ModelInputError, match="no takes"):
        engine.infer_takes([])


def test_several_takes_play_them_no_worse_than_the_middle_c_take_alone(tiny_checkpoint: Path, brass: list[Voice]) -> None:
    from engine.takes import Take

    library = VoiceLibrary(brass[:4], ["b0", "b1", "b2", "b3"], *render_embeddings(brass[:4], FrontendConfig(), workers=1))
    engine = Engine.load(tiny_checkpoint, backend="torch", library=library)
    renderer = Renderer()
    takes = [Take(renderer.render(brass[7], note, velocity), 22050, note, velocity)
             for note, velocity in ((48, 85), (60, 85), (60, 127), (72, 85))]
    together = engine.infer_takes(takes, max_renders=30, budget_ms=float("inf"))
    alone = engine.infer(takes[1].audio, 22050, max_renders=30, budget_ms=float("inf"))
    # scored on the takes as given (the engine scores them as conditioned: within 1e-3 of these)
    in_order = [takes[1], takes[0], takes[2], takes[3]]
    targets = engine.search.targets(in_order)
    on_all = engine.search.score(together.voice, targets)
    assert on_all == pytest.approx(together.diagnostics.distance[1], abs=1e-3)
    assert on_all <= engine.search.score(alone.voice, targets) + 1e-3
    for distance in separate_parts(engine.search.score_kind):  # and on each distance the score adds
        targets = engine.search.targets(in_order, distance)
        assert engine.search.score(together.voice, targets) <= engine.search.score(alone.voice, targets) + 1e-3
    assert separate_parts(engine.search.score_kind) == ("spec", "mel")
