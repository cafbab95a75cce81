"""The README's quick starts, run line by line as printed: each ``serve`` line starts the daemon (a real
subprocess: checked for its ready line, stopped with SIGTERM, exit 0), each ``monitor`` line runs until
it hears the daemon (then Ctrl-C), every other line must exit 0.

They run where a new user runs them: a folder holding ``.venv`` (the one running the tests) and what ``make run``
left there (``dexbridge-demo/original.wav``), with a home of its own (the daemon's files folder is
``~/.local/share/dexbridge``) and a MIDI system as the README describes (a port named ``USB MIDI`` for
the hardware quick start). ``DEXBRIDGE_OSC_PORT`` (the README's knob for it) moves every line to a free
port, so a daemon already running on 9000 is left alone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rtmidi
import soundfile

from bridge.harness.demo import karplus_strong
from bridge.midi.systems import MIDI_APIS, resolve_api
from models.render import SAMPLE_RATE

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
LINE_TIMEOUT_S = 120.0
pytestmark = pytest.mark.jack


def quick_start_lines() -> list[str]:
    """Every command line of the README's code blocks under 'Quick starts', in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quick starts\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_quick_starts_use_the_venvs_command_throughout() -> None:
    lines = quick_start_lines()
    assert len(lines) >= 8
    assert all(line.startswith((".venv/bin/dexbridge ", "cp ", "mkdir -p ")) for line in lines), lines
    assert not any("python -c" in line or "pythonosc" in line for line in lines)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The folder and environment of a new user who ran ``make run``."""
    folder, home = tmp_path / "dexbridge", tmp_path / "home"
    (folder / "dexbridge-demo").mkdir(parents=True)
    home.mkdir()
    (folder / ".venv").symlink_to(sys.prefix)  # the virtual environment running these tests: make's .venv
    soundfile.write(folder / "dexbridge-demo" / "original.wav", karplus_strong(220.0), SAMPLE_RATE)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "DEXBRIDGE_"))}
    env |= {"HOME": str(home), "DEXBRIDGE_OSC_PORT": str(_free_port()), "PYTHONUNBUFFERED": "1"}
    made_max_folder = not Path("/tmp/dexbridge-files").exists()
    yield folder, env
    if made_max_folder and Path("/tmp/dexbridge-files").is_dir() and not any(Path("/tmp/dexbridge-files").iterdir()):
        Path("/tmp/dexbridge-files").rmdir()  # quick start (b)'s folder, fixed by the Max patch: left as found


class Background:
    """A line that keeps running (the daemon, the monitor), its output collected in files."""

    def __init__(self, line: str, folder: Path, env: dict[str, str], logs: Path) -> None:
        self.line, self.out, self.err = line, logs.with_suffix(".out"), logs.with_suffix(".err")
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(["bash", "-c", line], cwd=folder, env=env, stdout=out, stderr=err,
                                         start_new_session=True)

    def wait_for(self, text: str, stream: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        path = self.err if stream == "err" else self.out
        while text not in path.read_text():
            assert self.proc.poll() is None, f"{self.line!r} exited {self.proc.returncode}: {self.err.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.line!r}: no {text!r} within {START_TIMEOUT_S:.0f} s"
            time.sleep(0.1)

    def stop(self, number: signal.Signals) -> int:
        self.proc.send_signal(number)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def test_every_quick_start_line_works_as_printed(jack: str, newcomer: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, env = newcomer
    api = resolve_api("auto")
    interface = rtmidi.MidiIn(MIDI_APIS[api].rtmidi_api, name="interface")  # quick start (c)'s "USB MIDI" port
    interface.open_virtual_port("USB MIDI")
    daemon: Background | None = None
    ran: list[str] = []
    try:
        for number, line in enumerate(quick_start_lines()):
            logs = tmp_path / f"line{number}"
            if " serve " in line:
                if daemon is not None:
                    assert daemon.stop(signal.SIGTERM) == 0, daemon.err.read_text()[-3000:]
                daemon = Background(line, folder, env, logs)
                daemon.wait_for("daemon.ready osc=", "err")
                assert "daemon.loading" in daemon.err.read_text()  # it said what the wait was for
            elif " monitor" in line:
                monitor = Background(line, folder, env, logs)
                monitor.wait_for("subscribed: the daemon's voices", "out")
                assert monitor.stop(signal.SIGINT) == 0 and monitor.out.read_text().endswith("monitor stopped\n")
            else:
                result = subprocess.run(["bash", "-c", line], cwd=folder, env=env, capture_output=True, text=True,
                                        timeout=LINE_TIMEOUT_S)
                assert result.returncode == 0, f"{line!r} exited {result.returncode}: {result.stderr[-3000:]}"
                if "/dexbridge/ping" in line:
                    assert result.stdout == "pong: the daemon is alive\n"
                if "/dexbridge/infer/file" in line:
                    assert "\nanswer: the voice from " in result.stdout
                    assert daemon is not None and "inferred: " in daemon.err.read_text()
            ran.append(line)
        assert daemon is not None
        assert daemon.stop(signal.SIGTERM) == 0, daemon.err.read_text()[-3000:]
        assert "daemon.stopped" in daemon.err.read_text()
    finally:
        interface.close_port()
        if daemon is not None and daemon.proc.poll() is None:
            os.killpg(daemon.proc.pid, signal.SIGKILL)
    assert ran == quick_start_lines()
    assert (Path(env["HOME"]) / ".local" / "share" / "dexbridge" / "original.wav").is_file()  # the cp line's copy
