"""The DX7 LFO set from a measured vibrato plays that vibrato: dexed-py renders, heard by the pitch tracker."""

from __future__ import annotations

import pytest

from engine.lfo_vibrato import (
    has_vibrato_like,
    lfo_delay_s,
    lfo_depth_cents,
    lfo_rate_hz,
    vibrato_cents,
    vibrato_settings,
    with_vibrato,
)
from engine.pitch import Vibrato, cents, estimate_f0
from models.params import BY_NAME
from models.render import SAMPLE_RATE, Renderer
from models.voice import Voice


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(SAMPLE_RATE, 2.0, 2.0)


@pytest.mark.parametrize("asked", [Vibrato(25.0, 4.0), Vibrato(50.0, 5.5), Vibrato(100.0, 5.5), Vibrato(80.0, 7.0),
                                   Vibrato(50.0, 5.5, 0.4)])
def test_a_voice_given_a_vibrato_plays_it(renderer: Renderer, asked: Vibrato) -> None:
    heard = estimate_f0(renderer.render(with_vibrato(Voice.init(), asked), 57), SAMPLE_RATE)  # A3: 220 Hz
    assert heard.pitched and abs(cents(heard.f0_hz, 220.0)) <= 10, heard
    played = heard.vibrato
    assert played is not None and played.rate_hz == pytest.approx(asked.rate_hz, abs=0.25), played
    assert 0.8 * asked.depth_cents <= played.depth_cents <= 1.1 * asked.depth_cents, played
    assert played.delay_s == pytest.approx(asked.delay_s, abs=0.12), played


def test_a_voice_without_pitch_modulation_has_no_vibrato(renderer: Renderer) -> None:
    assert estimate_f0(renderer.render(Voice.init(), 57), SAMPLE_RATE).vibrato is None
    assert not has_vibrato_like(Voice.init(), Vibrato(20.0, 5.5))


def test_only_a_vibrato_about_as_deep_stands_in_for_the_recordings() -> None:
    recording = Vibrato(20.0, 5.5)
    wobble = Voice.init().replace({BY_NAME["lfo_pm_depth"].index: 12, BY_NAME["pitch_mod_sens"].index: 1})
    assert vibrato_cents(wobble) == pytest.approx(5.5, abs=0.5)  # a library voice's own: too shallow to play it
    assert not has_vibrato_like(wobble, recording)
    assert has_vibrato_like(with_vibrato(Voice.init(), Vibrato(30.0, 5.5)), recording)
    assert not has_vibrato_like(with_vibrato(Voice.init(), Vibrato(90.0, 5.5)), recording)


def test_the_lfo_tables_span_the_dx7_range() -> None:
    assert lfo_rate_hz(0) == pytest.approx(0.0645, abs=0.001) and lfo_rate_hz(99) == pytest.approx(23.9, abs=0.1)
    assert lfo_depth_cents(0, 7) == 0.0 and lfo_depth_cents(99, 7) == pytest.approx(1190.0, abs=10.0)
    assert lfo_delay_s(0) == 0.0 and all(lfo_delay_s(d) < lfo_delay_s(d + 1) for d in range(1, 99))


def test_deep_vibratos_are_capped_at_a_semitone() -> None:
    settings = vibrato_settings(Vibrato(400.0, 6.0))
    assert lfo_depth_cents(settings["lfo_pm_depth"], settings["pitch_mod_sens"]) == pytest.approx(100.0, abs=2.0)
    assert settings["lfo_wave"] == 4 and settings["lfo_sync"] == 1
