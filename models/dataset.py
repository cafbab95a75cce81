"""Render the corpus to mel spectrograms on disk, resumably, and serve them as a torch Dataset.

:func:`render_dataset` renders every voice of a corpus (all splits) with dexed-py on the paper's
note(s) (22 050 Hz, note held 3.0 s of 4.0 s), runs the model's own front end
(:meth:`models.frontend.Frontend.spectrogram_db`) and writes the dB spectrograms into a ``.npy``
file through a memory map, in worker processes. A dataset directory holds:

- ``manifest.json``: what was rendered (corpus hash, notes, render and front-end settings,
  shape, dtype), each run's timing, and once complete the normalisation ``stats``;
- ``index.npz``: per row the corpus ``voice_id`` (int64), ``split`` (uint8 index into
  :data:`SPLITS`) and the 155 VCED ``values`` (uint8), in the corpus's order;
- ``spectrograms.npy``: float16 ``(rows, notes, n_mels, frames)`` dB, floored at -120 dB;
- ``done.npy``: bool ``(rows,)``, the rows written; ``db_range.npy``: float32 ``(rows, 2)``,
  each row's smallest and largest stored dB value.

Crash safety: a worker writes and flushes its chunk's rows before it reports; only then does
the main process mark them in ``done.npy`` and flush it. A cut (even ``kill -9``) loses at most
the chunks in flight, and a re-run renders only the rows not marked done.

Precision: float16 keeps -120..+40 dB to within 1/32 dB (1/64 dB below 64 dB in magnitude),
under 4e-4 on the normalised [-1, 1] scale of a 160 dB range.

Statistics: the min / max dB over the **train split only** (validation and test rows never
inform the normalisation), taken from the per-row ranges of the stored float16 values, so a
resumed render gets the same stats as an uncut one and train spectrograms span exactly [-1, 1].
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.lib.format import open_memmap
from torch.utils.data import Dataset
from tqdm import tqdm

from models.config import FrontendConfig
from models.corpus import SPLITS, open_corpus
from models.errors import DatasetError
from models.frontend import Frontend, FrontendStats
from models.layout import NOTE_SET_NAMES
from models.render import MULTI_NOTES, NOTE_SECONDS, SINGLE_NOTE, Note, Renderer
from models.representations import get_representation
from models.voice import Voice

FORMAT = "dexbridge-spectrograms"
FORMAT_VERSION = 1
STORE_DTYPE = np.dtype(np.float16)
NOTE_SETS: dict[str, tuple[Note, ...]] = dict(zip(NOTE_SET_NAMES, (SINGLE_NOTE, MULTI_NOTES), strict=True))
MANIFEST, INDEX, SPECTROGRAMS, DONE, DB_RANGE = (
    "manifest.json", "index.npz", "spectrograms.npy", "done.npy", "db_range.npy"
)
_FILES = (MANIFEST, INDEX, SPECTROGRAMS, DONE, DB_RANGE)  # manifest first: deleting it voids the rest
# Manifest keys that must match for a re-run to resume into an existing directory.
_IDENTITY = ("format", "format_version", "corpus_sha256", "rows", "notes", "note_seconds", "frontend",
             "shape", "dtype")
# Imported once by the fork server rather than by every worker: the mel filters import librosa's
# numba-compiled utilities lazily, about 2.5 s a process.
_WORKER_PRELOAD = [__name__, "librosa.filters", "librosa.util.utils"]
# spectrogram_db never reads the stats; a Frontend needs some to be built.
_UNUSED_STATS = FrontendStats(min_db=-120.0, max_db=0.0)


@dataclass(frozen=True)
class DatasetInfo:
    """What one :func:`render_dataset` call did.

    Attributes:
        out_dir: the dataset directory.
        rows: voices in the dataset (all splits).
        notes: the (note, velocity) pairs rendered per voice.
        rendered: rows rendered by this call.
        already_done: rows found done from an earlier, cut run.
        seconds: wall time of this call's rendering.
        workers: worker processes used.
        stats: train-split dB range, ``None`` when the corpus has no train voice.
    """

    out_dir: Path
    rows: int
    notes: tuple[Note, ...]
    rendered: int
    already_done: int
    seconds: float
    workers: int
    stats: FrontendStats | None

    def timing_line(self) -> str:
        """E.g. ``rendered 29834 voices x 1 note in 312.4 s (10.5 ms/voice, 2 workers)``."""
        per_voice = 1000.0 * self.seconds / self.rendered if self.rendered else 0.0
        notes = f"{len(self.notes)} note{'s' if len(self.notes) > 1 else ''}"
        line = (f"rendered {self.rendered} voices x {notes} in {self.seconds:.1f} s "
                f"({per_voice:.1f} ms/voice, {self.workers} workers)")
        return f"{line}; {self.already_done} already done" if self.already_done else line


@dataclass(frozen=True)
class _Index:
    """Per row: corpus voice id, split code (index into SPLITS), VCED values."""

    voice_ids: np.ndarray
    splits: np.ndarray
    values: np.ndarray

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for array in (self.voice_ids, self.splits, self.values):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        np.savez(path, voice_id=self.voice_ids, split=self.splits, values=self.values)

    @classmethod
    def load(cls, path: Path) -> _Index:
        with np.load(path) as data:
            return cls(data["voice_id"], data["split"], data["values"])


def _read_corpus(corpus_path: Path) -> _Index:
    """Every voice of the corpus, split by split in :data:`SPLITS` order."""
    ids: list[int] = []
    codes: list[int] = []
    values: list[tuple[int, ...]] = []
    with open_corpus(corpus_path) as corpus:
        for code, split in enumerate(SPLITS):
            voices = corpus.voices(split)
            ids.extend(corpus.ids(split))
            codes.extend([code] * len(voices))
            values.extend(voice.values for voice in voices)
    return _Index(np.array(ids, dtype=np.int64), np.array(codes, dtype=np.uint8),
                  np.array(values, dtype=np.uint8).reshape(len(values), -1))


def _read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{out_dir} is not a dataset: no {MANIFEST} (make one: dexbridge dataset render)") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} is not valid JSON ({error}): render again with --overwrite") from None
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a {FORMAT} manifest (format {manifest.get('format')!r})")
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    temporary = out_dir / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out_dir / MANIFEST)


def _check_compatible(out_dir: Path, manifest: dict[str, Any], expected: dict[str, Any]) -> None:
    differences = [f"{key} {manifest.get(key)!r} (now {expected[key]!r})"
                   for key in _IDENTITY if manifest.get(key) != expected[key]]
    if differences:
        raise DatasetError(
            f"{out_dir} holds a dataset rendered with other settings: {'; '.join(differences)}. "
            "Render into a new --out directory, or pass --overwrite to replace it"
        )


def _prepare(out_dir: Path, expected: dict[str, Any], index: _Index, overwrite: bool) -> dict[str, Any]:
    """The manifest of a directory ready to render into: existing and compatible, or new."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"--out {out_dir} is a file: give a directory for the dataset")
    if overwrite:
        for name in _FILES:
            (out_dir / name).unlink(missing_ok=True)
    if (out_dir / MANIFEST).exists():
        manifest = _read_manifest(out_dir)
        _check_compatible(out_dir, manifest, expected)
        return manifest
    # No manifest: a new directory, or one cut while being created; the manifest comes last.
    out_dir.mkdir(parents=True, exist_ok=True)
    index.save(out_dir / INDEX)
    open_memmap(out_dir / SPECTROGRAMS, mode="w+", dtype=STORE_DTYPE, shape=tuple(expected["shape"])).flush()
    np.save(out_dir / DONE, np.zeros(expected["rows"], dtype=bool))
    np.save(out_dir / DB_RANGE, np.full((expected["rows"], 2), np.nan, dtype=np.float32))
    manifest = {**expected, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "complete": False, "stats": None, "runs": []}
    _write_manifest(out_dir, manifest)
    return manifest


def _open_progress(out_dir: Path, rows: int) -> tuple[np.memmap, np.memmap]:
    """The writable done mask and per-row dB ranges; a damaged directory is a DatasetError."""
    try:
        done = np.load(out_dir / DONE, mmap_mode="r+")
        db_range = np.load(out_dir / DB_RANGE, mmap_mode="r+")
        spectrograms = np.load(out_dir / SPECTROGRAMS, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DatasetError(f"dataset {out_dir} is damaged ({error}): render again with --overwrite") from None
    if done.shape != (rows,) or db_range.shape != (rows, 2) or spectrograms.shape[0] != rows:
        raise DatasetError(f"dataset {out_dir} is damaged (arrays not of {rows} rows): render again with --overwrite")
    return done, db_range


@dataclass(frozen=True)
class _Chunk:
    """Contiguous rows for one worker to render."""

    spectrograms: Path
    start: int
    vceds: tuple[bytes, ...]
    notes: tuple[Note, ...]
    frontend: FrontendConfig


@functools.cache
def worker_tools(config: FrontendConfig) -> tuple[Renderer, Frontend]:
    """This worker process's renderer and front end (for ``spectrogram_db``), built on first use."""
    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    return Renderer(config.sample_rate, NOTE_SECONDS, config.duration_s), Frontend(config, _UNUSED_STATS)


def render_pool(workers: int, preload: Sequence[str] = ()) -> ProcessPoolExecutor:
    """Worker processes for rendering, forked from a server that imported ``preload`` once."""
    context = multiprocessing.get_context("forkserver")  # fork is unsafe once torch runs threads
    context.set_forkserver_preload([*_WORKER_PRELOAD, *preload])
    return ProcessPoolExecutor(workers, mp_context=context)


def _render_chunk(chunk: _Chunk) -> tuple[int, np.ndarray]:
    """Render, transform and write a chunk's rows; returns (first row, (rows, 2) dB ranges)."""
    renderer, frontend = worker_tools(chunk.frontend)
    spectrograms = np.load(chunk.spectrograms, mmap_mode="r+")
    ranges = np.empty((len(chunk.vceds), 2), dtype=np.float32)
    with torch.inference_mode():
        for offset, vced in enumerate(chunk.vceds):
            audio = renderer.render_notes(Voice.from_values(vced), chunk.notes)
            row = spectrograms[chunk.start + offset]
            row[...] = frontend.spectrogram_db(torch.from_numpy(audio)[None])[0].numpy()
            ranges[offset] = row.min(), row.max()
    spectrograms.flush()
    return chunk.start, ranges


def _chunk_bounds(pending: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Split the sorted pending rows into contiguous (start, stop) runs of at most ``size`` rows."""
    bounds: list[tuple[int, int]] = []
    for run in np.split(pending, np.flatnonzero(np.diff(pending) != 1) + 1):
        bounds.extend((int(run[i]), int(run[min(i + size, len(run)) - 1]) + 1) for i in range(0, len(run), size))
    return bounds


def _render_pending(out_dir: Path, index: _Index, notes: tuple[Note, ...], config: FrontendConfig,
                    done: np.memmap, db_range: np.memmap, workers: int, chunk: int, progress: bool) -> None:
    """Render every row not marked done, ``workers`` processes, at most two chunks each in flight."""
    bounds = _chunk_bounds(np.flatnonzero(~done), chunk)
    if not bounds:
        return
    tasks = (_Chunk(out_dir / SPECTROGRAMS, start, tuple(bytes(v) for v in index.values[start:stop]), notes, config)
             for start, stop in bounds)
    with (tqdm(total=len(done), initial=int(done.sum()), desc="render", unit="voice", disable=not progress) as bar,
          render_pool(min(workers, len(bounds))) as pool):
        running: set[Future[tuple[int, np.ndarray]]] = set()
        while True:
            running |= {pool.submit(_render_chunk, task) for task in islice(tasks, 2 * workers - len(running))}
            if not running:
                return
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                start, ranges = future.result()
                db_range[start : start + len(ranges)] = ranges
                db_range.flush()
                done[start : start + len(ranges)] = True
                done.flush()
                bar.update(len(ranges))


def render_dataset(
    corpus_path: Path,
    out_dir: Path,
    *,
    notes: Sequence[Note] = SINGLE_NOTE,
    frontend: FrontendConfig | None = None,
    workers: int | None = None,
    chunk: int = 32,
    overwrite: bool = False,
    progress: bool = False,
) -> DatasetInfo:
    """Render every corpus voice to dB mel spectrograms in ``out_dir``, resuming a cut run.

    Args:
        corpus_path: the SQLite corpus (``dexbridge corpus build``).
        out_dir: dataset directory; created, or resumed when it holds the same dataset.
        notes: (note, velocity) pairs per voice, e.g. :data:`SINGLE_NOTE` or :data:`MULTI_NOTES`.
        frontend: sample rate, duration, STFT and mel settings (default: the paper's).
        workers: render processes (``None``: one per CPU).
        chunk: rows a worker renders and writes between two progress flushes.
        overwrite: delete an existing dataset in ``out_dir`` first.
        progress: show a tqdm bar on stderr.

    Returns:
        What was rendered, how fast, and the train-split stats.

    Raises:
        CorpusError: the corpus is missing or not a corpus.
        DatasetError: ``out_dir`` holds a dataset of other settings or is damaged (the message
            says to use a new directory or ``overwrite``); no notes; ``workers`` or ``chunk`` below 1.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1 or chunk < 1:
        raise DatasetError(f"workers = {workers}, chunk = {chunk}: both must be at least 1")
    if not notes:
        raise DatasetError("no notes to render: give (note, velocity) pairs, e.g. SINGLE_NOTE or MULTI_NOTES")
    notes = tuple((int(n), int(v)) for n, v in notes)
    frontend = FrontendConfig() if frontend is None else frontend
    out_dir = Path(out_dir)
    index = _read_corpus(Path(corpus_path))
    rows = len(index.voice_ids)
    expected = json.loads(json.dumps({
        "format": FORMAT, "format_version": FORMAT_VERSION, "corpus": str(Path(corpus_path).resolve()),
        "corpus_sha256": index.sha256(), "rows": rows,
        "splits": {split: int((index.splits == code).sum()) for code, split in enumerate(SPLITS)},
        "notes": notes, "note_seconds": NOTE_SECONDS, "frontend": asdict(frontend),
        "shape": (rows, len(notes), frontend.n_mels, frontend.num_frames), "dtype": STORE_DTYPE.name,
    }))
    manifest = _prepare(out_dir, expected, index, overwrite)
    done, db_range = _open_progress(out_dir, rows)
    already_done = int(done.sum())
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    try:
        _render_pending(out_dir, index, notes, frontend, done, db_range, workers, chunk, progress)
    finally:
        seconds = time.perf_counter() - started
        manifest["runs"].append({"started": started_at,
                                 "seconds": round(seconds, 3), "rendered": int(done.sum()) - already_done,
                                 "workers": workers})
        manifest["complete"] = bool(done.all())
        stats = _train_stats(index, db_range) if manifest["complete"] else None
        manifest["stats"] = asdict(stats) if stats else None
        _write_manifest(out_dir, manifest)
    return DatasetInfo(out_dir, rows, notes, rows - already_done, already_done, seconds, workers, stats)


def _train_stats(index: _Index, db_range: np.ndarray) -> FrontendStats | None:
    """dB range over the train rows only; ``None`` when there is no train row."""
    train = index.splits == SPLITS.index("train")
    return FrontendStats.from_db_arrays([db_range[train]]) if train.any() else None


class SpectrogramDataset(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    """One split of a rendered dataset: (normalised spectrogram, representation vector, row).

    The spectrograms stay on disk (read-only memory map, opened lazily in each DataLoader
    worker); the representation vectors of the split are encoded once, here. Spectrograms are
    normalised with the train-split stats as :class:`models.frontend.Frontend` does: train rows
    span [-1, 1]; validation and test rows may reach slightly past it.

    Args:
        out_dir: a complete dataset directory from :func:`render_dataset`.
        split: "train", "validation" or "test".
        representation: learnable representation of the targets ("num", "numcat", "numcat++").

    Raises:
        DatasetError: not a dataset, an unfinished render, no train stats, or an unknown split.
        RepresentationError: unknown representation.

    Attributes:
        stats: the train-split dB range used for the normalisation (goes into the checkpoint).
        notes: the (note, velocity) pairs, one spectrogram channel each.
        frontend: the front-end settings the spectrograms were made with.
        rows: dataset rows of this split, ascending; item ``i`` is row ``rows[i]``.
        voice_ids: corpus voice id of each item.
        voices: the voice of each item.
        targets: float32 (items, representation size) representation vectors.
    """

    def __init__(self, out_dir: Path, split: str = "train", representation: str = "numcat++") -> None:
        self.out_dir = Path(out_dir)
        manifest = _read_manifest(self.out_dir)
        if split not in SPLITS:
            raise DatasetError(f"split {split!r}: choose one of {', '.join(SPLITS)}")
        done = np.load(self.out_dir / DONE)
        if not done.all():
            raise DatasetError(f"dataset {self.out_dir} is not fully rendered ({done.sum()} of {len(done)} voices): "
                               f"finish it with 'dexbridge dataset render {manifest['corpus']} --out {self.out_dir}'")
        if manifest["stats"] is None:
            raise DatasetError(f"dataset {self.out_dir} has no train voice, hence no normalisation stats")
        self.stats = FrontendStats(**manifest["stats"])
        self.notes: tuple[Note, ...] = tuple((n, v) for n, v in manifest["notes"])
        self.frontend = FrontendConfig(**manifest["frontend"])
        index = _Index.load(self.out_dir / INDEX)
        self.rows = np.flatnonzero(index.splits == SPLITS.index(split))
        self.voice_ids = index.voice_ids[self.rows]
        self.voices = [Voice.from_values(values) for values in index.values[self.rows].tolist()]
        self.targets = get_representation(representation).encode_batch(self.voices)
        self._spectrograms: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(float32 (notes, n_mels, frames) normalised spectrogram, float32 target vector, row)."""
        db = torch.from_numpy(self.spectrograms_db(item, item + 1)[0].astype(np.float32))
        return self.stats.normalise(db), torch.from_numpy(self.targets[item]), int(self.rows[item])

    def spectrograms_db(self, start: int, stop: int) -> np.ndarray:
        """float16 dB spectrograms (items, notes, n_mels, frames) of items ``start:stop``."""
        if self._spectrograms is None:
            self._spectrograms = np.load(self.out_dir / SPECTROGRAMS, mmap_mode="r")
        rows = self.rows[start:stop]
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1:  # contiguous: one slice, no fancy-index copy
            return np.asarray(self._spectrograms[rows[0] : rows[-1] + 1])
        return self._spectrograms[rows]

    def __getstate__(self) -> dict[str, Any]:
        # A DataLoader worker opens its own map; pickling the map would copy the whole array.
        return {**self.__dict__, "_spectrograms": None}
