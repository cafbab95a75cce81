"""The inference engine: a checkpoint loaded once, then sound -> voice, voice <-> latent, macros.

:class:`Engine` is synchronous and thread-safe (the backend is, the search renders with one
dexed-py synth per thread); :class:`engine.worker.InferenceWorker` is its asyncio face. The
serving path is the backend's (``engine.backends.select_backend``); ``decode`` (latent -> voice, what
every morph or macro step costs) runs the regression flow pre-packed in NumPy whatever the backend
(:mod:`engine.latent_decoder`); the inverse regression flow (``encode``) runs in torch. Conditioning
(resampling, level, the input's pitch) is :mod:`engine.conditioning`; the voice library
:mod:`engine.library`; tuning a voice to the input's pitch :mod:`engine.tuning`; the multi-start
anytime search over the network's answer and the library's nearest voices :mod:`engine.search`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.backends import Backend, select_backend
from engine.conditioning import REFERENCE_NOTE, Conditioned, Conditioner, plan_transpose
from engine.latent import macros_to_latent
from engine.latent_decoder import LatentDecoder
from engine.lfo_vibrato import with_vibrato
from engine.library import Match, VoiceLibrary, embed
from engine.pitch import F0Estimate, Vibrato, voice_f0
from engine.search import DEFAULT_BUDGET_MS, Found, Take, VoiceSearch
from engine.tuning import fine_tune
from models.checkpoint import DEFAULT_CHECKPOINT, Checkpoint, load_checkpoint
from models.errors import ModelInputError
from models.frontend import Frontend
from models.latent_axes import regression_flow
from models.params import LEARNABLE, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import Renderer
from models.representations import DEFAULT_TEMPLATE, get_representation
from models.voice import Voice

__all__ = ["Diagnostics", "Engine", "Inference", "Recording"]

WARMUP_SECONDS = 1.0
LIBRARY_K = 32
DETUNE_SCORE_TOLERANCE = 0.005  # log-spectral MAE a detune that brings the pitch closer may cost
LATENT_NEIGHBOURS = 2
LATENT_STEP = 0.3  # standard deviation of a neighbour's offset in latent space (the prior is N(0, 1))
PITCH_RENDER_SECONDS = 1.0  # the voice's f0 is read off its first half second after the onset


@dataclass(frozen=True)
class Diagnostics:
    """How an inference went.

    Attributes:
        f0_hz: the input's f0, ``None`` when it has no clear pitch.
        transpose: semitones the voice is transposed by (VCED transpose = 24 + this).
        residual_cents: the input's pitch minus the voice's, played at the reference note (MIDI 60),
            in cents; 0 when either side is unpitched.
        level_db: input sample peak, dB re full scale.
        gain_db: gain applied to bring the input into the training level range.
        backend: the backend that ran the network.
        searched: whether the search ran beyond the first voice.
        timings_ms: milliseconds per step: conditioning, network, decode, library, search, total.
        spec_mae: (first voice, answer) spectral MAE of the voice played at the reference note against the
            recording.
        messages: things the user should know (no pitch found, transpose clamped).
        voice_f0_hz: the voice's f0 played at the reference note, measured on a render; ``None``
            when the voice is unpitched.
        cents: ``voice_f0_hz`` relative to ``f0_hz`` (positive = sharp); ``None`` unless both are pitched.
        pitch: ``"pitched"``, or which side has no f0 and why (``"input unpitched: inharmonic"``).
        octaves: octaves the voice's ratio-mode operators were scaled by to reach the pitch.
        source: where the voice came from (``"network"``, ``"library: NAME (SOURCE)"``, ``" + search"``).
        renders: renders the search spent.
        vibrato: the input's vibrato, which the voice's LFO plays (speed, delay, pitch-modulation depth); ``None``
            when the input has none (the voice's LFO is then its own).
    """

    f0_hz: float | None
    transpose: int
    residual_cents: float
    level_db: float
    gain_db: float
    backend: str
    searched: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    spec_mae: tuple[float, float] | None = None
    messages: tuple[str, ...] = ()
    voice_f0_hz: float | None = None
    cents: float | None = None
    pitch: str = "pitched"
    octaves: int = 0
    source: str = "network"
    renders: int = 0
    vibrato: Vibrato | None = None


@dataclass(frozen=True)
class Inference:
    """One inferred voice.

    Attributes:
        voice: the voice, tuned to the input's pitch (transpose, and ratio octaves where needed).
        latent: its latent point zK, (latent_dim,) float32.
        diagnostics: pitch, level, backend, timings.
        model_input: what the network heard: (notes, samples) float32 at the model rate.
        recording: the input from its onset, level adjusted, not pitch-shifted: (samples,) float32 at
            the model rate, what the voice played at the reference note is compared with.
    """

    voice: Voice
    latent: np.ndarray
    diagnostics: Diagnostics
    model_input: np.ndarray
    recording: np.ndarray


@dataclass(frozen=True)
class _SearchOptions:
    search: bool
    budget_ms: float
    max_renders: int | None = None
    seed: int = 0
    on_better: Callable[[Inference], None] | None = None
    should_stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Recording:
    """One take of a sound for :meth:`Engine.infer_takes`.

    Attributes:
        audio: 1-D mono or (samples, channels) float audio of one note.
        sample_rate: its rate in Hz.
        note: the MIDI note it was played at; ``None``: the note nearest its pitch.
        velocity: the MIDI velocity it was played with (1-127).
    """

    audio: np.ndarray
    sample_rate: int
    note: int | None = None
    velocity: int = 100


def _take_note(take: Recording, heard: Conditioned, number: int) -> int:
    """The take's note: as given, else the note nearest its pitch."""
    if take.note is not None:
        if not 0 <= take.note <= 127 or not 1 <= take.velocity <= 127:
            raise ModelInputError(f"take {number + 1}: note {take.note} / velocity {take.velocity} out of range "
                                  "(notes 0-127, velocities 1-127)")
        return take.note
    if heard.f0_hz is None:
        raise ModelInputError(f"take {number + 1} has no clear pitch ({heard.pitch_reason}): give its note, "
                              "e.g. FILE:60:100")
    return int(round(12.0 * np.log2(heard.f0_hz / 440.0) + 69.0))


def _predicted_transpose(match: Match, conditioned: Conditioned) -> int:
    """The transpose that brings a library voice to the input's pitch, from the f0 stored with it; an
    unpitched input (a drum) keeps the voice's own transpose, the one its embedding was rendered with."""
    if conditioned.f0_hz is None:
        return match.voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE
    if match.f0_hz is None:
        return conditioned.transpose
    semitones = round(12.0 * np.log2(conditioned.f0_hz / match.f0_hz))
    return min(max(semitones, -TRANSPOSE_CENTRE), TRANSPOSE_CENTRE)


def _distinct(starts: Sequence[tuple[Voice, str]]) -> list[tuple[Voice, str]]:
    """The starts without repeats (the same voice found for two takes), in order."""
    seen: set[tuple[int, ...]] = set()
    kept = []
    for voice, source in starts:
        if voice.values not in seen:
            seen.add(voice.values)
            kept.append((voice, source))
    return kept


def _learnable_values(voice: Voice) -> tuple[int, ...]:
    return tuple(voice[spec.index] for spec in LEARNABLE)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Engine:
    """A loaded model: inference, encode / decode, macros. Build with :meth:`load`.

    Args:
        checkpoint: the loaded checkpoint.
        backend: its serving path (``engine.backends.select_backend``).
        search: search beyond the first voice by default (:mod:`engine.search`).
        search_budget_ms: the search's time budget per inference.
        library: the voices the search also starts from (:mod:`engine.library`); None = the network alone.
        library_k: how many of the library's nearest voices start the search.
        search_max_renders: also end each search after this many renders (None: the time budget only);
            with an infinite time budget the answers are deterministic.
    """

    def __init__(self, checkpoint: Checkpoint, backend: Backend, *, search: bool = True,
                 search_budget_ms: float = DEFAULT_BUDGET_MS, library: VoiceLibrary | None = None,
                 library_k: int = LIBRARY_K, search_max_renders: int | None = None) -> None:
        self.checkpoint = checkpoint
        self.backend = backend
        self.search_by_default = search
        self.search_budget_ms = search_budget_ms
        self.library = library
        self.library_k = library_k
        self.search_max_renders = search_max_renders
        self.representation = get_representation(checkpoint.representation)
        frontend = checkpoint.config.frontend
        self.conditioner = Conditioner(frontend.sample_rate, frontend.num_samples, checkpoint.notes)
        self.search = VoiceSearch(frontend.sample_rate, frontend.duration_s, self.voice_pitch)
        self._flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
        self._latent_decoder = LatentDecoder(self._flow, self.representation)
        self._local = threading.local()
        self._frontend = Frontend(frontend, checkpoint.frontend_stats).eval()

    @classmethod
    def load(cls, path: Path | None = None, *, backend: str = "auto", search: bool = True,
             search_budget_ms: float = DEFAULT_BUDGET_MS, library: VoiceLibrary | None = None,
             search_max_renders: int | None = None, threads: int | None = None) -> Engine:
        """Load a checkpoint, build its backend and warm both up.

        Args:
            path: a serving checkpoint; ``None`` loads ``models/checkpoints/default.pt``.
            backend: ``"auto"`` or a backend name (``engine.backends.BACKENDS``).
            search: search beyond the first voice by default.
            search_budget_ms: the search's time budget per inference.
            library: the voices the search also starts from (``engine.library``); None = the network alone.
            search_max_renders: also end each search after this many renders.
            threads: intra-op threads for this process's torch and ONNX Runtime work (``None``: torch's
                default, every core); 1 leaves the other cores of a small machine to the daemon and the DAW.

        Raises:
            CheckpointError: missing or invalid checkpoint.
            BackendError: the backend is unknown or cannot run here.
        """
        if threads is not None:
            torch.set_num_threads(threads)  # before the backend: ONNX sessions take torch's count
        checkpoint = load_checkpoint(DEFAULT_CHECKPOINT if path is None else Path(path))
        engine = cls(checkpoint, select_backend(backend, checkpoint), search=search, search_budget_ms=search_budget_ms,
                     library=library, search_max_renders=search_max_renders)
        engine.infer(engine.reference_tone(), engine.sample_rate, search=False)  # compiles pitch tracking, warms the backend
        return engine

    def seconds_heard(self, f0_hz: float | None) -> float:
        """Seconds of a recording at ``f0_hz``, from its onset, that inference hears: the model's window,
        longer where the network's input is pitch-shifted up (a note below C2 is shifted up to C2, and
        each note of a multi-note model by its distance from middle C); ``None``: unpitched."""
        shift = plan_transpose(f0_hz).shift
        speed = max(1.0, *(2.0 ** ((shift + note - REFERENCE_NOTE) / 12.0) for note, _ in self.conditioner.notes))
        return self.conditioner.samples / self.conditioner.sample_rate * speed

    @property
    def threads(self) -> int:
        """Intra-op threads inference runs on (torch's process-wide count, which ONNX sessions take)."""
        return torch.get_num_threads()

    @property
    def latent_dim(self) -> int:
        """Size of a latent point (= representation length)."""
        return self.checkpoint.latent_dim

    @property
    def sample_rate(self) -> int:
        """The model rate (22 050 Hz)."""
        return self.checkpoint.config.frontend.sample_rate

    @property
    def backend_name(self) -> str:
        """The running backend's registry name."""
        return self.backend.name

    @property
    def macro_count(self) -> int:
        """Number of macro controls: the principal axes stored in the checkpoint (0 without)."""
        axes = self.checkpoint.latent_axes
        return 0 if axes is None else axes.count

    def reference_tone(self) -> np.ndarray:
        """A decaying sine at the reference note over the model window: a harmless warm-up input."""
        t = np.arange(round(WARMUP_SECONDS * self.sample_rate)) / self.sample_rate
        frequency = 440.0 * 2.0 ** ((REFERENCE_NOTE - 69) / 12)
        return (0.5 * np.sin(2 * np.pi * frequency * t) * np.exp(-2.0 * t)).astype(np.float32)

    def infer(self, audio: np.ndarray, sample_rate: int, *, search: bool | None = None, budget_ms: float | None = None,
              max_renders: int | None = None, seed: int = 0, on_better: Callable[[Inference], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Inference:
        """The voice that best reproduces a recording, in tune.

        The network's answer and the library's nearest voices are tuned to the recording's pitch and
        scored by render; the closer of the network's answer and the nearest library voice (by
        embedding) is the first voice, and the search improves on the best ones until the budget.

        Args:
            audio: 1-D mono or (samples, channels) float audio of one note.
            sample_rate: its rate in Hz (any; resampled).
            search: search beyond the first voice (``None``: the engine's default); off, only the
                first voice is tuned and returned.
            budget_ms: the search's time budget (``None``: the engine's).
            max_renders: also stop after this many renders (``None``: the engine's; with ``budget_ms=inf``:
                deterministic).
            seed: seeds the search.
            on_better: called (on this thread) with each better voice as soon as it is found, as an
                :class:`Inference` whose diagnostics say where it came from and its score so far.
            should_stop: polled between renders; True ends the search early.

        Raises:
            ModelInputError: bad shape, rate, empty, NaN or inf.
            SilentInputError: silence.
            NoiseInputError: steady noise without pitch.
        """
        options = _SearchOptions(self.search_by_default if search is None else search,
                                 self.search_budget_ms if budget_ms is None else budget_ms,
                                 self.search_max_renders if max_renders is None else max_renders, seed, on_better,
                                 should_stop)
        return self._infer_all([audio], sample_rate, options)[0]

    def infer_batch(self, audios: Sequence[np.ndarray], sample_rate: int, *, search: bool | None = None) -> list[Inference]:
        """:meth:`infer` for several recordings at one rate, the network run once on the batch.

        Raises:
            ModelInputError: no recordings, or one that :meth:`infer` refuses (the message names it).
        """
        options = _SearchOptions(self.search_by_default if search is None else search, self.search_budget_ms,
                                 self.search_max_renders)
        return self._infer_all(audios, sample_rate, options)

    def _infer_all(self, audios: Sequence[np.ndarray], sample_rate: int, options: _SearchOptions) -> list[Inference]:
        if len(audios) == 0:
            raise ModelInputError("infer_batch got no recordings: pass a list of 1-D or (samples, channels) arrays")
        started = time.perf_counter()
        conditioned = [self._condition(audio, sample_rate, number, len(audios)) for number, audio in enumerate(audios)]
        conditioning_ms = _ms(started) / len(audios)
        started = time.perf_counter()
        params = self.backend.audio_to_params(np.stack([item.audio for item in conditioned]))
        network_ms = _ms(started) / len(audios)
        return [self._finish(item, row, options, {"conditioning": conditioning_ms, "network": network_ms})
                for item, row in zip(conditioned, params, strict=True)]

    def _condition(self, audio: np.ndarray, sample_rate: int, number: int, count: int) -> Conditioned:
        try:
            return self.conditioner(audio, sample_rate)
        except ModelInputError as error:
            if count == 1:
                raise
            raise type(error)(f"recording {number} of {count}: {error}") from None

    def _finish(self, conditioned: Conditioned, params: np.ndarray, options: _SearchOptions,
                timings: dict[str, float]) -> Inference:
        started = time.perf_counter()
        template = DEFAULT_TEMPLATE.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + conditioned.transpose})
        network_voice = self.representation.decode(params, template)
        network_latent = self._inverse_flow(params[None])[0]
        timings["decode"] = _ms(started)
        started = time.perf_counter()
        starts = self._starts(network_voice, network_latent, conditioned, options.seed)
        timings["library"] = _ms(started)
        return self._search([Take(conditioned.recording)], conditioned, conditioned.f0_hz, starts,
                            (network_voice, network_latent), options, timings)

    def _search(self, takes: Sequence[Take], conditioned: Conditioned, f0_hz: float | None,
                starts: Sequence[tuple[Voice, str]], network: tuple[Voice, np.ndarray], options: _SearchOptions,
                timings: dict[str, float]) -> Inference:
        """Run the search from ``starts`` against ``takes``; ``conditioned`` is the take the diagnostics
        describe, ``network`` the network's voice and latent point (the latent of an unchanged answer)."""
        network_voice, network_latent = network

        def answer(found: Found, first_score: float, renders: int) -> Inference:
            voice = found.voice if conditioned.vibrato is None else with_vibrato(found.voice, conditioned.vibrato)
            same = _learnable_values(voice) == _learnable_values(network_voice)
            latent = network_latent if same else self.encode(voice)
            tuning = found.tuning
            diagnostics = Diagnostics(
                conditioned.f0_hz, tuning.voice[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE,
                0.0 if tuning.cents is None else -tuning.cents, conditioned.level_db, conditioned.gain_db,
                self.backend_name, options.search, dict(timings), (first_score, found.score),
                conditioned.messages + tuning.messages, tuning.voice_f0_hz, tuning.cents, tuning.pitch, tuning.octaves,
                found.source, renders, conditioned.vibrato,
            )
            return Inference(voice, latent, diagnostics, conditioned.audio, conditioned.recording)

        first: list[float] = []  # the first voice's score, once found

        def better(found: Found) -> None:
            if not first:
                first.append(found.score)
            if options.on_better is not None:
                options.on_better(answer(found, first[0], found.renders))

        result = self.search.run(
            takes, f0_hz, starts if options.search else starts[:1],
            budget_ms=options.budget_ms if options.search else 0.0, max_renders=options.max_renders, seed=options.seed,
            input_reason=conditioned.pitch_reason, on_better=better, should_stop=options.should_stop,
        )
        best = result.best
        started = time.perf_counter()
        tuned = fine_tune(best.tuning, self.voice_pitch)
        if tuned is not best.tuning:  # the residual shrank: keep the detuned voice unless its sound got worse
            score = self.search.score(tuned.voice, self.search.targets(takes))
            if score <= best.score + DETUNE_SCORE_TOLERANCE:
                best = replace(best, voice=tuned.voice, tuning=tuned, score=score)
        if conditioned.vibrato is not None:  # the answer is scored as it plays: with the input's vibrato
            best = replace(best, score=self.search.score(with_vibrato(best.voice, conditioned.vibrato),
                                                         self.search.targets(takes)))
        timings["search"] = result.elapsed_ms + _ms(started)
        timings["total"] = sum(timings.values())
        return answer(best, result.start.score, result.renders)

    def infer_takes(self, takes: Sequence[Recording], *, search: bool | None = None, budget_ms: float | None = None,
                    max_renders: int | None = None, seed: int = 0, on_better: Callable[[Inference], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> Inference:
        """One voice for several recordings of one sound, each at its own note and velocity (soft and
        loud, low and high): every candidate is played at each take's note and velocity and scored
        against it (the mean; the takes keep their levels relative to each other), so key and velocity
        scaling count. The starts of the take nearest middle C (and velocity 85) come first (as :meth:`infer`'s), then
        each other take's network answer and two nearest library voices; the voice is tuned to the
        takes' pitch brought to the reference note (their median).

        Args:
            takes: the recordings; a take without a note gets the note nearest its pitch.
            search, budget_ms, max_renders, seed, on_better, should_stop: as :meth:`infer`.

        Raises:
            ModelInputError: no take, a take :meth:`infer` would refuse, or an unpitched take without a note.
        """
        if not takes:
            raise ModelInputError("no takes: give at least one recording with its note and velocity")
        options = _SearchOptions(self.search_by_default if search is None else search,
                                 self.search_budget_ms if budget_ms is None else budget_ms,
                                 self.search_max_renders if max_renders is None else max_renders, seed, on_better,
                                 should_stop)
        started = time.perf_counter()
        heard = [self._condition(take.audio, take.sample_rate, number, len(takes)) for number, take in enumerate(takes)]
        notes = [_take_note(take, item, number) for number, (take, item) in enumerate(zip(takes, heard, strict=True))]
        timings = {"conditioning": _ms(started)}
        started = time.perf_counter()
        params = self.backend.audio_to_params(np.stack([item.audio for item in heard]))
        timings["network"] = _ms(started)
        started = time.perf_counter()
        voices = [self.representation.decode(row, DEFAULT_TEMPLATE.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + item.transpose}))
                  for row, item in zip(params, heard, strict=True)]
        reference = min(range(len(takes)), key=lambda i: (abs(notes[i] - REFERENCE_NOTE), abs(takes[i].velocity - 85)))
        latents = self._inverse_flow(params)
        # the take nearest middle C starts the search as a single recording would; the others add their
        # network answers and their two nearest library voices after it
        starts = self._starts(voices[reference], latents[reference], heard[reference], seed)
        for number, item in enumerate(heard):
            if number != reference:
                starts.append((voices[number], f"network (take {number + 1})"))
                starts += [start for start, _ in self._library_starts(self.embed_conditioned(item.audio), item, 2)]
        starts = _distinct(starts)
        timings["library"] = _ms(started)
        pitched = [item.f0_hz * 2.0 ** ((REFERENCE_NOTE - note) / 12.0) for item, note in zip(heard, notes, strict=True)
                   if item.f0_hz is not None]
        f0 = float(np.median(pitched)) if pitched else None
        # one gain for all takes (the reference take's): their levels relative to each other are the velocity response
        gain = heard[reference].gain_db
        search_takes = [Take(item.recording * np.float32(10.0 ** ((gain - item.gain_db) / 20.0)), note, take.velocity)
                        for item, note, take in zip(heard, notes, takes, strict=True)]
        search_takes.insert(0, search_takes.pop(reference))  # the search screens its starts on the first take
        return self._search(search_takes, heard[reference], f0, starts, (voices[reference], latents[reference]), options,
                            timings)

    def _starts(self, network_voice: Voice, network_latent: np.ndarray, conditioned: Conditioned,
                seed: int) -> list[tuple[Voice, str]]:
        """The library's nearest voice first when there is a library (transposed to the input's pitch by its
        stored f0: on held-out voices it is the closer first voice, 0.37 against the network's 0.87), then
        the network's answer, the other library voices and :data:`LATENT_NEIGHBOURS` seeded points around
        the network's latent point."""
        neighbours = self._neighbours(network_voice, network_latent, seed)
        starts = [(network_voice, "network")]
        if self.library is None or len(self.library) == 0:
            return starts + neighbours
        matches = [start for start, _ in self._library_starts(self.embed_conditioned(conditioned.audio), conditioned,
                                                               self.library_k)]
        return [*matches[:1], *starts, *matches[1:], *neighbours]

    def _library_starts(self, query: np.ndarray, conditioned: Conditioned,
                        k: int) -> list[tuple[tuple[Voice, str], float]]:
        """The ``k`` library voices nearest ``query``, transposed to the input's pitch by their stored f0 (else the
        input's planned transpose), and their distances."""
        if self.library is None:
            return []
        return [((m.voice.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + _predicted_transpose(m, conditioned)}),
                  f"library: {m.voice.name.strip() or '(no name)'} ({m.source})"), m.distance)
                for m in self.library.search(query, k)]

    def _neighbours(self, voice: Voice, latent: np.ndarray, seed: int) -> list[tuple[Voice, str]]:
        """:data:`LATENT_NEIGHBOURS` seeded voices around a latent point (its template: ``voice``)."""
        rng = np.random.default_rng(seed)
        return [(self.decode(latent + rng.normal(0.0, LATENT_STEP, latent.shape).astype(np.float32), voice),
                 f"network neighbour {n + 1}") for n in range(LATENT_NEIGHBOURS)]

    def embed_conditioned(self, conditioned_audio: np.ndarray) -> np.ndarray:
        """The library embedding (:func:`engine.library.embed`) of a conditioned input's reference-note row."""
        with torch.inference_mode():
            db = self._frontend.spectrogram_db(torch.from_numpy(np.ascontiguousarray(conditioned_audio[None, :1], np.float32)))
        return embed(db.numpy()[0, 0])

    def embed_recording(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The library embedding of a recording, conditioned as :meth:`infer` conditions it.

        Raises:
            ModelInputError: as :meth:`infer`.
        """
        return self.embed_conditioned(self.conditioner(audio, sample_rate).audio)

    def voice_pitch(self, voice: Voice) -> F0Estimate:
        """The f0 of ``voice`` played at the reference note (a short render; thread-safe)."""
        renderer = getattr(self._local, "pitch_renderer", None)
        if renderer is None:
            renderer = self._local.pitch_renderer = Renderer(self.sample_rate, PITCH_RENDER_SECONDS, PITCH_RENDER_SECONDS)
        return voice_f0(voice, renderer, REFERENCE_NOTE)

    @torch.no_grad()
    def _inverse_flow(self, params: np.ndarray) -> np.ndarray:
        return self._flow.inverse(torch.from_numpy(np.ascontiguousarray(params, dtype=np.float32))).numpy()

    def encode(self, voice: Voice) -> np.ndarray:
        """The latent point zK of a voice (inverse regression flow): (latent_dim,) float32."""
        return self._inverse_flow(self.representation.encode(voice)[None])[0]

    def decode(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        """The voice at a latent point (forward regression flow, then the representation's decode), on
        this thread in NumPy (:class:`engine.latent_decoder.LatentDecoder`) whatever the backend: at batch 1
        it is faster than any backend's ``latent_to_params`` (README, *dexbridge bench*).

        Args:
            latent: (latent_dim,) zK.
            template: gives the parameters that are not learned (transpose, name); default
                transpose 24 (none) and the name "DEXBRIDGE".

        Raises:
            ModelInputError: wrong size, NaN or inf.
        """
        point = np.asarray(latent, dtype=np.float32)
        if point.shape != (self.latent_dim,):
            raise ModelInputError(f"latent shape {point.shape}: expected ({self.latent_dim},) for this checkpoint "
                                  f"({self.checkpoint.representation})")
        if not np.isfinite(point).all():
            raise ModelInputError(f"latent holds {int((~np.isfinite(point)).sum())} NaN/inf values: give finite values")
        return self._latent_decoder.voice(point, template)

    def macros_to_latent(self, values: Sequence[float], origin: np.ndarray | None = None) -> np.ndarray:
        """The latent point at macro positions (see :func:`engine.latent.macros_to_latent`).

        Raises:
            ModelInputError: the checkpoint has no latent axes, too many values, or bad origin.
        """
        axes = self.checkpoint.latent_axes
        if axes is None:
            raise ModelInputError(
                f"checkpoint {self.checkpoint.path or '(in memory)'} has no latent axes, so no macro controls: "
                "export it with 'dexbridge export-checkpoint --axes-corpus CORPUS.sqlite'"
            )
        return macros_to_latent(axes, values, origin)
