"""Do cheaper renders rank a search's candidates as full ones do?

For each recording of a folder (``scripts/render_instruments.py``), the shipped library's 16 nearest
voices are tuned to it and scored by log-spectral MAE against it over the full 4 s window and over
its first 1, 1.5 and 2 s; prints the median Spearman rank correlation with the full score and how
often the best candidate stays the best. (Rendering is not the cost: a 4 s dexed-py render takes
under 1 ms; the STFT and the pitch measurement do.)

    python scripts/measure_screening.py runs/instruments [--every 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile
from scipy.stats import spearmanr

from engine.library import load_libraries
from engine.runtime import Engine
from engine.tuning import tune
from models.metrics import spec_mae, stft_magnitude
from models.params import TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from models.render import Renderer

WINDOWS_S = (1.0, 1.5, 2.0)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder with manifest.json (scripts/render_instruments.py)")
    parser.add_argument("--every", type=int, default=2, help="use every N-th recording (default 2)")
    args = parser.parse_args()
    engine = Engine.load(threads=1, library=load_libraries(None), search=False)
    assert engine.library is not None
    renderer = Renderer()
    notes = json.loads((args.folder / "manifest.json").read_text())["notes"][:: args.every]
    rho: dict[float, list[float]] = {s: [] for s in WINDOWS_S}
    same_best = dict.fromkeys(WINDOWS_S, 0)
    for item in notes:
        audio, rate = soundfile.read(args.folder / item["file"], dtype="float32")
        heard = engine.conditioner(audio, rate)
        matches = engine.library.search(engine.embed_conditioned(heard.audio), 16)
        start = {TRANSPOSE_INDEX: TRANSPOSE_CENTRE + heard.transpose}
        voices = [tune(m.voice.replace(start), heard.f0_hz, engine.voice_pitch).voice for m in matches]
        renders = [renderer.render(voice, 60) for voice in voices]
        full = [spec_mae(stft_magnitude(heard.recording), stft_magnitude(r)) for r in renders]
        for seconds in WINDOWS_S:
            n = round(seconds * renderer.sample_rate)
            short = [spec_mae(stft_magnitude(heard.recording[:n]), stft_magnitude(r[:n])) for r in renders]
            rho[seconds].append(float(spearmanr(full, short).statistic))
            same_best[seconds] += int(np.argmin(full) == np.argmin(short))
    print(f"{len(notes)} recordings, 16 tuned library candidates each")
    print(f"{'window':>8}{'median Spearman':>17}{'same best':>11}")
    for seconds in WINDOWS_S:
        print(f"{seconds:>7.1f}s{np.median(rho[seconds]):>17.3f}{same_best[seconds]:>8}/{len(notes)}")


if __name__ == "__main__":
    main()
