"""How well does the voice library's compact embedding retrieve?

Voices of a corpus split (never the library's own) are rendered at middle C, conditioned as the
engine conditions a recording, and searched in a library; prints the mean log-spectral MAE of the
nearest voice by embedding and of the best of the k nearest re-ranked by render.

    python scripts/measure_retrieval.py runs/corpus.sqlite --split validation --voices 150
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from engine.library import DEFAULT_LIBRARY, VoiceLibrary
from engine.runtime import Engine
from models.corpus import open_corpus
from models.errors import ModelInputError
from models.metrics import spec_mae, stft_magnitude
from models.params import TRANSPOSE_INDEX
from models.render import Renderer

RERANK = (4, 16, 64)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="corpus.sqlite ('dexbridge corpus build')")
    parser.add_argument("--split", default="validation", help="the queries' split (default validation)")
    parser.add_argument("--voices", type=int, default=150, help="how many (seeded sample; default 150)")
    parser.add_argument("--library", type=Path, default=DEFAULT_LIBRARY, help="default: the shipped library")
    args = parser.parse_args()
    library = VoiceLibrary.load(args.library)
    with open_corpus(args.corpus) as corpus:
        voices = corpus.voices(args.split)
    sample = random.Random(0).sample(voices, min(args.voices, len(voices)))
    engine = Engine.load(threads=1, search=False)
    renderer = Renderer()
    first: list[float] = []
    best: dict[int, list[float]] = {k: [] for k in RERANK}
    for voice in sample:
        audio = renderer.render(voice, 60)
        try:
            query = engine.embed_recording(audio, renderer.sample_rate)
        except ModelInputError:
            continue  # silent or noise: refused as a recording would be
        target = stft_magnitude(audio)
        matches = library.search(query, max(RERANK))
        scores = [spec_mae(target, stft_magnitude(renderer.render(m.voice.replace({TRANSPOSE_INDEX: voice[TRANSPOSE_INDEX]}), 60)))
                  for m in matches]
        first.append(scores[0])
        for k in RERANK:
            best[k].append(min(scores[:k]))
    print(f"{len(first)} {args.split} voices searched in {len(library)} library voices ({args.library.name})")
    print(f"nearest by embedding: spec_mae {np.mean(first):.3f}")
    for k in RERANK:
        print(f"best of the {k} nearest, re-ranked by render: spec_mae {np.mean(best[k]):.3f}")


if __name__ == "__main__":
    main()
