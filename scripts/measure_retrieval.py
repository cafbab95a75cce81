"""How often the library's index finds the nearest voice by full log-mel distance (recall@k).

Every voice of a corpus is rendered once at the reference note through the model's front end; its
dB mel spectrogram, pooled to 128 bands (every frame kept) and floored 80 dB below its peak, is the
"full" representation, and the exact nearest training voice of each query voice (a seeded sample
of a held-out split) by L2 distance over it is the truth. recall@k is the share of queries whose
true nearest voice is among the index's k nearest. Index: the library's embedding (``--index
embed``) and principal components of the full representation fitted on the training voices
(``--index pcaN``, N components, int8 like the library; ``pcaNxP`` fits them to the representation with
every P frames averaged).

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

from engine.library import REFERENCE, embed
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


def _chunk(task: tuple[tuple[bytes, ...], FrontendConfig]) -> tuple[np.ndarray, np.ndarray]:
    vceds, config = task
    renderer, frontend = worker_tools(config)
    audio = np.stack([renderer.render(Voice.from_values(v), *REFERENCE) for v in vceds])
    with torch.inference_mode():
        db = frontend.spectrogram_db(torch.from_numpy(audio)[:, None]).numpy()[:, 0]
    return full_representation(db), embed(db)


def represent(voices: list[Voice], workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Full representations and library embeddings of ``voices``, rendered in a process pool."""
    tasks = [(tuple(bytes(v.values) for v in voices[i:i + 64]), FrontendConfig()) for i in range(0, len(voices), 64)]
    full, embedded = [], []
    with render_pool(workers, [__name__]) as pool, tqdm(total=len(voices), unit="voice") as bar:
        for f, e in pool.map(_chunk, tasks):
            full.append(f)
            embedded.append(e)
            bar.update(len(f))
    return np.concatenate(full), np.concatenate(embedded)


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
    parser.add_argument("--index", default="embed,pca64,pca128,pca208")
    parser.add_argument("--cache", type=Path, help="keep the renders' representations here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.cache and args.cache.is_file():
        with np.load(args.cache) as data:
            train_full, train_embed, query_full, query_embed = (data[k] for k in ("tf", "te", "qf", "qe"))
    else:
        with open_corpus(args.corpus) as corpus:
            train = corpus.voices("train")
            held = corpus.voices(args.split)
        picked = np.random.default_rng(0).choice(len(held), min(args.queries, len(held)), replace=False)
        query_full, query_embed = represent([held[i] for i in sorted(picked)], args.workers)
        train_full, train_embed = represent(train, args.workers)
        if args.cache:
            np.savez(args.cache, tf=train_full, te=train_embed, qf=query_full, qe=query_embed)
    truth = nearest(train_full, query_full, 1)[:, 0]
    report: dict[str, object] = {"queries": len(query_full), "train_voices": len(train_full), "split": args.split}
    for name in args.index.split(","):
        if name == "embed":
            points, queries = train_embed, query_embed
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
