"""DawDreamer sink: the bundled Faust DX7 renders the voice the MIDI bytes set (compiling one
algorithm takes ~15 s of CPU, once per module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bridge.midi.param_stream import ParamStream
from bridge.midi.sysex import decode_sysex, encode_param_change, encode_voice_dump
from bridge.sinks import SinkError
from bridge.sinks.dawdreamer import DawDreamerSynth, faust_path, faust_value
from models.params import BY_NAME, VOICE_PARAMS


@pytest.fixture(scope="module")
def faust_synth() -> DawDreamerSynth:
    return DawDreamerSynth(sample_rate=22050)


def test_faust_dx7_renders_non_silent_audio_that_follows_the_voice(faust_synth: DawDreamerSynth, brass_path: Path) -> None:
    voice = decode_sysex(brass_path.read_bytes()).voices[0]  # BRASS 1, algorithm 18
    faust_synth.send(encode_voice_dump(voice))
    assert faust_synth.voice == voice
    loud = faust_synth.render(60, 100, note_seconds=0.5, render_seconds=0.8)
    assert loud.shape == (round(0.8 * 22050),) and loud.dtype == np.float32
    assert np.isfinite(loud).all() and np.sqrt(np.mean(loud**2)) > 1e-3, "non-silent"
    stream = ParamStream(synth_voice=voice)
    stream.update(voice.replace({BY_NAME[f"op{op}_output_level"].index: 0 for op in range(1, 7)}))
    for message in stream.take(0.0):
        faust_synth.send(message)
    quiet = faust_synth.render(60, 100, note_seconds=0.5, render_seconds=0.8)
    assert np.sqrt(np.mean(quiet**2)) < np.sqrt(np.mean(loud**2)) / 10, "output levels 0 silence it"
    faust_synth.send(encode_voice_dump(voice))
    faust_synth.send(encode_param_change(155, 0))  # every operator switched off
    switched_off = faust_synth.render(60, 100, note_seconds=0.5, render_seconds=0.8)
    assert np.sqrt(np.mean(switched_off**2)) < np.sqrt(np.mean(loud**2)) / 10


def test_every_voice_parameter_but_algorithm_and_name_has_a_faust_slider() -> None:
    unmapped = [spec.name for spec in VOICE_PARAMS if faust_path(spec) is None]
    assert unmapped == ["algorithm"] + [f"name{i}" for i in range(1, 11)]
    assert faust_value(BY_NAME["op3_detune"], 7) == 0.0 and faust_value(BY_NAME["transpose"], 36) == 12.0
    assert faust_path(BY_NAME["op2_key_vel_sens"]) == "Operator_2/Level/Key_Vel"


def test_a_missing_plugin_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="leave --plugin out for the bundled Faust DX7"):
        DawDreamerSynth(tmp_path / "Dexed.vst3")
