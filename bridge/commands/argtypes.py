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
