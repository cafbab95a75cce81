"""Pictures people read: log-frequency spectrograms on one time scale with a caption in words; the morph
with its most moving parameters named and a colour bar; the DIN limit labelled as a DIN cable's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bridge.commands.pictures import (
    LOW_HZ,
    Panel,
    mae_caption,
    morph_figure,
    moved_most,
    save_png,
    spectrogram_figure,
)
from models.params import BY_NAME
from models.voice import Voice

RATE = 22050


def _tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_spectrograms_share_one_time_scale_on_a_log_frequency_axis(tmp_path: Path) -> None:
    figure = spectrogram_figure([Panel("the recording", _tone(0.85), RATE), Panel("the voice", _tone(4.0), RATE)],
                                "horn -> 'HORN'", mae_caption(0.4321))
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["the recording (0.85 s)", "the voice (4.00 s)"]
    assert all(ax.get_yscale() == "log" and ax.get_ylim()[0] == LOW_HZ for ax in axes)
    assert axes[0].get_xlim() == axes[1].get_xlim() == (0.0, 4.0)  # the short input on the long render's scale
    assert [t.get_text() for t in axes[0].get_yticklabels()][:2] == ["50 Hz", "100 Hz"]
    caption = figure.get_supxlabel()
    assert caption == ("log-spectral MAE 0.432: the average distance between the two spectrograms' log magnitudes "
                       "(closer is better; 0 = identical)")
    assert any("dB" in ax.get_ylabel() for ax in figure.axes)  # the colour bar says what the colours are
    save_png(figure, tmp_path / "s.png")
    with Image.open(tmp_path / "s.png") as image:
        assert image.format == "PNG"


def test_the_morph_names_the_parameters_that_move_most() -> None:
    start = Voice.init()
    level, rate, algorithm = (BY_NAME[n].index for n in ("op1_output_level", "op2_eg_rate1", "algorithm"))
    events = [(0.1 * k, level, 99 - 9 * k) for k in range(1, 11)]  # travels the whole range
    events += [(0.05, rate, 90), (0.5, algorithm, 5)]  # a small step; 5 of 31
    events += [(0.6, BY_NAME[f"op3_eg_level{k}"].index, 98) for k in range(1, 4)]
    # travel as a share of each range: the level 90/99, the algorithm 5/31, the rate 9/99, each EG level 1/99
    assert moved_most(start.vced, events, 3) == [level, algorithm, rate]
    figure = morph_figure([(0.0, 0.0), (1.0, 1.0)], events, start.vced, ("INIT", "OTHER"))
    position, params, load = figure.axes[:3]
    names = [t.get_text() for t in params.get_yticklabels()]
    assert names[0] == "OP1 OUTPUT LEVEL" and set(names) == {"OP1 OUTPUT LEVEL", "OP2 EG RATE 1", "ALGORITHM",
                                                              "OP3 EG LEVEL 1", "OP3 EG LEVEL 2", "OP3 EG LEVEL 3"}
    assert params.get_title() == "the 6 parameters that moved most, of 6 that changed"
    colour_bar = [ax for ax in figure.axes if "its range" in ax.get_ylabel()]
    assert len(colour_bar) == 1
    legend = [t.get_text() for t in load.get_legend().get_texts()]
    assert legend == ["SysEx bytes sent (7 per parameter change)",
                      "DIN MIDI cable limit, 3 125 bytes/s (only a DIN cable has it: virtual and USB ports carry more)"]
    assert "0 = INIT" in position.get_ylabel()
