"""Evaluation on held-out voices: the network, the default pipeline and two honest baselines.

For every test voice: render it on the model's notes (dexed-py), infer a voice from that audio,
re-render the inferred voice on the same notes and score it with the paper's metrics
(:mod:`models.metrics`). Four answers are scored for each voice:

- ``network``: the model's raw answer (front end -> encoder -> flows -> representation decode);
- each ``pipeline``: what ``dexbridge infer`` returns (for example at several search budgets),
  callables the caller injects by name (``models`` never imports the engine); the network's
  answer for a voice a pipeline refuses (silence: counted in :attr:`EvalReport.refused`);
- ``mean``: one voice for all, the training split's mean (numerical parameters, rounded) and mode
  (every other parameter): what a model that ignores its input can do at best in ``num_mae``;
- ``nearest``: the training voice whose spectrogram is closest to the input's (Euclidean distance
  between dB mel spectrograms of the model's front end, 2 x 2 average-pooled), searched over the
  whole training split: retrieval without learning.

Renders and audio features run in worker processes; the model runs in this process.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import torch
from tqdm import tqdm

from models.checkpoint import Checkpoint, build_model
from models.config import FrontendConfig
from models.dataset import render_pool, worker_tools
from models.errors import EvaluationError
from models.frontend import Frontend
from models.metrics import AudioFeatures, Scores, score
from models.params import VOICE_PARAMS, Kind
from models.render import Note
from models.representations import get_representation
from models.voice import Voice

MEAN_VOICE_NAME = "MEAN VOICE"
POOL = 2  # nearest-neighbour search on 2 x 2 average-pooled spectrograms: 4x less memory and time
Pipeline = Callable[[np.ndarray], Voice | None]
"""Audio (notes, samples) float32 at the model's rate -> the voice ``dexbridge infer`` returns,
or ``None`` where it refuses the input."""

_WORKER_PRELOAD = ["models.evaluate", "librosa.feature"]  # beside what models.dataset preloads


@dataclass(frozen=True)
class EvalReport:
    """Mean scores over ``n_voices`` test voices; :meth:`to_dict` is the ``--json`` document.

    Attributes:
        pipelines: pipeline name -> its mean scores.
        refused: pipeline name -> voices it refused (scored with the network's answer).
        by_label: label (harmonic / percussive / sfx) -> answer name -> mean scores over the test voices
            of that label, when labels were given.
    """

    n_voices: int
    network: Scores
    pipelines: dict[str, Scores]
    mean: Scores
    nearest: Scores
    refused: dict[str, int]
    by_label: dict[str, dict[str, Scores]] = dataclasses.field(default_factory=dict)

    def answers(self) -> dict[str, Scores]:
        """Every answer's mean scores by name: network, each pipeline, mean voice, nearest."""
        return {"network": self.network, **self.pipelines, "mean voice": self.mean, "nearest": self.nearest}

    def to_dict(self) -> dict[str, object]:
        """``{"n_voices", "network", "pipelines": {name: scores}, "refused", "baselines": {"mean", "nearest"},
        "by_label": {label: {answer: scores}}}``."""
        return {"n_voices": self.n_voices, "network": self.network.to_dict(),
                "pipelines": {name: scores.to_dict() for name, scores in self.pipelines.items()},
                "refused": self.refused,
                "baselines": {"mean": self.mean.to_dict(), "nearest": self.nearest.to_dict()},
                "by_label": {label: {name: s.to_dict() for name, s in answers.items()}
                             for label, answers in self.by_label.items()}}


def mean_voice(voices: Sequence[Voice]) -> Voice:
    """The mean voice: numerical parameters averaged and rounded, every other one the most common.

    Raises:
        EvaluationError: no voices.
    """
    if not voices:
        raise EvaluationError("the mean voice needs at least one training voice")
    values = np.array([v.values for v in voices], dtype=np.int64)
    result = []
    for spec in VOICE_PARAMS:
        column = values[:, spec.index]
        if spec.kind is Kind.NUMERICAL:
            result.append(int(np.floor(column.mean() + 0.5)))
        else:
            result.append(int(np.bincount(column).argmax()))
    return Voice.from_values(result).with_name(MEAN_VOICE_NAME)


def pooled_features(db: np.ndarray) -> np.ndarray:
    """(items, notes, n_mels, frames) dB spectrograms -> float32 (items, features), 2 x 2 pooled."""
    items, notes, mels, frames = db.shape
    cropped = np.asarray(db[:, :, : mels - mels % POOL, : frames - frames % POOL], dtype=np.float32)
    pooled = cropped.reshape(items, notes, mels // POOL, POOL, frames // POOL, POOL).mean(axis=(3, 5))
    return pooled.reshape(items, -1)


class SpectrogramIndex:
    """Exact nearest-neighbour search over training spectrograms (:func:`pooled_features`)."""

    def __init__(self, features: np.ndarray) -> None:
        """
        Args:
            features: float32 (train items, features).

        Raises:
            EvaluationError: no training spectrogram.
        """
        if len(features) == 0:
            raise EvaluationError("the nearest-neighbour baseline needs at least one training spectrogram")
        self._features = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        self._half_norms = 0.5 * (self._features**2).sum(dim=1)

    def __len__(self) -> int:
        return len(self._features)

    def nearest(self, features: np.ndarray) -> np.ndarray:
        """Index of the closest training item for each query row (ties: the lowest index)."""
        queries = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
        # argmin |q - t|^2 = argmin (|t|^2 / 2 - q.t): one matrix product for the whole batch.
        distances = self._half_norms[None, :] - queries @ self._features.T
        return distances.argmin(dim=1).numpy()


@dataclass(frozen=True)
class _RenderTask:
    vceds: tuple[bytes, ...]
    notes: tuple[Note, ...]
    frontend: FrontendConfig


def _render_chunk(task: _RenderTask) -> tuple[np.ndarray, np.ndarray]:
    """Audio (items, notes, samples) float32 and dB spectrograms (items, notes, mels, frames) float16."""
    renderer, frontend = worker_tools(task.frontend)
    audio = np.stack([renderer.render_notes(Voice.from_values(vced), task.notes) for vced in task.vceds])
    with torch.inference_mode():
        db = frontend.spectrogram_db(torch.from_numpy(audio)).numpy().astype(np.float16)
    return audio, db


@dataclass(frozen=True)
class _ScoreTask:
    target: bytes
    audio: np.ndarray
    candidates: tuple[bytes, ...]
    notes: tuple[Note, ...]
    frontend: FrontendConfig


@functools.lru_cache(maxsize=16)  # the mean voice and repeated answers are rendered once per worker
def _features_of(vced: bytes, notes: tuple[Note, ...], frontend: FrontendConfig) -> AudioFeatures:
    renderer, _ = worker_tools(frontend)
    return AudioFeatures.of(renderer.render_notes(Voice.from_values(vced), notes), frontend.sample_rate)


def _score_item(task: _ScoreTask) -> list[Scores]:
    """Scores of each candidate voice against the target voice and its render."""
    target = Voice.from_values(task.target)
    target_features = AudioFeatures.of(task.audio, task.frontend.sample_rate)
    return [score(target, Voice.from_values(c), target_features, _features_of(c, task.notes, task.frontend))
            for c in task.candidates]


def _chunks(voices: Sequence[Voice], size: int) -> Iterator[tuple[bytes, ...]]:
    it = iter(voices)
    while chunk := tuple(bytes(v.values) for v in islice(it, size)):
        yield chunk


def render_spectrograms(voices: Sequence[Voice], notes: Sequence[Note], frontend: FrontendConfig, *,
                        workers: int = 2, chunk: int = 32, progress: bool = False) -> np.ndarray:
    """dB spectrograms (items, notes, n_mels, frames) float16 of voices rendered with dexed-py."""
    notes, parts = tuple(notes), []
    with render_pool(workers, _WORKER_PRELOAD) as pool, tqdm(total=len(voices), desc="render train", unit="voice",
                                      disable=not progress) as bar:
        for _, db in pool.map(_render_chunk, (_RenderTask(c, notes, frontend) for c in _chunks(voices, chunk))):
            parts.append(db)
            bar.update(len(db))
    shape = (0, len(notes), frontend.n_mels, frontend.num_frames)
    return np.concatenate(parts) if parts else np.empty(shape, np.float16)


def evaluate(
    checkpoint: Checkpoint,
    test_voices: Sequence[Voice],
    train_voices: Sequence[Voice],
    train_index: SpectrogramIndex,
    *,
    pipelines: Mapping[str, Pipeline] | None = None,
    labels: Sequence[str | None] | None = None,
    workers: int = 2,
    chunk: int = 32,
    progress: bool = False,
) -> EvalReport:
    """Score the network, the pipelines and both baselines on ``test_voices``.

    Args:
        checkpoint: the model to evaluate (its notes and front end decide the renders).
        test_voices: held-out voices.
        train_voices: the training split (the mean voice; the answers of ``train_index``).
        train_index: the training spectrograms, item ``i`` = ``train_voices[i]``.
        pipelines: inference paths by name (``dexbridge infer`` at several budgets, ...).
        labels: each test voice's label (harmonic / percussive / sfx, or None): scores per label too.
        workers: render / scoring processes.
        chunk: voices per batch.
        progress: a tqdm bar on stderr.

    Raises:
        EvaluationError: no test voice, or a training index that does not match ``train_voices``.
    """
    if not test_voices:
        raise EvaluationError("no test voice to evaluate: check the corpus split or the .syx file")
    if len(train_index) != len(train_voices):
        raise EvaluationError(f"{len(train_index)} training spectrograms for {len(train_voices)} training voices")
    config, notes = checkpoint.config, checkpoint.notes
    model = build_model(checkpoint)
    frontend = Frontend(config.frontend, checkpoint.frontend_stats)
    representation = get_representation(checkpoint.representation)
    mean = bytes(mean_voice(train_voices).values)
    pipelines = dict(pipelines or {})
    rows: list[list[Scores]] = []
    refused = dict.fromkeys(pipelines, 0)
    chunks = list(_chunks(test_voices, chunk))
    with (render_pool(workers, _WORKER_PRELOAD) as pool,
          tqdm(total=len(test_voices), desc="eval", unit="voice", disable=not progress) as bar):
        rendering = pool.submit(_render_chunk, _RenderTask(chunks[0], notes, config.frontend))
        for position, vceds in enumerate(chunks):
            audio, db = rendering.result()
            if position + 1 < len(chunks):  # render the next chunk while this one is scored
                rendering = pool.submit(_render_chunk, _RenderTask(chunks[position + 1], notes, config.frontend))
            with torch.inference_mode():
                params = model.infer(frontend(torch.from_numpy(audio))).numpy()
            network = [bytes(v.values) for v in representation.decode_batch(params)]
            piped: list[tuple[bytes, ...]] = [() for _ in audio]
            for name, pipeline in pipelines.items():
                answers = [pipeline(a) for a in audio]
                refused[name] += sum(answer is None for answer in answers)
                piped = [(*p, n if a is None else bytes(a.values)) for p, n, a in zip(piped, network, answers, strict=True)]
            nearest = [bytes(train_voices[i].values) for i in train_index.nearest(pooled_features(db))]
            tasks = [_ScoreTask(target, item_audio, (n, mean, r, *p), notes, config.frontend)
                     for target, item_audio, n, p, r in zip(vceds, audio, network, piped, nearest, strict=True)]
            rows.extend(pool.map(_score_item, tasks))
            bar.update(len(vceds))
    names = ["network", "mean voice", "nearest", *pipelines]
    network_scores, mean_scores, nearest_scores, *piped_scores = (Scores.mean(list(c)) for c in zip(*rows, strict=True))
    by_label: dict[str, dict[str, Scores]] = {}
    for label in sorted({label for label in labels or () if label}):
        mine = [row for row, own in zip(rows, labels or (), strict=True) if own == label]
        by_label[label] = dict(zip(names, (Scores.mean(list(c)) for c in zip(*mine, strict=True)), strict=True))
    return EvalReport(len(rows), network_scores, dict(zip(pipelines, piped_scores, strict=True)), mean_scores,
                      nearest_scores, refused, by_label)
