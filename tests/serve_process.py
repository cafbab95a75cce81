"""``dexbridge serve`` as a real subprocess for the tests: on a free UDP port, talked to through a
UDP socket, started until it answers a ping, killed if a test leaves it running."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from osc_client import build
from pythonosc.osc_packet import OscPacket

START_TIMEOUT_S = 120.0


def free_udp_port() -> int:
    """A UDP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def replies(sock: socket.socket, until: float) -> list[tuple[str, list]]:
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


def ask(sock: socket.socket, port: int, dgram: bytes, address: str, timeout_s: float = 2.0) -> list:
    """Send one datagram; the arguments of the first reply to ``address``.

    Raises:
        TimeoutError: none within ``timeout_s``.
    """
    sock.sendto(dgram, ("127.0.0.1", port))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for got, args in replies(sock, min(deadline, time.monotonic() + 0.1)):
            if got == address:
                return args
    raise TimeoutError(f"no {address} within {timeout_s} s")


@contextmanager
def serving(*options: str) -> Iterator[tuple[subprocess.Popen[str], socket.socket, int]]:
    """``dexbridge serve OPTIONS`` on a free port, once it answers ``/dexbridge/ping``: (process, socket, port)."""
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "bridge.commands.cli", "serve", "--osc-port", str(port), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                assert proc.poll() is None, f"serve exited early: {proc.communicate()[1][-2000:]}"
                try:
                    ask(sock, port, build("/dexbridge/ping"), "/dexbridge/pong", timeout_s=0.5)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, "serve never answered /dexbridge/ping"
            yield proc, sock, port
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
