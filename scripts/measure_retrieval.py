"""How often the library's index finds the nearest voice by full log-mel distance (recall@k).

Every training voice of a corpus and a seeded sample of a held-out split are rendered once at the
reference note through the model's front end; the dB mel spectrogram, pooled to 128 bands (every
frame kept) and floored 80 dB below its peak, is the "full" representation, and the exact nearest
training voice of each query voice by L2 distance over it is the truth. recall@k is the share of
queries whose true nearest voice is among the index's k nearest training voices. Indexes: the
shipped library's embeddings (``--index library``: its rows of the same voices) and principal
components of the full representation fitted on the training voices (``--index pcaN``, N
components, int8 like the library; ``pcaNxP`` fits them with every P frames averaged).
``--fit-basis OUT.npz`` fits the library's index axes (:class:`engine.library_index.IndexBasis`).

    python scripts/measure_retrieval.py --corpus runs/corpus.sqlite --split validation --queries 500 \\
        --cache runs/retrieval_cache.npz --json runs/retrieval.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.library import DEFAULT_LIBRARY, REFERENCE, VoiceLibrary
from engine.library_index import FRAME_POOL, IndexBasis
from models.config import FrontendConfig
from models.corpus import open_corpus
from models.dataset import render_pool, worker_tools
from models.voice import Voice

BANDS = 128
FLOOR_DB = 80.0
KS = (1, 8, 16, 32, 64, 128)


def full_representation(db: np.ndarray) -> np.ndarray:
    """(..., 257, frames) dB mel -> (..., 128 * frames) float16: pairs of bands averaged, floored 80 dB below the peak."""
    pooled = db[..., : 2 * BANDS, :].reshape(*db.shape[:-2], BANDS, 2, db.shape[-1]).mean(axis=-2)
    peak = pooled.max(axis=(-2, -1), keepdims=True)
    return np.maximum(pooled, peak - FLOOR_DB).reshape(*db.shape[:-2], -1).astype(np.float16)


def _chunk(task: tuple[tuple[bytes, ...], FrontendConfig]) -> np.ndarray:
    vceds, config = task
    renderer, frontend = worker_tools(config)
    audio = np.stack([renderer.render(Voice.from_values(v), *REFERENCE) for v in vceds])
    with torch.inference_mode():
        db = frontend.spectrogram_db(torch.from_numpy(audio)[:, None]).numpy()[:, 0]
    return full_representation(db)


def represent(voices: list[Voice], workers: int) -> np.ndarray:
    """Full representations of ``voices``, rendered in a process pool."""
    tasks = [(tuple(bytes(v.values) for v in voices[i:i + 64]), FrontendConfig()) for i in range(0, len(voices), 64)]
    full = []
    with render_pool(workers, [__name__]) as pool, tqdm(total=len(voices), unit="voice") as bar:
        for part in pool.map(_chunk, tasks):
            full.append(part)
            bar.update(len(part))
    return np.concatenate(full)


def library_rows(library: VoiceLibrary, voices: list[Voice]) -> np.ndarray:
    """The library's embeddings of ``voices`` (each must be in it)."""
    row = {voice.values[:145]: i for i, voice in enumerate(library.voices)}
    return library.embeddings[[row[voice.values[:145]] for voice in voices]]


def nearest(points: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` nearest points (L2) of each query, nearest first."""
    points32 = points.astype(np.float32)
    norms = np.einsum("ij,ij->i", points32, points32)
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), 64):
        q = queries[start:start + 64].astype(np.float32)
        d = norms[None] - 2.0 * q @ points32.T
        top = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, top, axis=1).argsort(axis=1)
        out[start:start + 64] = np.take_along_axis(top, order, axis=1)
    return out


def pooled(full: np.ndarray, frames: int) -> np.ndarray:
    """Full representations with every ``frames`` frames averaged (float16)."""
    if frames == 1:
        return full
    grid = full.reshape(len(full), BANDS, -1)
    usable = grid.shape[-1] // frames * frames
    return np.concatenate([grid[i:i + 2048, :, :usable].astype(np.float32).reshape(-1, BANDS, usable // frames, frames)
                           .mean(axis=-1).reshape(-1, BANDS * (usable // frames)).astype(np.float16)
                           for i in range(0, len(full), 2048)])


def pca_index(train: np.ndarray, queries: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and query points projected on the training voices' first principal axes, quantised to int8."""
    sample = train[np.random.default_rng(0).choice(len(train), min(len(train), 4000), replace=False)].astype(np.float32)
    mean = sample.mean(axis=0)
    centred = sample - mean
    values, vectors = np.linalg.eigh(centred @ centred.T)  # the Gram matrix: 4000 x 4000, not 44 160 x 44 160
    top = np.argsort(values)[::-1][:components]
    basis = (centred.T @ vectors[:, top] / np.sqrt(np.maximum(values[top], 1e-9))).T

    def project(x: np.ndarray) -> np.ndarray:
        return np.concatenate([(x[i:i + 2048].astype(np.float32) - mean) @ basis.T for i in range(0, len(x), 2048)])

    t, q = project(train), project(queries)
    step = np.abs(t).max() / 127.0
    return np.rint(t / step).astype(np.int8), np.rint(q / step).astype(np.int8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--index", default="library,pca64x4")
    parser.add_argument("--fit-basis", type=Path, metavar="OUT.npz", help="fit the library's index axes, write them here")
    parser.add_argument("--cache", type=Path, help="keep the renders' representations here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with open_corpus(args.corpus) as corpus:
        train = corpus.voices("train")
        held = corpus.voices(args.split)
    queries_voices = [held[i] for i in sorted(np.random.default_rng(0).choice(len(held), min(args.queries, len(held)),
                                                                              replace=False))]
    if args.cache and args.cache.is_file():
        with np.load(args.cache) as data:
            train_full, query_full = data["tf"], data["qf"]
    else:
        query_full = represent(queries_voices, args.workers)
        train_full = represent(train, args.workers)
        if args.cache:
            np.savez(args.cache, tf=train_full, qf=query_full)
    if args.fit_basis:
        IndexBasis.fit(pooled(train_full, FRAME_POOL).astype(np.float32)).save(args.fit_basis)
    truth = nearest(train_full, query_full, 1)[:, 0]
    report: dict[str, object] = {"queries": len(query_full), "train_voices": len(train_full), "split": args.split}
    for name in args.index.split(","):
        if name == "library":
            library = VoiceLibrary.load(DEFAULT_LIBRARY)
            points, queries = library_rows(library, train), library_rows(library, queries_voices)
        else:
            components, _, pool = name.removeprefix("pca").partition("x")
            points, queries = pca_index(pooled(train_full, int(pool or 1)), pooled(query_full, int(pool or 1)),
                                        int(components))
        found = nearest(points, queries, max(KS))
        recall = {k: float(np.mean([truth[i] in found[i, :k] for i in range(len(truth))])) for k in KS}
        report[name] = {"dims": int(points.shape[1]), "recall": recall}
        print(name, points.shape[1], " ".join(f"@{k}={v:.2f}" for k, v in recall.items()), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
