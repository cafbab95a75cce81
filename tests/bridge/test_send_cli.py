"""``dexbridge send`` and ``dexbridge monitor`` as real subprocesses against a real daemon over UDP: every
reply in words, exit codes by the rule, and the daemon's one log line per answered request."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from daemon_harness import daemon_settings, run_daemon

from bridge.commands.send import DEFAULT_PORT
from bridge.daemon.settings import Settings
from engine.runtime import Engine

TIMEOUT_S = 60.0


async def dexbridge(*args: str) -> tuple[int, str, str]:
    """Run ``dexbridge ARGS`` as a subprocess; its exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bridge.commands.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def logged(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith(start)]


def test_the_default_port_is_the_daemons() -> None:
    assert Settings().osc_port == DEFAULT_PORT


async def test_send_answers_in_words_and_the_daemon_logs_each_request(
        tiny_engine: Engine, brass_path: Path, brass_wav: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge.daemon")
    settings = daemon_settings(files_dir=(tmp_path, brass_path.parent, brass_wav.parent))
    async with run_daemon(settings, tiny_engine) as daemon:
        port = ["--port", str(daemon.osc_port)]
        assert await dexbridge("send", *port, "/dexbridge/ping") == (0, "pong: the daemon is alive\n", "")
        assert await dexbridge("send", *port, "ping") == (0, "pong: the daemon is alive\n", "")  # the prefix is optional

        code, out, _ = await dexbridge("send", *port, "/dexbridge/voice/load", "brass.syx", "2")
        voice_line, changes = out.splitlines()
        assert code == 0
        assert voice_line == "voice 'BRASS 3': algorithm 22, transpose C3 (Yamaha octaves: C3 = middle C), feedback 7, LFO SINE"
        assert re.fullmatch(r"\d+ parameters changed: the name, OP6 EG RATE 1 = \d+, .* and \d+ more \(--all lists each\)",
                            changes), changes
        assert re.fullmatch(r"voice loaded: 'BRASS 3' \(algorithm 22, transpose C3\) from brass\.syx voice 2, \d+ ms",
                            logged(caplog, "voice loaded")[-1])

        code, out, _ = await dexbridge("send", *port, "--all", "/dexbridge/bank/load", "brass.syx")
        assert (code, out) == (0, "done: /dexbridge/bank/load -> 32 voices from brass.syx\n")
        assert re.fullmatch(r"bank loaded: 32 voices from brass\.syx \(program 0 = 'BRASS 1'\), \d+ ms",
                            logged(caplog, "bank loaded")[-1])

        code, out, _ = await dexbridge("send", *port, "--all", "/dexbridge/program", "6")
        assert code == 0 and out.startswith("voice 'PERCBRASS': algorithm 28, transpose C3")
        assert "ALGORITHM = 28 (VCED 27)" in out and "more (--all" not in out  # every change listed, display values
        assert logged(caplog, "program 6") == ["program 6: 'PERCBRASS' (algorithm 28, transpose C3) from OSC"]

        for slot, source in (("0", "0"), ("1", "current")):
            code, out, _ = await dexbridge("send", *port, "/dexbridge/morph/slot", slot, source)
            assert code == 0 and out.startswith(f"done: /dexbridge/morph/slot -> {'AB'[int(slot)]} = "), out
        assert re.fullmatch(r"morph slot A = 'BRASS 1' \(algorithm 18, transpose C3\) from bank voice 0, \d+ ms",
                            logged(caplog, "morph slot A")[-1])
        assert re.fullmatch(r"morph slot B = 'PERCBRASS' \(algorithm 28, transpose C3\) from the current voice, \d+ ms",
                            logged(caplog, "morph slot B")[-1])
        code, out, _ = await dexbridge("send", *port, "/dexbridge/morph/slot", "2", "midi")
        assert (code, out) == (0, "done: /dexbridge/morph/slot -> C armed: the next voice dump on MIDI in fills it\n")

        assert await dexbridge("send", *port, "/dexbridge/mode", "param", "dump") == (
            0, "done: /dexbridge/mode -> param dump\n", "")
        assert logged(caplog, "modes") == ["modes: param, dump"]

        code, out, _ = await dexbridge("send", *port, "/dexbridge/voice/save", "lead.syx")
        assert (code, out) == (0, f"done: /dexbridge/voice/save -> {tmp_path / 'lead.syx'}\n")
        assert re.fullmatch(rf"voice save: the voice 'PERCBRASS' \(algorithm 28, transpose C3\) -> {tmp_path / 'lead.syx'}, "
                            r"\d+ ms", logged(caplog, "voice save")[-1])
        assert (await dexbridge("send", *port, "/dexbridge/dump", "slots.syx", "slots"))[0] == 0
        assert logged(caplog, "dump: the morph slots as a bank -> ")

        code, out, _ = await dexbridge("send", *port, "/dexbridge/infer/file", brass_wav.name)
        assert code == 0
        assert re.search(r"^answer: the voice from .+, distance \d\.\d{3} \(closer is better; 0 = identical\); "
                         r"input f0 \d+\.\d Hz at -?\d+\.\d dB", out, re.MULTILINE), out
        assert out.index("voice '") < out.index("answer: ")  # the voice first, then the answer
        assert logged(caplog, "inferred: ")

        code, out, err = await dexbridge("send", *port, "/dexbridge/voice/save", "/etc/lead.syx")
        assert code == 2  # refused: the request was at fault
        assert "outside the files folder" not in out  # said once, on stderr
        assert err.startswith("dexbridge send: the daemon refused /dexbridge/voice/save: '/etc/lead.syx' is outside")

        code, out, _ = await dexbridge("send", *port, "/dexbridge/morph", "0.5")  # answers only with the voices it makes
        assert code == 0 and out.startswith("voice '"), out

        assert await dexbridge("send", *port, "macros") == (0, "macros: 0 macro 1, 1 macro 2, 2 macro 3, 3 macro 4\n", "")
        code, out, _ = await dexbridge("send", *port, "macro", "1", "0.5")  # named, then the voice it makes
        assert code == 0 and out.startswith("macro 1 (macro 2) = +0.50\nvoice '"), out


async def test_send_refuses_what_cannot_be_sent_and_says_when_nobody_listens() -> None:
    assert await dexbridge("send", "/dexbridge/morf", "0.5") == (
        2, "", "dexbridge send: /dexbridge/morf: the daemon serves no such address; did you mean /dexbridge/morph or "
               "/dexbridge/mode or /dexbridge/monitor? every address: docs/osc.md\n")
    assert await dexbridge("send", "/dexbridge/morph", "half") == (
        2, "", "dexbridge send: /dexbridge/morph: argument 1 is 'half'; it must be a number (f:x [f:y])\n")
    code, _, err = await dexbridge("send", "/dexbridge/program")
    assert code == 2 and err == "dexbridge send: /dexbridge/program: 0 arguments, expected an int\n"
    code, _, err = await dexbridge("send", "/dexbridge/infer/blob", "1", "22050")
    assert code == 2 and "a blob, which a command line cannot carry; send audio as a file: /dexbridge/infer/file PATH" in err
    port = free_port()
    assert await dexbridge("send", "--port", str(port), "/dexbridge/ping") == (
        1, "", f"dexbridge send: nothing listens on udp://127.0.0.1:{port}: start the daemon there (dexbridge serve), "
               "or name its port with --port\n")


async def test_monitor_waits_for_the_daemon_then_prints_what_it_streams_until_ctrl_c(
        tiny_engine: Engine, brass_path: Path) -> None:
    port = free_port()
    monitor = await asyncio.create_subprocess_exec(sys.executable, "-m", "bridge.commands.cli", "monitor", "--port",
                                                   str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert monitor.stdout is not None

    async def line() -> str:
        return (await asyncio.wait_for(monitor.stdout.readline(), TIMEOUT_S)).decode().rstrip("\n")  # type: ignore[union-attr]

    try:
        assert await line() == (f"monitoring the daemon on udp://127.0.0.1:{port}: its voices, parameter changes, "
                                "answers and errors, until Ctrl-C")
        assert await line() == f"nothing listens on udp://127.0.0.1:{port} yet: waiting for the daemon (dexbridge serve)"
        settings = daemon_settings(osc_port=port, files_dir=(brass_path.parent,))
        async with run_daemon(settings, tiny_engine):
            assert re.fullmatch(r"\d\d:\d\d:\d\d subscribed: the daemon's voices and changes, and its answers and "
                                r"errors to every client", await line())
            assert (await dexbridge("send", "--port", str(port), "/dexbridge/voice/load", "brass.syx", "1"))[0] == 0
            assert re.fullmatch(r"\d\d:\d\d:\d\d voice 'BRASS 2': algorithm 18, transpose C3 \(Yamaha octaves: C3 = "
                                r"middle C\), feedback 6, LFO TRI", await line())
            assert re.fullmatch(r"\d\d:\d\d:\d\d \d+ parameters changed: the name, .*", await line())
            assert (await dexbridge("send", "--port", str(port), "/dexbridge/program", "40"))[0] == 2  # another client's
            assert re.fullmatch(r"\d\d:\d\d:\d\d to 127\.0\.0\.1:\d+: error: /dexbridge/program: .*", await line())
            assert (await dexbridge("send", "--port", str(port), "/dexbridge/ping"))[0] == 0
            assert re.fullmatch(r"\d\d:\d\d:\d\d to 127\.0\.0\.1:\d+: pong: the daemon is alive", await line())
            monitor.send_signal(signal.SIGINT)
            assert await line() == "monitor stopped"
            assert await asyncio.wait_for(monitor.wait(), TIMEOUT_S) == 0
    finally:
        if monitor.returncode is None:
            monitor.kill()
            await monitor.wait()


def test_replies_in_words() -> None:
    from bridge.commands.send import Words
    from models.voice import Voice

    words = Words()
    assert words.line("/dexbridge/error", ("/dexbridge/program: bank index 40, range 0..31",)) == (
        "error: /dexbridge/program: bank index 40, range 0..31")
    assert words.line("/dexbridge/better", ("network + search", 0.5123, 3.4, 17)) == (
        "better voice: network + search, distance 0.512, +3 cents, after 17 renders")
    assert words.line("/dexbridge/inferred", (0.0, -12.0, "onnx", 0.0, 0.0, "input unpitched: inharmonic", "network", 0.9)) == (
        "answer: the voice from network, distance 0.900 (closer is better; 0 = identical); input without a clear "
        "pitch at -12.0 dB; input unpitched: inharmonic; backend onnx")
    assert words.line("/dexbridge/host_param", ("ALGORITHM", 0.5)) == "host parameter 'ALGORITHM' = 0.500 (0..1, for Max vst~)"
    assert words.line("/dexbridge/voice", (b"\x00" * 3,)).startswith("voice: 3 bytes that are not a DX7 voice")
    words.line("/dexbridge/voice", (Voice.init().vced,))
    # the operator's frequency follows the voice: fine 50 on a ratio operator at coarse 1 is ratio 1.50
    assert words.lines([("/dexbridge/param", (124, 50)), ("/dexbridge/param", (134, 17))]) == [
        "2 parameters changed: OP1 F FINE = ratio 1.50 (VCED 50), ALGORITHM = 18 (VCED 17)"]
    assert words.line("/dexbridge/macro", (0, -0.25, "brightness")) == "macro 0 (brightness) = -0.25"
    assert words.line("/dexbridge/macros", ("brightness", "sustain")) == "macros: 0 brightness, 1 sustain"
    assert words.line("/dexbridge/said", ("127.0.0.1:9001", "/dexbridge/macro", 5, 0.5, "brightness")) == (
        "to 127.0.0.1:9001: macro 5 (brightness) = +0.50")  # what dexbridge monitor prints
    assert words.line("/dexbridge/notice", ("/dexbridge/morph: planning",)) == "notice: /dexbridge/morph: planning"
    assert words.line("/dexbridge/unknown", (1, "x")) == "/dexbridge/unknown 1 'x'"
