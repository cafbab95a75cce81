"""The DawDreamer sink: a user's Dexed VST3 (``--plugin PATH``) or DawDreamer's bundled Faust DX7.

MIDI goes through a :class:`bridge.midi.receiver.Receiver` like every sink; :meth:`DawDreamerSynth.render`
then sets the held voice on the synth and renders a note offline. A Dexed plugin gets each
parameter by its Dexed name (``OP1 EG RATE 1``, looked up among the plugin's own parameters, so any
Dexed version works) as the normalised host value ``value / max``
(:func:`models.params.to_host_value`). Without a plugin, the Faust DX7 of DawDreamer's
``faustlibraries/dx7`` (``dx.algorithm(n)``) is compiled once per algorithm (several seconds
each, cached) and its sliders are set by path; the voice name has no Faust control and
operators switched off by parameter 155 are silenced. The Faust DX7 is its own emulation: it
sounds close to, not identical with, Dexed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bridge.midi.receiver import audible_voice
from bridge.sinks.base import ReceiverSynth, SinkError
from models.params import TRANSPOSE_CENTRE, VOICE_PARAMS, ParamSpec, to_host_value
from models.voice import Voice

DEFAULT_SAMPLE_RATE = 44100
BLOCK_SIZE = 512
FAUST_VOICES = 8
_DETUNE_CENTRE = 7

# VCED operator field -> Faust DX7 slider path below "Operator_<n>/".
_FAUST_OPERATOR = {
    "eg_rate1": "Amp_Env_Generator/Rates/R1", "eg_rate2": "Amp_Env_Generator/Rates/R2",
    "eg_rate3": "Amp_Env_Generator/Rates/R3", "eg_rate4": "Amp_Env_Generator/Rates/R4",
    "eg_level1": "Amp_Env_Generator/Levels/L1", "eg_level2": "Amp_Env_Generator/Levels/L2",
    "eg_level3": "Amp_Env_Generator/Levels/L3", "eg_level4": "Amp_Env_Generator/Levels/L4",
    "break_point": "Breakpoint/Breakpoint", "left_depth": "Breakpoint/L_Depth", "right_depth": "Breakpoint/R_Depth",
    "left_curve": "Breakpoint/L_Curve", "right_curve": "Breakpoint/R_Curve", "rate_scaling": "Level/Rate_Scaling",
    "amp_mod_sens": "Level/A_Mod_Sens", "key_vel_sens": "Level/Key_Vel", "output_level": "Level/Level",
    "osc_mode": "Tone/Freq_Mode", "coarse": "Tone/Coarse", "fine": "Tone/Fine", "detune": "Tone/Tune",
}
# VCED global -> Faust DX7 slider path below "Global/" (the algorithm is chosen at compile time).
_FAUST_GLOBAL = {
    **{f"pitch_eg_rate{i}": f"Pitch_EG_Rates/R{i}" for i in range(1, 5)},
    **{f"pitch_eg_level{i}": f"Pitch_EG_Levels/L{i}" for i in range(1, 5)},
    "feedback": "Main/Feedback", "osc_key_sync": "Main/Osc_Key_Sync", "transpose": "Main/Transpose",
    "lfo_speed": "LFO/Speed", "lfo_delay": "LFO/Delay", "lfo_pm_depth": "LFO/PMD", "lfo_am_depth": "LFO/AMD",
    "lfo_sync": "LFO/Sync", "lfo_wave": "LFO/Wave", "pitch_mod_sens": "LFO/P_Mod_Sens",
}
# Faust sliders centred on 0 where the VCED value is centred on 7 / 24.
_FAUST_OFFSET = {"detune": _DETUNE_CENTRE, "transpose": TRANSPOSE_CENTRE}


def faust_path(spec: ParamSpec) -> str | None:
    """The Faust DX7 slider (below ``DX7/``) of a VCED parameter, None for the algorithm and the name."""
    if spec.op is not None:
        return f"Operator_{spec.op}/{_FAUST_OPERATOR[spec.name.split('_', 1)[1]]}"
    path = _FAUST_GLOBAL.get(spec.name)
    return f"Global/{path}" if path else None


def faust_value(spec: ParamSpec, value: int) -> float:
    """The Faust slider value of a VCED value (detune and transpose are centred on 0)."""
    suffix = spec.name.split("_", 1)[1] if spec.op is not None else spec.name
    return float(value - _FAUST_OFFSET.get(suffix, 0))


class DawDreamerSynth(ReceiverSynth):
    """Renders the voice its MIDI input sets, through DawDreamer.

    Args:
        plugin: path of a Dexed VST3/VST/AU; None = the bundled Faust DX7.
        sample_rate: render rate in Hz.

    Raises:
        SinkError: the plugin file is missing or DawDreamer cannot load it (its message included).
    """

    def __init__(self, plugin: Path | None = None, *, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
        import dawdreamer

        super().__init__(f"dawdreamer:{Path(plugin).name if plugin else 'faust-dx7'}")
        self.sample_rate = sample_rate
        self._engine = dawdreamer.RenderEngine(sample_rate, BLOCK_SIZE)
        self._faust: dict[int, Any] = {}
        self._plugin: Any = None
        self._plugin_index: dict[str, int] = {}
        if plugin is not None:
            self._load_plugin(Path(plugin))

    def _load_plugin(self, path: Path) -> None:
        if not path.exists():
            raise SinkError(f"--plugin {path}: no such file; give the Dexed .vst3 bundle, or leave --plugin out for "
                            "the bundled Faust DX7")
        try:
            self._plugin = self._engine.make_plugin_processor("dexed", str(path))
        except Exception as exc:  # DawDreamer raises bare RuntimeError/Exception for any load failure
            raise SinkError(f"--plugin {path}: DawDreamer cannot load it: {exc}") from exc
        self._plugin_index = {p["name"]: p["index"] for p in self._plugin.get_parameters_description()}
        wanted = [spec.dexed_name for spec in VOICE_PARAMS if spec.dexed_name] + [f"OP{op} SWITCH" for op in range(1, 7)]
        missing = [name for name in wanted if name not in self._plugin_index]
        if missing:
            raise SinkError(f"--plugin {path.name} lacks Dexed parameters {missing[:3]}...: is it Dexed?")

    def render(self, note: int = 60, velocity: int = 85, *, note_seconds: float = 1.0, render_seconds: float = 1.5) -> np.ndarray:
        """Render one note of the held voice.

        Returns:
            Mono float32 audio at :attr:`sample_rate`.

        Raises:
            ValueError: note, velocity or durations out of range.
            SinkError: the Faust DX7 does not compile.
        """
        if not 0 <= note <= 127 or not 1 <= velocity <= 127:
            raise ValueError(f"note {note} (0..127) / velocity {velocity} (1..127) out of range")
        if not 0 < note_seconds <= render_seconds:
            raise ValueError(f"note held {note_seconds} s in a {render_seconds} s render: need 0 < note <= render")
        processor = self._prepare(self.voice, self.receiver.op_switch)
        processor.clear_midi()
        processor.add_midi_note(note, velocity, 0.0, note_seconds)
        self._engine.load_graph([(processor, [])])
        self._engine.render(render_seconds)
        audio = np.asarray(self._engine.get_audio(), dtype=np.float32)
        return audio.mean(axis=0) if audio.ndim == 2 else audio

    def _prepare(self, voice: Voice, op_switch: int) -> Any:
        if self._plugin is not None:
            for spec in VOICE_PARAMS:
                if spec.dexed_name:
                    self._plugin.set_parameter(self._plugin_index[spec.dexed_name], to_host_value(spec, voice[spec.index]))
            for op in range(1, 7):  # Dexed's own operator switches, bit 5 = OP1
                self._plugin.set_parameter(self._plugin_index[f"OP{op} SWITCH"], float(op_switch >> (6 - op) & 1))
            return self._plugin
        voice = audible_voice(voice, op_switch)
        processor = self._faust_processor(voice["algorithm"])
        prefix = self._faust_prefix(processor)
        for spec in VOICE_PARAMS:
            path = faust_path(spec)
            if path:
                processor.set_parameter(f"{prefix}{path}", faust_value(spec, voice[spec.index]))
        return processor

    def _faust_processor(self, algorithm: int) -> Any:
        processor = self._faust.get(algorithm)
        if processor is None:
            processor = self._engine.make_faust_processor(f"dx7_algorithm_{algorithm + 1}")
            processor.num_voices = FAUST_VOICES
            processor.set_dsp_string(f'import("stdfaust.lib"); process = dx.algorithm({algorithm + 1}) <: _,_;')
            if not processor.compile():
                raise SinkError(f"the bundled Faust DX7 (algorithm {algorithm + 1}) did not compile: reinstall dawdreamer")
            self._faust[algorithm] = processor
        return processor

    @staticmethod
    def _faust_prefix(processor: Any) -> str:
        names = [p["name"] for p in processor.get_parameters_description()]
        anchor = "DX7/Global/Main/Feedback"
        return next(name[: -len(anchor)] + "DX7/" for name in names if name.endswith(anchor))

    def all_notes_off(self) -> None:
        """Nothing sounds between renders: offline rendering holds no notes."""

    def close(self) -> None:
        """Drop the compiled processors and the plugin."""
        self._faust.clear()
        self._plugin = None

