"""Pictures people read: spectrograms on a log-frequency axis and one time scale, with a caption in
words; a morph's parameters, the ones that moved most named, with a colour bar; the bytes streamed
against the limit of a DIN cable, labelled as that.

matplotlib (Agg: files only, never a window) loads with this module, so commands import it inside
the handlers that draw.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

from bridge.atomicfile import atomic_write
from models.dsp import stft_magnitude
from models.params import BY_INDEX

matplotlib.use("Agg")  # files only, never a window
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

LOW_HZ = 40.0  # the log-frequency axis starts here: the lowest octaves a voice plays are visible
N_FFT, HOP = 1024, 256
RANGE_DB = 80.0
FREQUENCY_TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000)
MAE_WORDS = "the average distance between the two spectrograms' log magnitudes (closer is better; 0 = identical)"
TOP_PARAMETERS = 12
DIN_WORDS = "DIN MIDI cable limit, 3 125 bytes/s (only a DIN cable has it: virtual and USB ports carry more)"
SYSEX_PARAM_BYTES = 7  # one DX7 parameter change message


@dataclass(frozen=True)
class Panel:
    """One spectrogram to draw: a title and mono audio at its sample rate."""

    label: str
    audio: np.ndarray
    sample_rate: int


def spectrogram_db(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times (s), bin frequencies (Hz) and levels (frequencies, frames) in dB, 0 dB = a full-scale sine
    (Hann window of :data:`N_FFT`, hop :data:`HOP`)."""
    signal = np.asarray(audio, dtype=np.float64).reshape(-1)
    magnitude = stft_magnitude(signal, N_FFT, HOP, window=np.hanning(N_FFT), fill=True).T / (N_FFT / 4)
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-6))
    return np.arange(db.shape[1]) * HOP / sample_rate, np.fft.rfftfreq(N_FFT, 1.0 / sample_rate), db


def spectrogram_figure(panels: Sequence[Panel], title: str, caption: str) -> Figure:
    """The panels one above the other, on one time scale (the longest panel's length), one log-frequency
    axis from :data:`LOW_HZ` and one dB scale, with ``caption`` in words under them.

    Args:
        panels: what to draw, top first.
        title: the figure's title.
        caption: what the picture shows and how to read its numbers (e.g. :func:`mae_caption`).
    """
    figure = Figure(figsize=(9, 2.4 * len(panels) + 1.6), layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    spectra = [spectrogram_db(panel.audio, panel.sample_rate) for panel in panels]
    top = max(float(db.max()) for _, _, db in spectra)
    seconds = max(panel.audio.size / panel.sample_rate for panel in panels)
    nyquist = max(panel.sample_rate / 2 for panel in panels)
    image = None
    for ax, panel, (times, freqs, db) in zip(axes, panels, spectra, strict=True):
        keep = freqs >= LOW_HZ
        image = ax.pcolormesh(times, freqs[keep], db[keep], shading="nearest", cmap="magma", vmin=top - RANGE_DB, vmax=top)
        ax.set_yscale("log")
        ax.set_ylim(LOW_HZ, nyquist)
        ax.set_xlim(0.0, seconds)
        ticks = [f for f in FREQUENCY_TICKS_HZ if LOW_HZ <= f <= nyquist]
        ax.set_yticks(ticks, [f"{f / 1000:g} kHz" if f >= 1000 else f"{f} Hz" for f in ticks])
        ax.set_ylabel("frequency (log)")
        ax.set_title(f"{panel.label} ({panel.audio.size / panel.sample_rate:.2f} s)", fontsize=10)
    axes[-1].set_xlabel("time (s), one scale for every panel")
    assert image is not None
    figure.colorbar(image, ax=list(axes), label="level (dB; 0 dB = a full-scale sine)")
    figure.suptitle(title)
    figure.supxlabel(caption, fontsize=8)
    return figure


def mae_caption(value: float, where: str = "") -> str:
    """The caption of two spectrograms compared: their log-spectral MAE and what it means."""
    return f"log-spectral MAE {value:.3f}{where}: {MAE_WORDS}"


def moved_most(start: Sequence[int], events: Sequence[tuple[float, int, int]], count: int = TOP_PARAMETERS) -> list[int]:
    """The VCED indices of the ``count`` parameters that travelled furthest over ``events`` ((time, index,
    value) changes from ``start``), each step measured as a share of the parameter's range."""
    travel: dict[int, float] = {}
    current = dict(enumerate(start))
    for _, index, value in events:
        spec = BY_INDEX[index]
        travel[index] = travel.get(index, 0.0) + abs(value - current.get(index, value)) / max(spec.hi - spec.lo, 1)
        current[index] = value
    return sorted(travel, key=lambda index: (-travel[index], index))[:count]


def morph_figure(sent: Sequence[tuple[float, float]], events: Sequence[tuple[float, int, int]], start: Sequence[int],
                 names: tuple[str, str], quiet_s: float = 0.5) -> Figure:
    """The morph: the position the client sent, the parameters that moved most (named, coloured by value
    over their range, with a colour bar), and the bytes streamed against a DIN cable's limit.

    Args:
        sent: (time s, morph x) the client sent.
        events: (time s, VCED index, value) the daemon streamed, in order.
        start: the VCED values before the first event.
        names: the two voices' names, A then B.
        quiet_s: how long after the last event the time axis goes on.
    """
    from bridge.midi.syxfile import DIN_BYTES_PER_SECOND

    figure = Figure(figsize=(9.5, 8.5), layout="constrained")
    position, params, load = figure.subplots(3, 1, sharex=True, height_ratios=(1, 3, 1.3))
    end = max([t for t, _ in sent] + [t for t, _, _ in events]) + quiet_s
    position.plot([t for t, _ in sent], [x for _, x in sent], drawstyle="steps-post")
    position.set(ylabel=f"morph x\n(0 = {names[0]},\n1 = {names[1]})", ylim=(-0.05, 1.05))
    position.set_title(f"morph {names[0]} -> {names[1]}: what the client sent, what the daemon streamed")
    changed = {index for _, index, _ in events}
    shown = moved_most(start, events)
    current = {index: start[index] for index in shown}
    rows = [[current[index] for index in shown]]
    for _, index, value in events:
        if index in current:
            current[index] = value
        rows.append([current[i] for i in shown])
    spans = np.array([max(BY_INDEX[i].hi - BY_INDEX[i].lo, 1) for i in shown], dtype=float)
    lows = np.array([BY_INDEX[i].lo for i in shown], dtype=float)
    edges = [0.0, *(t for t, _, _ in events), end]  # row k holds from edges[k] to edges[k + 1]
    grid = (np.array(rows, dtype=float) - lows) / spans if shown else np.zeros((len(edges) - 1, 0))
    mesh = params.pcolormesh(edges, np.arange(len(shown) + 1), grid.T, cmap="viridis", vmin=0, vmax=1)
    params.set_yticks(np.arange(len(shown)) + 0.5, [BY_INDEX[i].label for i in shown], fontsize=8)
    params.invert_yaxis()
    params.set_title(f"the {len(shown)} parameters that moved most, of {len(changed)} that changed", fontsize=10)
    figure.colorbar(mesh, ax=params, label="value / its range\n(0 = lowest, 1 = highest)")
    counts = np.arange(1, len(events) + 1) * SYSEX_PARAM_BYTES
    load.plot([t for t, _, _ in events], counts, label=f"SysEx bytes sent ({SYSEX_PARAM_BYTES} per parameter change)")
    load.plot([0, end], [0, end * DIN_BYTES_PER_SECOND], "--", label=DIN_WORDS)
    load.set_ylim(0, max(counts[-1] if len(counts) else SYSEX_PARAM_BYTES, SYSEX_PARAM_BYTES) * 1.3)
    load.set(ylabel="bytes", xlabel="seconds since the sweep began")
    load.legend(loc="upper left", fontsize=8)
    return figure


def save_png(figure: Figure, path: Path, dpi: int = 90) -> None:
    """Write ``figure`` as a PNG, atomically (temp file + rename)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    atomic_write(path, lambda file: file.write(buffer.getvalue()))
