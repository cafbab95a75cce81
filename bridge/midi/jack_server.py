"""A JACK dummy server of our own (no sound card needed): for the soak, the MIDI loss measurement and
the tests, at the period a performer runs.

One process talks to one JACK server (libjack keeps its connection per process): a client opened
while ``JACK_DEFAULT_SERVER`` names a server joins it, so a second server at another period is
used from a child process started with :func:`server_environment`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import IO

from bridge.midi.jack_link import close_jack_client, open_jack_client
from bridge.midi.ports import MidiPortError

SAMPLE_RATE = 48_000
PERIODS = (64, 128, 256, 1024)
"""The JACK periods (frames) performers run, smallest first; 256 is the project's default."""
MAX_NAME = 16


def server_environment(name: str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with ``JACK_DEFAULT_SERVER`` set to ``name`` (None: the default server)."""
    env = dict(os.environ if base is None else base)
    env.pop("JACK_DEFAULT_SERVER", None)
    if name is not None:
        env["JACK_DEFAULT_SERVER"] = name
    return env


def realtime_allowed() -> bool:
    """Whether this user may run threads at real-time priority (what ``jackd --realtime`` needs): root
    with CAP_SYS_NICE, or an ``rtprio`` limit such as the ``audio`` group's."""
    chrt = shutil.which("chrt")
    if chrt is None:
        return False
    return subprocess.run([chrt, "--fifo", "1", "true"], check=False, capture_output=True, timeout=10).returncode == 0


def jack_answers(name: str | None = None) -> bool:
    """Whether the JACK server ``name`` (None: the default one) runs and lists its ports."""
    lsp = shutil.which("jack_lsp")
    if lsp is None:
        return False
    command = [lsp] if name is None else [lsp, "-s", name]
    return subprocess.run(command, check=False, capture_output=True, timeout=10).returncode == 0


@contextlib.contextmanager
def dummy_jack_server(period: int = 256, *, name: str | None = None, rate: int = SAMPLE_RATE,
                      timeout_s: float = 10.0, realtime: bool = False) -> Iterator[str | None]:
    """Run ``jackd -d dummy`` (``--no-realtime`` unless ``realtime``) at ``period`` frames for the duration of the block.

    Args:
        period: frames per JACK cycle (64 at 48 kHz is 1.3 ms).
        name: the server's name, at most 16 characters (jackd 1.9.21's tools crash on longer ones);
            None = the default server, reused as it is when one already runs (its period is then
            whatever it was started with).
        rate: sample rate in Hz.
        timeout_s: how long the server may take to answer ``jack_lsp``.
        realtime: run the server and its clients' process threads with real-time priority (as a
            performer's JACK runs; needs the right to, e.g. the ``audio`` group or root).

    Yields:
        The server's name (None for the default server), for :func:`server_environment`.

    Raises:
        MidiPortError: jackd is not installed, or the server never answered (its output is quoted).
    """
    if name is not None and len(name) > MAX_NAME:
        raise ValueError(f"JACK server name {name!r} is over {MAX_NAME} characters (jack_lsp 1.9.21 crashes on it)")
    if name is None and jack_answers():
        yield None
        return
    jackd = shutil.which("jackd")
    if jackd is None:
        raise MidiPortError("jackd is not installed: apt-get install jackd2 (a JACK server with the dummy driver)")
    command = [jackd, "--realtime" if realtime else "--no-realtime", *(["-n", name] if name else []),
               "-d", "dummy", "-r", str(rate), "-p", str(period)]
    # jackd's output goes to an unnamed file, never a pipe: it reports every xrun, and a pipe nobody
    # reads fills after minutes and stops the server in write() (every client then hangs with it)
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_until_up(proc, name, command, log, timeout_s)
            yield name
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_until_up(proc: subprocess.Popen[str], name: str | None, command: list[str], log: IO[str], timeout_s: float) -> None:
    """Wait until the server answers; if it exits or times out, raise with the end of its output."""
    deadline = time.monotonic() + timeout_s
    while not jack_answers(name):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            log.seek(0)
            output = log.read().strip()[-500:]
            hint = (" (servers killed without stopping stay registered: stop every jackd, then rm -r /dev/shm/jack*)"
                    if "Too many servers" in output else "")
            raise MidiPortError(f"{' '.join(command)} did not start within {timeout_s:.0f} s{hint}: {output or 'no output'}")
        time.sleep(0.1)


class XrunCounter:
    """Counts the running JACK server's xruns (cycles a client finished too late: MIDI read in such a cycle
    may arrive as copies) through an active client of its own; a context manager.

    Raises:
        MidiPortError: no JACK server (or no JACK-Client package) to count with.
    """

    def __init__(self, name: str = "dexbridge-xruns") -> None:
        self.count = 0
        self._client = open_jack_client(name, "to count xruns")
        self._client.set_xrun_callback(self._xrun)
        self._client.activate()

    def _xrun(self, _delay_us: float) -> None:  # on the client's notification thread
        self.count += 1

    def close(self) -> None:
        """Stop counting and close the client."""
        self._client.deactivate()
        close_jack_client(self._client)

    def __enter__(self) -> XrunCounter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
