"""Shared fixtures: the bundled DX7 bank, random valid voices, a real JACK server."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"


@pytest.fixture(scope="session")
def brass_path() -> Path:
    """DawDreamer's bundled 32-voice DX7 bank (a real cartridge, shipped in a registry wheel)."""
    path = Path(str(files("dawdreamer"))) / "faustlibraries" / "dx7presets" / "brass.syx"
    assert path.is_file(), f"DawDreamer's brass.syx not found at {path}"
    return path


def _jack_running() -> bool:
    lsp = shutil.which("jack_lsp")
    return bool(lsp) and subprocess.run([lsp], capture_output=True, timeout=10).returncode == 0


@pytest.fixture(scope="session")
def jack() -> Iterator[str]:
    """A running JACK server (started here with the dummy driver when none runs).

    Yields the mido backend name to open ports with. In CI a missing JACK fails the test.
    """
    proc = None
    if not _jack_running():
        jackd = shutil.which("jackd")
        if jackd is None:
            if IN_CI:
                pytest.fail("jackd is not installed: .ci/run must install jackd2")
            pytest.skip("jackd not installed (apt-get install jackd2)")
        proc = subprocess.Popen(
            [jackd, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _jack_running():
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("a JACK dummy server was started but never answered jack_lsp")
            time.sleep(0.1)
    yield JACK_BACKEND
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)
