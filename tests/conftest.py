"""Shared fixtures: the bundled DX7 bank, a tiny serving checkpoint, a real JACK server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from models.checkpoint import Checkpoint, save_checkpoint
from models.config import load_config
from models.frontend import FrontendStats
from models.networks import SoundToVoice

settings.register_profile("dexbridge", deadline=None)
settings.load_profile("dexbridge")  # no time limit per example: speed is dexbridge bench's to measure, and the first
# decode in a process loads the compiled decoding loop (0.4 s)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(autouse=True)
def _files_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon without --files-dir makes its default folder ($XDG_DATA_HOME/dexbridge) under pytest's
    temporary folder, never in the user's home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))


@pytest.fixture(scope="session")
def brass_path() -> Path:
    """DawDreamer's bundled 32-voice DX7 bank (a real cartridge, shipped in a registry wheel)."""
    path = Path(str(files("dawdreamer"))) / "faustlibraries" / "dx7presets" / "brass.syx"
    assert path.is_file(), f"DawDreamer's brass.syx not found at {path}"
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A serving checkpoint of ``configs/tiny.toml`` with seeded random weights (milliseconds per
    inference): the real checkpoint format and code paths, not a trained model."""
    config = load_config(CONFIGS / "tiny.toml")
    torch.manual_seed(0)
    model = SoundToVoice(config.model, config.frontend)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)  # fresh couplings are the identity
    checkpoint = Checkpoint(config, FrontendStats(min_db=-120.0, max_db=10.0), model.serving.state_dict())
    return save_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny.pt", checkpoint)


@pytest.fixture(scope="session")
def jack() -> Iterator[str]:
    """A running JACK server: the default one, or one started here with the dummy driver at a
    256-frame period (5.3 ms, what performers run).

    Yields the mido backend name to open ports with. In CI a missing JACK fails the test.
    """
    from bridge.midi.jack_server import dummy_jack_server, jack_answers, realtime_allowed

    if not jack_answers() and shutil.which("jackd") is None:
        if IN_CI:
            pytest.fail("jackd is not installed: .ci/run must install jackd2")
        pytest.skip("jackd not installed (apt-get install jackd2)")
    with dummy_jack_server(256, realtime=realtime_allowed()):
        sounddevice = sys.modules.get("sounddevice")
        if sounddevice is not None:  # PortAudio listed its devices before this server ran: list them again
            sounddevice._terminate()
            sounddevice._initialize()
        yield JACK_BACKEND
        if "sounddevice" in sys.modules:  # PortAudio's JACK host must let go before the server stops, or libjack aborts
            sys.modules["sounddevice"]._terminate()


@pytest.fixture(scope="session")
def brass_voices(brass_path: Path) -> list:
    """The 32 voices of DawDreamer's brass bank."""
    from bridge.midi.syxfile import read_syx_voices

    return [item.voice for item in read_syx_voices(brass_path).voices]


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint: Path, brass_voices: list, tmp_path_factory: pytest.TempPathFactory) -> object:
    """An ``engine.runtime.Engine`` (torch backend) of the tiny checkpoint with 4 latent axes fitted on
    the brass bank, so macros work: the daemon's real model path in milliseconds. Its search is
    bounded by renders, not time, so every answer is deterministic."""
    from daemon_harness import checkpoint_with_axes

    from engine.runtime import Engine

    path = checkpoint_with_axes(tiny_checkpoint, brass_voices, tmp_path_factory.mktemp("axes") / "tiny_axes.pt")
    return Engine.load(path, backend="torch", search_budget_ms=float("inf"), search_max_renders=12)


@pytest.fixture(scope="session")
def brass_wav(brass_voices: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Brass voice 3 rendered by dexed-py (note 60, velocity 85) as a 22 050 Hz WAV file."""
    import soundfile

    from models.render import Renderer

    path = tmp_path_factory.mktemp("audio") / "brass3.wav"
    soundfile.write(path, Renderer().render(brass_voices[3], 60, 85), 22050)
    return path
