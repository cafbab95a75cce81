"""The inference engine: a checkpoint loaded once, then sound -> voice, voice <-> latent, macros.

:class:`Engine` is synchronous and thread-safe (the backend is, the search renders with one
dexed-py synth per thread); :class:`engine.worker.InferenceWorker` is its asyncio face. The
serving path is the backend's (``engine.backends.select_backend``); ``decode`` (latent -> voice, what
every morph or macro step costs) runs the regression flow as one compiled loop over packed weights whatever the backend
(:mod:`engine.latent_decoder`); the inverse regression flow (``encode``) runs in torch. Conditioning
(resampling, level, the input's pitch) is :mod:`engine.conditioning`; the voice library
:mod:`engine.library`; tuning a voice to the input's pitch :mod:`engine.tuning`; the multi-start
anytime search over the network's answer and the library's nearest voices :mod:`engine.search`, run from
its starts by :mod:`engine.inference` (which also defines the :class:`Inference` answered); a take, :mod:`engine.takes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.allocator import keep_large_blocks
from engine.backends import Backend, select_backend
from engine.conditioning import REFERENCE_NOTE, Conditioned, Conditioner, plan_transpose
from engine.cores import one_blas_thread
from engine.inference import (
    Diagnostics,
    Inference,
    SearchOptions,
    distinct,
    library_starts,
    ms,
    run_search,
    starts,
)
from engine.latent import macros_to_latent
from engine.latent_decoder import LatentDecoder
from engine.library import VoiceLibrary, embed
from engine.macro_table import MacroTable, positions
from engine.neural_pitch import warm_up
from engine.pitch import F0Estimate
from engine.render_pool import RenderPool
from engine.search import DEFAULT_BUDGET_MS, VoiceSearch
from engine.search_score import DEFAULT_SCORE, separate_parts
from engine.takes import Take, take_note, takes_pitch
from models.checkpoint import DEFAULT_CHECKPOINT, Checkpoint, load_checkpoint
from models.errors import ModelInputError
from models.frontend import Frontend
from models.latent_axes import LatentAxes, regression_flow
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.representations import DEFAULT_TEMPLATE, get_representation
from models.voice import Voice

__all__ = ["Diagnostics", "Engine", "Inference"]

WARMUP_SECONDS = 1.0
LIBRARY_K = 32


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
        search_workers: processes that render for the search (:class:`engine.render_pool.RenderPool`);
            1 renders on the searching thread. The answers do not depend on it.
        search_score: how the search compares a render with a recording (:data:`engine.search_score.SCORES`).
    """

    def __init__(self, checkpoint: Checkpoint, backend: Backend, *, search: bool = True,
                 search_budget_ms: float = DEFAULT_BUDGET_MS, library: VoiceLibrary | None = None,
                 library_k: int = LIBRARY_K, search_max_renders: int | None = None, search_workers: int = 1,
                 search_score: str = DEFAULT_SCORE) -> None:
        self.checkpoint = checkpoint
        self.backend = backend
        self.search_by_default = search
        self.search_budget_ms = search_budget_ms
        self.library = library
        self.library_k = library_k
        one_blas_thread()  # for the whole process: the engine's products are small (engine.cores)
        keep_large_blocks()  # and its scores' arrays reused, not mapped afresh for every voice (engine.allocator)
        self.search_max_renders = search_max_renders
        self.representation = get_representation(checkpoint.representation)
        frontend = checkpoint.config.frontend
        self.conditioner = Conditioner(frontend.sample_rate, frontend.num_samples, checkpoint.notes)
        pool = RenderPool(search_workers, frontend.sample_rate, frontend.duration_s) if search_workers > 1 else None
        self.search = VoiceSearch(frontend.sample_rate, frontend.duration_s, pool, search_score)
        self._flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
        self._latent_decoder = LatentDecoder(self._flow, self.representation)
        self._frontend = Frontend(frontend, checkpoint.frontend_stats).eval()

    @classmethod
    def load(cls, path: Path | None = None, *, backend: str = "auto", search: bool = True,
             search_budget_ms: float = DEFAULT_BUDGET_MS, library: VoiceLibrary | None = None,
             search_max_renders: int | None = None, threads: int | None = None, search_workers: int = 1,
             search_score: str = DEFAULT_SCORE) -> Engine:
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
            search_workers: processes that render for the search (1: the searching thread).
            search_score: how the search compares a render with a recording.

        Raises:
            CheckpointError: missing or invalid checkpoint.
            BackendError: the backend is unknown or cannot run here.
        """
        if threads is not None:
            torch.set_num_threads(threads)  # before the backend: ONNX sessions take torch's count
        checkpoint = load_checkpoint(DEFAULT_CHECKPOINT if path is None else Path(path))
        engine = cls(checkpoint, select_backend(backend, checkpoint), search=search, search_budget_ms=search_budget_ms,
                     library=library, search_max_renders=search_max_renders, search_workers=search_workers,
                     search_score=search_score)
        engine.infer(engine.reference_tone(), engine.sample_rate, search=False)  # compiles pitch tracking, warms the backend
        warm_up()  # the neural pitch check, which the reference tone does not need
        if engine.search.pool is not None:
            engine.search.pool.wait_started()  # the first search does not wait for its workers
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
        """
        options = SearchOptions(self.search_by_default if search is None else search,
                                 self.search_budget_ms if budget_ms is None else budget_ms,
                                 self.search_max_renders if max_renders is None else max_renders, seed, on_better,
                                 should_stop)
        return self._infer_all([audio], sample_rate, options)[0]

    def infer_batch(self, audios: Sequence[np.ndarray], sample_rate: int, *, search: bool | None = None) -> list[Inference]:
        """:meth:`infer` for several recordings at one rate, the network run once on the batch.

        Raises:
            ModelInputError: no recordings, or one that :meth:`infer` refuses (the message names it).
        """
        options = SearchOptions(self.search_by_default if search is None else search, self.search_budget_ms,
                                 self.search_max_renders)
        return self._infer_all(audios, sample_rate, options)

    def _infer_all(self, audios: Sequence[np.ndarray], sample_rate: int, options: SearchOptions) -> list[Inference]:
        if len(audios) == 0:
            raise ModelInputError("infer_batch got no recordings: pass a list of 1-D or (samples, channels) arrays")
        started = time.perf_counter()
        conditioned = [self._condition(audio, sample_rate, number, len(audios)) for number, audio in enumerate(audios)]
        conditioning_ms = ms(started) / len(audios)
        started = time.perf_counter()
        params = self.backend.audio_to_params(np.stack([item.audio for item in conditioned]))
        network_ms = ms(started) / len(audios)
        return [self._finish(item, row, options, {"conditioning": conditioning_ms, "network": network_ms})
                for item, row in zip(conditioned, params, strict=True)]

    def _condition(self, audio: np.ndarray, sample_rate: int, number: int, count: int) -> Conditioned:
        try:
            return self.conditioner(audio, sample_rate)
        except ModelInputError as error:
            if count == 1:
                raise
            raise type(error)(f"recording {number} of {count}: {error}") from None

    def _finish(self, conditioned: Conditioned, params: np.ndarray, options: SearchOptions,
                timings: dict[str, float]) -> Inference:
        started = time.perf_counter()
        template = DEFAULT_TEMPLATE.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + conditioned.transpose})
        network_voice = self.representation.decode(params, template)
        network_latent = self._inverse_flow(params[None])[0]
        timings["decode"] = ms(started)
        started = time.perf_counter()
        first = starts(self, network_voice, network_latent, conditioned, options.seed)
        timings["library"] = ms(started)
        return run_search(self, [Take(conditioned.at_input_level, self.sample_rate, REFERENCE_NOTE, 85)], conditioned,
                          conditioned.f0_hz, first, (network_voice, network_latent), options, timings)[0]

    def infer_takes(self, takes: Sequence[Take], *, search: bool | None = None, budget_ms: float | None = None,
                    max_renders: int | None = None, seed: int = 0, on_better: Callable[[Inference], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> Inference:
        """One voice for several recordings of one sound, each at its own note and velocity (soft and
        loud, low and high): every candidate is played at each take's note and velocity and scored
        against it (the mean; the takes keep their levels relative to each other), so key and velocity
        scaling count. The take nearest middle C (and velocity 85) is first answered alone, as
        :meth:`infer` answers it; every better voice that search found is then judged on all the takes,
        ahead of each other take's network answer and two nearest library voices, and the best is
        improved on all the takes, tuned to their pitch brought to the reference note (their median; none when
        fewer than half the takes have a pitch, :func:`engine.takes.takes_pitch`).
        The answer plays the takes no worse than the reference take's own answer, by the mean score over the
        takes and by each distance it adds (log-spectral MAE, log-mel dB); it is that answer otherwise.

        The search options (``search``, ``budget_ms``, ``max_renders``, ``seed``, ``on_better``, ``should_stop``)
        are :meth:`infer`'s; the first search gets the budget, the second the render budget once per take (a
        candidate costs a render per take it is played on: with the same budget six takes judged a sixth as many
        candidates as one take, and six takes answered hardly closer than one), and ``on_better`` sees the second
        one's voices.

        Args:
            takes: the recordings; a take without a note gets the note nearest its pitch.

        Raises:
            ModelInputError: no take, a take :meth:`infer` would refuse, or an unpitched take without a note.
        """
        if not takes:
            raise ModelInputError("no takes: give at least one recording with its note and velocity")
        options = SearchOptions(self.search_by_default if search is None else search,
                                 self.search_budget_ms if budget_ms is None else budget_ms,
                                 self.search_max_renders if max_renders is None else max_renders, seed, on_better,
                                 should_stop)
        started = time.perf_counter()
        heard = [self._condition(take.audio, take.sample_rate, number, len(takes)) for number, take in enumerate(takes)]
        notes = [take_note(take, item, number) for number, (take, item) in enumerate(zip(takes, heard, strict=True))]
        timings = {"conditioning": ms(started)}
        started = time.perf_counter()
        params = self.backend.audio_to_params(np.stack([item.audio for item in heard]))
        timings["network"] = ms(started)
        started = time.perf_counter()
        voices = [self.representation.decode(row, DEFAULT_TEMPLATE.replace({TRANSPOSE_INDEX: TRANSPOSE_CENTRE + item.transpose}))
                  for row, item in zip(params, heard, strict=True)]
        reference = min(range(len(takes)), key=lambda i: (abs(notes[i] - REFERENCE_NOTE), abs(takes[i].velocity - 85)))
        latents = self._inverse_flow(params)
        network = (voices[reference], latents[reference])
        found = starts(self, *network, heard[reference], seed)
        search_takes = [Take(item.at_input_level, self.sample_rate, note, take.velocity)  # their levels relative to each
                        for item, note, take in zip(heard, notes, takes, strict=True)]  # other: the velocity response
        search_takes.insert(0, search_takes.pop(reference))  # the search screens its starts on the first take
        timings["library"] = ms(started)
        # first the reference take alone, as infer() answers it; then every voice that search found is judged on
        # all the takes, ahead of the other takes' network answers and two nearest library voices each
        alone, alone_search = run_search(self, search_takes[:1], heard[reference], heard[reference].f0_hz, found, network,
                                         replace(options, on_better=None), dict(timings))
        judged = distinct([(item.voice, item.source) for item in reversed(alone_search.found)])
        for number, item in enumerate(heard):
            if number != reference:
                found.append((voices[number], f"network (take {number + 1})"))
                found += [start for start, _ in library_starts(self, self.embed_conditioned(item.audio), item, 2)]
        f0 = takes_pitch([item.f0_hz for item in heard], notes, REFERENCE_NOTE)
        per_take = replace(options, max_renders=None if options.max_renders is None else options.max_renders * len(takes))
        together, _ = run_search(self, search_takes, heard[reference], f0, distinct(judged + found), network, per_take,
                                 timings, judged=len(judged))
        return self._no_worse(together, alone, search_takes)

    def _no_worse(self, together: Inference, alone: Inference, takes: Sequence[Take]) -> Inference:
        """The all-takes answer, or the reference take's own answer where that plays all the takes closer (the final
        fine tuning may cost the former a little) by the search's score or by any distance the score adds (the
        log-spectral MAE, log-mel dB: an improvement counts when it holds on each), scored on all the takes either way."""
        ours, theirs = together.diagnostics.distance[1], self.search.score(alone.voice, self.search.targets(takes))
        closer = ours <= theirs and all(
            self.search.score(together.voice, targets) <= self.search.score(alone.voice, targets)
            for targets in (self.search.targets(takes, part) for part in separate_parts(self.search.score_kind)))
        chosen, distance = (together, ours) if closer else (alone, theirs)
        diagnostics = replace(chosen.diagnostics, distance=(together.diagnostics.distance[0], distance),
                              renders=together.diagnostics.renders + alone.diagnostics.renders)
        return replace(chosen, diagnostics=diagnostics)

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
        return self.search.measure_pitch(voice)

    @torch.no_grad()
    def _inverse_flow(self, params: np.ndarray) -> np.ndarray:
        return self._flow.inverse(torch.from_numpy(np.ascontiguousarray(params, dtype=np.float32))).numpy()

    def encode(self, voice: Voice) -> np.ndarray:
        """The latent point zK of a voice (inverse regression flow): (latent_dim,) float32."""
        return self._inverse_flow(self.representation.encode(voice)[None])[0]

    def decode(self, latent: np.ndarray, template: Voice | None = None) -> Voice:
        """The voice at a latent point (forward regression flow, then the representation's decode), on
        this thread in one compiled loop (:class:`engine.latent_decoder.LatentDecoder`) whatever the backend: at batch 1
        it is faster than any backend's ``latent_to_params`` (docs/results.md, *dexbridge bench*).

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

    @property
    def macro_names(self) -> tuple[str, ...]:
        """What each macro does to the sound (``LatentAxes.names``); empty without axes."""
        axes = self.checkpoint.latent_axes
        return () if axes is None else axes.names

    def _axes(self) -> LatentAxes:
        axes = self.checkpoint.latent_axes
        if axes is None:
            raise ModelInputError(
                f"checkpoint {self.checkpoint.path or '(in memory)'} has no latent axes, so no macro controls: "
                "export it with 'dexbridge export-checkpoint --axes-corpus CORPUS.sqlite'"
            )
        return axes

    def macros_to_latent(self, values: Sequence[float], origin: np.ndarray | None = None) -> np.ndarray:
        """The latent point at macro positions (see :func:`engine.latent.macros_to_latent`).

        Raises:
            ModelInputError: the checkpoint has no latent axes, too many values, or bad origin.
        """
        return macros_to_latent(self._axes(), values, origin)

    def macro_table(self, voice: Voice, latent: np.ndarray | None = None) -> MacroTable:
        """The macro moves around ``voice`` (:class:`engine.macro_table.MacroTable`): every axis decoded
        at the table's positions around its latent point (encoded when not given), in one batch.

        Raises:
            ModelInputError: the checkpoint has no latent axes, or a latent of the wrong size.
        """
        axes = self._axes()
        origin = self.encode(voice) if latent is None else latent
        grid = positions()
        points = np.stack([self.macros_to_latent(np.eye(axes.count)[axis] * amount, origin)
                           for axis in range(axes.count) for amount in grid])
        vectors = self._latent_decoder.flow.forward(points.astype(np.float32))
        decoded = self.representation.decode_values(vectors, voice)
        return MacroTable.of(voice, decoded.reshape(axes.count, len(grid), -1))
