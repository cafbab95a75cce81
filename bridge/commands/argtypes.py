"""argparse value types shared by the subcommands: parse, check the range, say what is wrong."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(minimum: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type accepting whole numbers >= ``minimum``.

    Args:
        minimum: smallest accepted value.
        unit: what is counted, named in the error (``"0 workers: need at least 1"``).
    """
    label = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{label}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value}{label}: need at least {minimum}")
        return value

    return parse


def number_between(minimum: float, maximum: float, unit: str = "") -> Callable[[str], float]:
    """An argparse type accepting numbers from ``minimum`` to ``maximum`` (inclusive).

    Args:
        minimum: smallest accepted value.
        maximum: largest accepted value.
        unit: the unit, named in the error (``"-1.0 s out of range 0..60"``).
    """
    label = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number{label}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{value}{label} out of range {minimum:g}..{maximum:g}")
        return value

    return parse


def midi_channel(text: str) -> int:
    """An argparse type for a MIDI channel as musicians number them, 1-16."""
    channel = int(text)
    if not 1 <= channel <= 16:
        raise argparse.ArgumentTypeError(f"MIDI channel {channel} out of range 1..16")
    return channel
