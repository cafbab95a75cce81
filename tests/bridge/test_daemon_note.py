"""``/dexbridge/note`` on a real ``dexbridge serve`` playing through PortAudio on JACK: a chord sent at
once is answered note by note (played, or refused as busy), and the daemon still answers and stops
cleanly on SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from osc_client import build
from pythonosc.osc_packet import OscPacket

pytestmark = pytest.mark.jack
START_TIMEOUT_S = 120.0
CHORD = 8


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _replies(sock: socket.socket, until: float) -> list[tuple[str, list]]:
    """Every reply that arrives before ``until`` (monotonic time), bundles unpacked."""
    got = []
    while (remaining := until - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            break
        got += [(timed.message.address, list(timed.message.params)) for timed in OscPacket(data).messages]
    return got


def _ask(sock: socket.socket, port: int, dgram: bytes, address: str, timeout_s: float) -> list:
    sock.sendto(dgram, ("127.0.0.1", port))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for got, args in _replies(sock, min(deadline, time.monotonic() + 0.1)):
            if got == address:
                return args
    raise TimeoutError(f"no {address} within {timeout_s} s")


def test_a_chord_is_answered_note_by_note_and_the_daemon_stops_on_sigint(jack: str, tiny_checkpoint: Path,
                                                                        tmp_path: Path) -> None:
    port = _free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.commands.cli", "serve", "--checkpoint", str(tiny_checkpoint), "--backend", "torch",
         "--osc-port", str(port), "--engine-threads", "1", "--files-dir", str(tmp_path), "--log-json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                assert proc.poll() is None, f"serve exited early: {proc.communicate()[1][-2000:]}"
                try:
                    _ask(sock, port, build("/dexbridge/ping"), "/dexbridge/pong", timeout_s=0.5)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, "serve never answered /dexbridge/ping"
            for step in range(CHORD):
                sock.sendto(build("/dexbridge/note", 60 + step, 100, 0.3), ("127.0.0.1", port))
            answers = [(got, args) for got, args in _replies(sock, time.monotonic() + 15.0)
                       if got == "/dexbridge/error" or (got == "/dexbridge/done" and args[0] == "/dexbridge/note")]
            assert proc.poll() is None, f"serve died during the chord: {proc.communicate()[1][-2000:]}"
            assert len(answers) == CHORD, f"{len(answers)} of {CHORD} notes answered: {answers}"
            played = [args[1] for got, args in answers if got == "/dexbridge/done"]
            refused = [args[0] for got, args in answers if got == "/dexbridge/error"]
            assert played, answers
            assert all(text.startswith("/dexbridge/note: busy: ") and "notes already waiting" in text
                       for text in refused), refused
            assert _ask(sock, port, build("/dexbridge/ping"), "/dexbridge/pong", timeout_s=5.0) == []
            stopping = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
            stop_s = time.monotonic() - stopping
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    assert stop_s < 5.0, f"SIGINT took {stop_s:.1f} s to stop the daemon"
    assert "osc.failed" not in stderr and "Assertion" not in stderr, stderr[-2000:]
