"""The library's index: a sound as 64 numbers whose distances follow its whole log-mel spectrogram's.

A render (or a recording, conditioned as the network hears it) goes through the model's front end to
a dB mel spectrogram; its bands are averaged in pairs (128), every four frames averaged (46 ms), and
it is floored 80 dB below its own peak (:func:`spectral_vector`, 11 008 numbers). The L2 distance
between two such vectors ranks voices by their full spectrograms; the index keeps the first 64
principal axes of the training voices' vectors (:class:`IndexBasis`, fitted once by
``scripts/measure_retrieval.py --fit-basis``, shipped in ``engine/data/library_basis.npz``), and a
voice's embedding is its projection on them, quantised to int8. Because the axes are orthonormal,
distances between embeddings approximate the distances between the full vectors; the exact nearest
voice by full spectrogram is among the 16 nearest by embedding for 99 % of held-out voices
(docs/results.md, *Retrieval*).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import DexbridgeError

__all__ = ["BASIS_FILE", "COMPONENTS", "IndexBasis", "default_basis", "spectral_vector"]

BASIS_FILE = Path(__file__).resolve().parent / "data" / "library_basis.npz"
BANDS = 128
FRAME_POOL = 4
FLOOR_DB = 80.0
COMPONENTS = 64
FIT_SAMPLE = 4000


def spectral_vector(db: np.ndarray) -> np.ndarray:
    """``(..., n_mels >= 256, frames)`` dB mel -> float32 ``(..., 128 * (frames // 4))``: band pairs and
    four-frame blocks averaged, floored 80 dB below the peak."""
    db = np.asarray(db, dtype=np.float32)
    *lead, _, frames = db.shape
    usable = frames // FRAME_POOL * FRAME_POOL
    cells = db[..., : 2 * BANDS, :usable].reshape(*lead, BANDS, 2, usable // FRAME_POOL, FRAME_POOL).mean(axis=(-3, -1))
    peak = cells.max(axis=(-2, -1), keepdims=True)
    return np.maximum(cells, peak - FLOOR_DB).reshape(*lead, -1)


@dataclass(frozen=True)
class IndexBasis:
    """Mean and principal axes of the training voices' spectral vectors, and the int8 step.

    Attributes:
        mean: ``(D,)`` float32 mean vector.
        components: ``(COMPONENTS, D)`` float32 orthonormal axes.
        step: dB per int8 unit of an embedding.
    """

    mean: np.ndarray
    components: np.ndarray
    step: float

    @property
    def tag(self) -> str:
        """A short fingerprint: libraries embedded with another basis are refused."""
        import hashlib

        return hashlib.blake2b(self.components.astype(np.float16).tobytes(), digest_size=6).hexdigest()

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """int8 ``(..., COMPONENTS)`` embeddings of spectral vectors."""
        projected = (np.asarray(vectors, np.float32) - self.mean) @ self.components.T
        return np.clip(np.rint(projected / self.step), -127, 127).astype(np.int8)

    def rms_db(self, squared_units: np.ndarray | float) -> np.ndarray | float:
        """The RMS dB difference per spectrogram cell that a squared embedding distance stands for."""
        return self.step * np.sqrt(np.asarray(squared_units) / self.mean.size)

    @classmethod
    def fit(cls, vectors: np.ndarray, seed: int = 0) -> IndexBasis:
        """Principal axes of (a seeded sample of :data:`FIT_SAMPLE`) ``vectors``, by the sample's Gram matrix."""
        rng = np.random.default_rng(seed)
        sample = np.asarray(vectors[np.sort(rng.choice(len(vectors), min(len(vectors), FIT_SAMPLE), replace=False))],
                            np.float32)
        mean = sample.mean(axis=0)
        centred = sample - mean
        values, vectors_ = np.linalg.eigh(centred @ centred.T)
        top = np.argsort(values)[::-1][:COMPONENTS]
        components = (centred.T @ vectors_[:, top] / np.sqrt(np.maximum(values[top], 1e-9))).T
        reach = float(np.abs(centred @ components.T).max())
        return cls(mean.astype(np.float32), np.ascontiguousarray(components, np.float32), reach / 120.0)

    def save(self, path: Path) -> None:
        """Write as ``.npz`` (float16 axes: the int8 embedding cannot see the difference)."""
        np.savez_compressed(path, mean=self.mean.astype(np.float16), components=self.components.astype(np.float16),
                            step=np.float32(self.step))

    @classmethod
    def load(cls, path: Path) -> IndexBasis:
        """Read a basis written by :meth:`save`.

        Raises:
            DexbridgeError: missing or unreadable.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["mean"].astype(np.float32), data["components"].astype(np.float32), float(data["step"]))
        except (OSError, KeyError, ValueError) as error:
            raise DexbridgeError(f"library index basis {path}: unreadable ({error}); reinstall dexbridge") from None


@functools.cache
def default_basis() -> IndexBasis:
    """The shipped basis (loaded once per process)."""
    return IndexBasis.load(BASIS_FILE)
