"""``dexbridge serve`` as a real subprocess: it serves OSC, streams to a JACK port, and on SIGTERM
sends all-notes-off and exits 0; a bad setting exits 2 with the message."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rtmidi
from osc_client import build
from serve_process import ask, free_udp_port, serving

from bridge.midi.ports import all_notes_off_messages

pytestmark = pytest.mark.jack


def _until_connected(listener: rtmidi.MidiIn, sock: socket.socket, port: int, brass_path: Path) -> int:
    """Load voices until their parameter changes reach ``listener`` (JACK connects on a later cycle,
    later still on a loaded machine), then read until the stream has been quiet for a second.
    Returns the number of voices loaded."""
    for attempt in range(40):
        ask(sock, port, build("/dexbridge/voice/load", str(brass_path), 2 + attempt % 2), "/dexbridge/voice")
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and listener.get_message() is None:
            time.sleep(0.01)
        if time.monotonic() < deadline:
            break
    else:
        pytest.fail("the daemon's MIDI output never reached the listener")
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0:
        if listener.get_message() is None:
            time.sleep(0.01)
        else:
            quiet_since = time.monotonic()
    return attempt + 1


def _dexbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.commands.cli", *args]


def test_serve_then_sigterm_sends_all_notes_off_and_exits_0(jack: str, tiny_checkpoint: Path, brass_path: Path,
                                                            tmp_path: Path) -> None:
    out_name = f"serve-out-{os.getpid()}"
    listener = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="dexbridge-serve-test", queue_size_limit=16384)
    listener.ignore_types(sysex=False)
    with serving("--checkpoint", str(tiny_checkpoint), "--backend", "torch", "--midi-out", f"virtual:{out_name}",
                 "--midi-api", "jack", "--mode", "param", "--log-json", "--engine-threads", "1", "--files-dir", str(tmp_path),
                 "--files-dir", str(brass_path.parent)) as (proc, sock, port):
        (status,) = ask(sock, port, build("/dexbridge/status"), "/dexbridge/status")
        assert json.loads(status)["engine_threads"] == 1
        names = listener.get_ports()
        (index,) = [i for i, name in enumerate(names) if name.endswith(f":{out_name}")]
        listener.open_port(index)
        loaded = _until_connected(listener, sock, port, brass_path)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    received = []
    while (message := listener.get_message()) is not None:
        received.append(bytes(message[0]))
    listener.close_port()
    assert proc.returncode == 0, stderr[-2000:]
    assert received == all_notes_off_messages(), "all-notes-off on every channel, nothing else, before exit"
    assert '"message": "daemon.signal SIGTERM: stopping gracefully"' in stderr
    assert f'"message": "daemon.stopped voices={loaded} ' in stderr


def test_bad_settings_exit_2_with_the_message(tiny_checkpoint: Path) -> None:
    result = subprocess.run(_dexbridge("serve", "--checkpoint", str(tiny_checkpoint), "--channel", "17"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "dexbridge serve: channel = 17, range 1..16" in result.stderr


def test_a_missing_midi_port_exits_1_naming_it_before_the_model_loads(jack: str, tiny_checkpoint: Path) -> None:
    result = subprocess.run(_dexbridge("serve", "--checkpoint", str(tiny_checkpoint), "--backend", "torch", "--osc-port", "0",
                                       "--midi-out", "no-such-synth", "--midi-api", "jack"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]  # the environment (a port that is not there), not the input
    assert "dexbridge serve: no MIDI output port matches 'no-such-synth'" in result.stderr
    assert "daemon.loading" not in result.stderr  # refused before seconds of model loading


def test_a_taken_osc_port_exits_1_naming_it(tiny_checkpoint: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(_dexbridge("serve", "--checkpoint", str(tiny_checkpoint), "--backend", "torch",
                                           "--osc-port", str(port)), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert (f"dexbridge serve: OSC port {port} (UDP) on 127.0.0.1 is taken: another dexbridge serve or another program "
            "uses it; stop it, or pick another port with --osc-port") in result.stderr
    assert "[Errno" not in result.stderr
    assert "daemon.loading" not in result.stderr  # refused before seconds of model loading


def test_a_hostile_datagram_neither_freezes_serve_nor_forges_a_log_line(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """A bundle element of size -4 once sent the parser into an endless loop (100 % CPU, SIGINT ignored);
    a file name with a newline once wrote a line of its own into the log."""
    with serving("--checkpoint", str(tiny_checkpoint), "--backend", "torch", "--engine-threads", "1",
                 "--files-dir", str(tmp_path)) as (proc, sock, port):
        negative_element = bytes.fromhex("2362756e646c65000000000000000001fffffffc")
        (error,) = ask(sock, port, negative_element, "/dexbridge/error")
        assert "bundle element at byte 16 declares -4 bytes" in error
        forged = "x.syx\n2099-01-01 00:00:00,000 INFO bridge.daemon.lifecycle: daemon.ready forged"
        ask(sock, port, build("/dexbridge/voice/load", forged), "/dexbridge/error")
        ask(sock, port, build("/dexbridge/ping"), "/dexbridge/pong", timeout_s=0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    assert "x.syx\\n2099-01-01" in stderr
    assert not [line for line in stderr.splitlines() if line.startswith("2099-01-01")], "a request forged a log line"
    assert "Traceback" not in stderr


def test_a_taken_tcp_port_exits_1_before_the_model_loads(tiny_checkpoint: Path) -> None:
    port = free_udp_port()
    with socket.create_server(("127.0.0.1", port)):
        began = time.monotonic()
        result = subprocess.run(_dexbridge("serve", "--checkpoint", str(tiny_checkpoint), "--backend", "torch",
                                           "--osc-port", str(port)), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"dexbridge serve: OSC port {port} (TCP) on 127.0.0.1 is taken" in result.stderr
    assert "daemon.loading" not in result.stderr and "daemon.starting" not in result.stderr
    assert time.monotonic() - began < 5.0  # imports only: the model takes seconds


def test_ctrl_c_while_serve_loads_ends_it_in_words(tiny_checkpoint: Path) -> None:
    proc = subprocess.Popen(_dexbridge("serve", "--checkpoint", str(tiny_checkpoint), "--osc-port", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "daemon.starting" in proc.stderr.readline()  # it now loads torch and the engine
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr[-2000:]
    assert "dexbridge serve: interrupted" in stderr and "Traceback" not in stderr
