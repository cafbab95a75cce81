"""What commands say to people while they work: a line before each wait longer than a moment (the
model loading, a warm-up), and how long it took once it is over. Lines go to stderr, so a command's
results (a table, JSON) stay alone on stdout.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def step(what: str, stream: TextIO | None = None) -> Iterator[None]:
    """Print ``what...`` before the block and ``what: done in 3.2 s`` after it (``failed`` if it raised).

    Args:
        what: the wait in words, e.g. ``"loading the model"``.
        stream: where the lines go (default stderr).
    """
    out = sys.stderr if stream is None else stream
    print(f"{what}...", file=out, flush=True)
    began = time.monotonic()
    try:
        yield
    except BaseException:
        print(f"{what}: failed after {time.monotonic() - began:.1f} s", file=out, flush=True)
        raise
    print(f"{what}: done in {time.monotonic() - began:.1f} s", file=out, flush=True)


def invoked_as() -> str:
    """How to type this command again: ``dexbridge`` when that name finds it (or it was not started by
    that name), else the path it was started by, relative to here (``.venv/bin/dexbridge``)."""
    program = Path(sys.argv[0])
    if program.name != "dexbridge" or not program.parent.name:
        return "dexbridge"
    found = shutil.which("dexbridge")
    if found is not None and Path(found).resolve() == program.resolve():
        return "dexbridge"
    try:
        return str(program.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(program)
