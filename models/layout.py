"""Names and places the tools agree on, kept apart from torch so the command line can show them in
``--help`` at once: the shipped checkpoint, a training run's files, the devices, note sets and
number of macro axes one can ask for. Each module that uses one imports it from here.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default.pt"
"""The shipped serving checkpoint (``configs/cpu.toml``), loaded when no checkpoint is named."""
PAPER_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper.toml"
"""The paper's architecture, the baseline ``dexbridge bench`` runs eagerly with random weights."""
LATEST, BEST, LOG = "latest.pt", "best.pt", "train_log.csv"
"""A training run's files: the last checkpoint, the best by validation loss, the CSV log."""
DEVICES = ("auto", "cpu", "cuda")
"""Where training runs: ``auto`` takes CUDA when available."""
DEFAULT_AXES = 8
"""Macro controls stored by ``dexbridge export-checkpoint --axes-corpus`` unless told otherwise."""
NOTE_SET_NAMES = ("single", "multi")
"""The note sets a dataset is rendered at (:data:`models.dataset.NOTE_SETS`): middle C, or the 6 notes."""
