"""The picture of ``dexbridge eval-morph --plot``: each method's morph as a strip of spectrograms.

For a few pairs, one row per method: the render at each measured position, A on the left, B on the
right, on a log-frequency axis; above each panel after the first, its distance from the one before
(log-spectral MAE, the measure's step). A smooth morph changes a little from panel to panel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import matplotlib
import numpy as np

from bridge.atomicfile import atomic_write
from models.metrics import LOG_FLOOR, STFT_HOP, STFT_N_FFT, spec_mae
from models.render import SAMPLE_RATE

matplotlib.use("Agg")  # files only, never a window
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

BANDS = 96  # log-frequency rows of each panel, 40 Hz .. 11 kHz
LOW_HZ = 40.0
DB_RANGE = (-80.0, 40.0)
TICKS_HZ = (100, 1000, 10000)
DPI = 90
PALETTE = 128


def log_frequency_db(magnitude: np.ndarray) -> np.ndarray:
    """A (bins, frames) magnitude spectrogram as dB on :data:`BANDS` log-spaced frequency rows (linear
    interpolation between FFT bins): (BANDS, frames)."""
    bin_hz = SAMPLE_RATE / STFT_N_FFT
    centres = np.geomspace(LOW_HZ, SAMPLE_RATE / 2, BANDS) / bin_hz
    db = 20.0 * np.log10(np.maximum(magnitude, LOG_FLOOR))
    bins = np.arange(db.shape[0])
    return np.stack([np.interp(centres, bins, column) for column in db.T], axis=1)


def draw_strips(strips: dict[str, list[tuple[str, list[np.ndarray]]]], summary: dict[str, Any], out: Path) -> None:
    """Draw each kept pair's morph, one row per method, and write a PNG atomically.

    Args:
        strips: per method, (title, each position's magnitude spectrogram of shape (1, bins, frames)).
        summary: ``eval-morph``'s per-method summaries (the legend quotes the line's figures).
        out: the PNG to write.
    """
    methods = [m for m in strips if strips[m]]
    pairs = min(len(strips[m]) for m in methods)
    steps = len(strips[methods[0]][0][1])
    rows = pairs * len(methods)
    figure = Figure(figsize=(1.45 * steps + 1.6, 1.25 * rows + 1.6), layout="constrained")
    axes = np.atleast_2d(figure.subplots(rows, steps, sharex=True, sharey=True))
    seconds = strips[methods[0]][0][1][0].shape[-1] * STFT_HOP / SAMPLE_RATE
    extent = (0.0, seconds, np.log10(LOW_HZ), np.log10(SAMPLE_RATE / 2))
    image = None
    for pair in range(pairs):
        for m, method in enumerate(methods):
            row = pair * len(methods) + m
            title, magnitudes = strips[method][pair]
            for k, magnitude in enumerate(magnitudes):
                ax = axes[row, k]
                image = ax.imshow(log_frequency_db(magnitude[0]), origin="lower", aspect="auto", cmap="magma",
                                  vmin=DB_RANGE[0], vmax=DB_RANGE[1], extent=extent)
                if k:
                    ax.set_title(f"step {spec_mae(magnitudes[k - 1], magnitude):.2f}", fontsize=7, pad=2)
                ax.tick_params(labelsize=6)
            axes[row, 0].set_ylabel(f"{method}\n{title}" if m == 0 else method, fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("s", fontsize=7)
    axes[0, 0].set_yticks([np.log10(f) for f in TICKS_HZ], [_hz(f) for f in TICKS_HZ])
    for k, ax in enumerate(axes[0]):
        ax.text(0.5, 1.35, f"x = {k / (steps - 1):.3g}", transform=ax.transAxes, ha="center", fontsize=7)
    assert image is not None
    figure.colorbar(image, ax=axes, shrink=0.5, label="dB (|STFT|, note 60 velocity 85)")
    figure.suptitle("Morphs A -> B, one row per method: each position's render, A left, B right", fontsize=10)
    figure.supxlabel(_caption(methods, summary, steps), fontsize=8)
    atomic_write(out, lambda handle: _save_palette_png(figure, handle))


def _save_palette_png(figure: Figure, handle: BinaryIO) -> None:
    """The figure as a PNG of at most :data:`PALETTE` colours: a third of the full-colour file's size
    for spectrogram noise nobody reads at that precision."""
    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT).save(handle, format="png", optimize=True)


def _hz(frequency: float) -> str:
    return f"{frequency / 1000:g} kHz" if frequency >= 1000 else f"{frequency:g} Hz"


def _caption(methods: Sequence[str], summary: dict[str, Any], steps: int) -> str:
    figures = "; ".join(f"{m}: largest step {summary[m]['line']['largest_step']:.2f}, path/direct "
                        f"{summary[m]['line']['path_ratio']:.2f}, {summary[m]['line']['toward']:.0%} of steps toward B"
                        for m in methods if "line" in summary.get(m, {}))
    return (f"Each panel is one of {steps} evenly spaced morph positions, rendered and drawn on a log-frequency axis; "
            "the number above it is the log-spectral MAE from the panel before (the step).\n"
            f"Medians over all measured pairs: {figures}.")
