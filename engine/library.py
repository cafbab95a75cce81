"""A voice library with a spectral index: the voices a search starts from, found by sound.

Each voice is rendered once at the reference note (60, 85) through the model's front end (the
log-mel spectrogram the network hears). Its embedding (:func:`embed`) is that spectrogram's
projection on the 64 principal axes of :mod:`engine.library_index` (int8), and its f0 at middle C
with transpose centred is stored beside it (so a search can tune it without measuring it first).
Every library uses the same shipped axes, so distances compare across libraries and a query needs
no model. A search is an exact L2 scan over the embeddings (about a millisecond over 30 000 voices).

A library file is an ``.npz`` read with ``allow_pickle=False``: packed voices (128 bytes each, the
DX7's VMEM layout, name included), the source of each, the embeddings, the index axes' tag and a
format tag.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.library_index import COMPONENTS, default_basis, spectral_vector
from engine.pitch import estimate_f0
from models.config import FrontendConfig
from models.dataset import render_pool, worker_tools
from models.errors import DexbridgeError
from models.packing import pack_voice, unpack_voice
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.voice import Voice

__all__ = ["DEFAULT_LIBRARY", "LibraryError", "Match", "VoiceLibrary", "embed", "load_libraries", "merge_libraries",
           "render_embeddings"]

DEFAULT_LIBRARY = Path(__file__).resolve().parent / "data" / "library.npz"
"""The shipped library: every distinct voice of the DX7 corpus, all splits (``dexbridge library build``)."""
FORMAT = "dexbridge-library-3"
EMBED_SIZE = COMPONENTS
REFERENCE = (60, 85)
PACKED_SIZE = 128


class LibraryError(DexbridgeError, ValueError):
    """A library file that is missing, corrupt or of another format, or an empty library."""


@dataclass(frozen=True)
class Match:
    """One library voice found for a query.

    Attributes:
        index: its row in the library.
        voice: the voice.
        source: where it came from (file and slot, or corpus and id).
        distance: about the RMS difference in dB per cell of the two log-mel spectrograms (0 = the same render).
        f0_hz: the voice's f0 at middle C with transpose centred (measured when the library was built),
            ``None`` when unpitched: a search tunes it without measuring it first.
    """

    index: int
    voice: Voice
    source: str
    distance: float
    f0_hz: float | None = None


def embed(db: np.ndarray) -> np.ndarray:
    """Embeddings of dB mel spectrograms ``(..., n_mels, frames)``: int8 ``(..., EMBED_SIZE)``."""
    return default_basis().embed(spectral_vector(db))


def _embed_chunk(task: tuple[tuple[bytes, ...], FrontendConfig]) -> tuple[np.ndarray, np.ndarray]:
    vceds, config = task
    renderer, frontend = worker_tools(config)
    voices = [Voice.from_values(vced) for vced in vceds]
    audio = np.stack([renderer.render(voice, *REFERENCE) for voice in voices])
    with torch.inference_mode():
        db = frontend.spectrogram_db(torch.from_numpy(audio)[:, None]).numpy()[:, 0]
    f0 = [estimate_f0(render, config.sample_rate).f0_hz for render in audio]
    centred = [np.nan if hz is None else hz * 2.0 ** (-(v[TRANSPOSE_INDEX] - TRANSPOSE_CENTRE) / 12.0)
               for hz, v in zip(f0, voices, strict=True)]
    return embed(db), np.asarray(centred, dtype=np.float32)


def render_embeddings(voices: Sequence[Voice], config: FrontendConfig, *, workers: int = 2, chunk: int = 64,
                      progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Render every voice at the reference note, embed it and measure its f0.

    Returns:
        int8 ``(len(voices), EMBED_SIZE)`` embeddings and float32 f0s at middle C with transpose centred
        (NaN: unpitched).
    """
    tasks = [(tuple(bytes(v.values) for v in voices[i:i + chunk]), config) for i in range(0, len(voices), chunk)]
    embeddings, f0s = [], []
    with render_pool(workers, [__name__]) as pool, tqdm(total=len(voices), desc="render + embed", unit="voice",
                                                         disable=not progress) as bar:
        for part, f0 in pool.map(_embed_chunk, tasks):
            embeddings.append(part)
            f0s.append(f0)
            bar.update(len(part))
    if not embeddings:
        return np.empty((0, EMBED_SIZE), np.int8), np.empty(0, np.float32)
    return np.concatenate(embeddings), np.concatenate(f0s)


class VoiceLibrary:
    """Voices, their sources and their embeddings; searched by sound.

    Args:
        voices: the voices.
        sources: where each came from.
        embeddings: int8 ``(len(voices), EMBED_SIZE)`` (:func:`embed` of each voice's render).
        f0_hz: float32 f0 of each voice at middle C, transpose centred (NaN: unpitched); None: unknown.
        path: the file it was loaded from, for messages.

    Raises:
        LibraryError: lengths or shapes that do not match.
    """

    def __init__(self, voices: Sequence[Voice], sources: Sequence[str], embeddings: np.ndarray,
                 f0_hz: np.ndarray | None = None, path: Path | None = None) -> None:
        if not (len(voices) == len(sources) == len(embeddings)) or np.shape(embeddings)[1:] != (EMBED_SIZE,):
            raise LibraryError(f"library {path or '(in memory)'}: {len(voices)} voices, {len(sources)} sources and "
                               f"embeddings of shape {np.shape(embeddings)} do not match (expected (n, {EMBED_SIZE}))")
        self.voices = list(voices)
        self.sources = list(sources)
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.int8)
        self.f0_hz = np.full(len(voices), np.nan, np.float32) if f0_hz is None else np.asarray(f0_hz, np.float32)
        if self.f0_hz.shape != (len(voices),):
            raise LibraryError(f"library {path or '(in memory)'}: {self.f0_hz.shape} f0 values for {len(voices)} voices")
        self.path = path
        self._points = self.embeddings.astype(np.float32)
        self._half_norms = 0.5 * np.einsum("ij,ij->i", self._points, self._points)

    def __len__(self) -> int:
        return len(self.voices)

    def search(self, query: np.ndarray, k: int = 8) -> list[Match]:
        """The ``k`` voices whose embeddings are closest to ``query`` (an :func:`embed` row), closest first."""
        if len(self) == 0:
            return []
        point = np.asarray(query, dtype=np.float32).reshape(EMBED_SIZE)
        scores = self._half_norms - self._points @ point  # |p - q|^2 / 2 minus a constant
        count = min(k, len(self))
        nearest = np.argpartition(scores, count - 1)[:count]
        nearest = nearest[np.argsort(scores[nearest], kind="stable")]
        squared = np.maximum(2.0 * (scores[nearest] + 0.5 * float(point @ point)), 0.0)
        return [Match(int(i), self.voices[i], self.sources[i], float(default_basis().rms_db(d)),
                      None if np.isnan(self.f0_hz[i]) else float(self.f0_hz[i]))
                for i, d in zip(nearest, squared, strict=True)]

    def subset(self, keep: Callable[[Voice], bool]) -> VoiceLibrary:
        """A library of the voices ``keep`` accepts (same order, sources, embeddings and f0s)."""
        rows = [i for i, voice in enumerate(self.voices) if keep(voice)]
        return VoiceLibrary([self.voices[i] for i in rows], [self.sources[i] for i in rows],
                            self.embeddings[rows].reshape(len(rows), EMBED_SIZE), self.f0_hz[rows], self.path)

    def save(self, path: Path, write: Callable[[Path, Callable[[io.BufferedIOBase], None]], None]) -> None:
        """Write the library as ``.npz`` through ``write(path, fill)`` (an atomic writer)."""
        packed = np.frombuffer(b"".join(pack_voice(v) for v in self.voices), dtype=np.uint8).reshape(-1, PACKED_SIZE)
        arrays = {"format": np.array(FORMAT), "packed": packed, "sources": np.array(self.sources, dtype=str),
                  "embeddings": self.embeddings, "f0_hz": self.f0_hz, "index": np.array(default_basis().tag)}
        write(path, lambda file: np.savez_compressed(file, **arrays))

    @classmethod
    def load(cls, path: Path) -> VoiceLibrary:
        """Read a library file.

        Raises:
            LibraryError: missing, unreadable, corrupt, or not a dexbridge library.
        """
        path = Path(path)
        if not path.is_file():
            raise LibraryError(f"library {path}: no such file; build one with 'dexbridge library build SOURCES --out {path}'")
        try:
            with np.load(path, allow_pickle=False) as data:
                found = str(data["format"]) if "format" in data.files else None
                if found != FORMAT:
                    raise LibraryError(f"library {path}: format {found!r}, expected {FORMAT!r}; rebuild it with "
                                       "'dexbridge library build'")
                index = str(data["index"]) if "index" in data.files else None
                if index != default_basis().tag:
                    raise LibraryError(f"library {path}: embedded with other index axes ({index}); rebuild it with "
                                       "'dexbridge library build'")
                packed, sources, embeddings, f0 = data["packed"], data["sources"], data["embeddings"], data["f0_hz"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
            if isinstance(error, LibraryError):
                raise
            raise LibraryError(f"library {path}: not a readable library file ({type(error).__name__}); "
                               "rebuild it with 'dexbridge library build'") from None
        if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != PACKED_SIZE:
            raise LibraryError(f"library {path}: packed voices of shape {packed.shape}, expected (n, {PACKED_SIZE})")
        voices = [unpack_voice(row.tobytes())[0] for row in packed]
        return cls(voices, [str(s) for s in sources], embeddings, f0, path)


def merge_libraries(libraries: Iterable[VoiceLibrary]) -> VoiceLibrary:
    """One library holding the voices of several (a voice found in two keeps its first source)."""
    voices: list[Voice] = []
    sources: list[str] = []
    rows: list[np.ndarray] = []
    f0s: list[float] = []
    seen: set[tuple[int, ...]] = set()
    for library in libraries:
        for voice, source, row, f0 in zip(library.voices, library.sources, library.embeddings, library.f0_hz, strict=True):
            if voice.values[:145] not in seen:
                seen.add(voice.values[:145])
                voices.append(voice)
                sources.append(source)
                rows.append(row)
                f0s.append(float(f0))
    embeddings = np.stack(rows) if rows else np.empty((0, EMBED_SIZE), np.int8)
    return VoiceLibrary(voices, sources, embeddings, np.asarray(f0s, np.float32))


def load_libraries(paths: Sequence[Path] | None, use_default: bool = True) -> VoiceLibrary | None:
    """The shipped library (unless ``use_default`` is False) plus the user's, as one; None when none is asked for.

    Raises:
        LibraryError: a library file that is missing or corrupt.
    """
    libraries = ([VoiceLibrary.load(DEFAULT_LIBRARY)] if use_default else []) + [VoiceLibrary.load(p) for p in paths or ()]
    return merge_libraries(libraries) if libraries else None
