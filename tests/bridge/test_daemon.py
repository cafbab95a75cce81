"""The daemon through real UDP: every route, every refusal, the burst, files; a tiny real model."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
import soundfile
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient, build

from bridge.daemon.lifecycle import Daemon
from bridge.midi.sysex import decode_sysex, encode_voice_dump
from bridge.midi.syxfile import read_syx_messages, read_syx_voices, write_syx
from bridge.osc.namespace import OSC_ROUTES
from engine.runtime import Engine
from models.params import BY_INDEX
from models.voice import Voice

SKIP = ("/dexbridge/param", "/dexbridge/host_param")


@pytest.fixture
def brass(brass_voices: list[Voice]) -> list[Voice]:
    return brass_voices


@pytest.fixture
def engine(tiny_engine: Engine) -> Engine:
    return tiny_engine


@pytest.fixture
def voice_wav(brass_wav: Path) -> Path:
    return brass_wav


@pytest.fixture
async def running(engine: Engine, tmp_path: Path, brass_path: Path, voice_wav: Path) -> AsyncIterator[tuple[Daemon, OscClient]]:
    files_dir = (tmp_path, brass_path.parent, voice_wav.parent)  # writes go to tmp_path
    async with run_daemon(daemon_settings(mode=("osc",), files_dir=files_dir), engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        yield daemon, client
        client.close()


async def next_voice(client: OscClient) -> Voice:
    (vced,) = await client.until("/dexbridge/voice")
    assert len(vced) == 155
    return Voice.from_values(vced)


async def answer(client: OscClient) -> tuple[Voice, list[Any], list[list[Any]]]:
    """After an inference request: the last voice sent before ``/dexbridge/inferred``, that reply's
    arguments, and the ``/dexbridge/better`` replies that announced each better voice on the way."""
    voice, better = None, []
    while True:
        address, args = await client.receive(10.0)
        if address == "/dexbridge/voice":
            voice = Voice.from_values(args[0])
        elif address == "/dexbridge/better":
            better.append(args)
        elif address == "/dexbridge/inferred":
            assert voice is not None, "/dexbridge/inferred came before any voice"
            return voice, args, better


def test_every_route_has_a_handler(running: tuple[Daemon, OscClient]) -> None:
    daemon, _ = running
    assert daemon.session is not None
    assert set(daemon.session.handlers) == set(OSC_ROUTES)
    assert all(callable(handler) for handler in daemon.session.handlers.values())


async def test_ping_and_status(running: tuple[Daemon, OscClient]) -> None:
    daemon, client = running
    client.send("/dexbridge/ping")
    assert await client.expect("/dexbridge/pong") == []
    client.send("/dexbridge/status")
    (text,) = await client.expect("/dexbridge/status")
    status = json.loads(text)
    assert status["modes"] == ["osc"] and status["backend"] == "torch" and status["macros"] == 4
    assert status["latent_dim"] == daemon.engine.latent_dim and len(status["bank"]) == 32
    assert status["osc"]["messages"] == 2


async def test_infer_file_replies_the_voice_and_what_it_heard(running: tuple[Daemon, OscClient], voice_wav: Path,
                                                              engine: Engine) -> None:
    daemon, client = running
    client.send("/dexbridge/infer/file", str(voice_wav))
    voice, inferred, better = await answer(client)
    f0_hz, level_db, backend, voice_f0_hz, cents, pitch, source, mae = inferred
    audio, rate = soundfile.read(voice_wav, dtype="float32")
    direct = engine.infer(audio, rate)  # bounded by renders: the engine is deterministic in and out of the daemon
    diag = direct.diagnostics
    assert voice == direct.voice and better and better[-1][0] == source == diag.source
    assert [args[1] for args in better] == sorted((args[1] for args in better), reverse=True)  # each one better
    assert backend == "torch" and level_db == pytest.approx(diag.level_db, abs=1e-4) and level_db <= 0
    assert f0_hz == pytest.approx(diag.f0_hz, rel=1e-5) and 60 < f0_hz < 600
    assert (voice_f0_hz, cents, pitch) == (pytest.approx(diag.voice_f0_hz or 0.0, rel=1e-5),
                                           pytest.approx(diag.cents or 0.0, abs=1e-3), diag.pitch)
    assert mae == pytest.approx(diag.distance[1], rel=1e-5)
    assert daemon.session is not None and daemon.session.state.voice == voice


async def test_infer_blob_and_chunked_upload_give_the_same_voice(running: tuple[Daemon, OscClient], voice_wav: Path) -> None:
    _, client = running
    audio, rate = soundfile.read(voice_wav, dtype="float32")
    short = audio[: rate // 2]  # 44 100 B: fits one datagram
    client.send("/dexbridge/infer/blob", short.tobytes(), rate, types="bi")
    from_blob, _, _ = await answer(client)
    payload = short.astype("<f4").tobytes()
    client.send("/dexbridge/upload/begin", 5, len(payload), rate)
    for offset in range(0, len(payload), 8000):
        client.send("/dexbridge/upload/chunk", 5, offset, payload[offset:offset + 8000], types="iib")
    client.send("/dexbridge/upload/end", 5)
    assert (await answer(client))[0] == from_blob


@pytest.mark.parametrize(
    ("address", "args", "types", "message"),
    [
        ("/dexbridge/infer/file", ["no/such/file.wav"], None, "'no/such/file.wav' not found in the files folders"),
        ("/dexbridge/infer/blob", [b"\0\0\0", 22050], "bi", "3 B is not a whole number of float32 samples"),
        ("/dexbridge/infer/blob", [b"\0" * 4000, 22050], "bi", "silen"),
        ("/dexbridge/upload/begin", [1, 1 << 30, 22050], None, f"total {1 << 30} B, range 4..{16 * 1024 * 1024} B"),
        ("/dexbridge/upload/chunk", [9, 0, b"\0\0\0\0"], "iib", "upload 9: no such upload open"),
        ("/dexbridge/upload/end", [9], None, "upload 9: no such upload open"),
        ("/dexbridge/latent", [0.5, 0.5], "ff", "2 values, this model's latent has"),
        ("/dexbridge/macro", [7, 0.5], "if", "index 7, range 0..3 (4 macros in this model)"),
        ("/dexbridge/macro", [0, 2.0], "if", "value 2.0, range -1..1"),
        ("/dexbridge/morph", [0.5], "f", "slots A, B are empty; fill them with /dexbridge/morph/slot SLOT SOURCE "
                                         "(a bank index, a .syx path, current, or midi for the next voice dump on MIDI in)"),
        ("/dexbridge/morph", [1.5, 0.0], "ff", "x = 1.5, range 0..1"),
        ("/dexbridge/morph/slot", [4, "current"], "is", "slot 4, range 0..3"),
        ("/dexbridge/morph/slot", [0, 40], "ii", "bank index 40, range 0..31"),
        ("/dexbridge/morph/slot", [0, "no/such.syx"], "is", "'no/such.syx' not found in the files folders"),
        ("/dexbridge/voice/load", ["no/such.syx"], None, "'no/such.syx' not found in the files folders"),
        ("/dexbridge/voice/save", ["no/such/dir/v.syx"], None, "/no/such/dir"),
        ("/dexbridge/dump", ["/tmp/x.syx", "everything"], None, "what = 'everything', choose voice or slots"),
        ("/dexbridge/program", [32], None, "bank index 32, range 0..31"),
        ("/dexbridge/mode", ["param", "sysex"], None, "unknown mode(s) ['sysex']"),
        ("/dexbridge/capture", [60.0], "f", "capture of 60.0 s: range 0.1..10.0 s"),
        ("/dexbridge/morph", [math.nan], "f", "argument 1 is nan"),
        ("/dexbridge/latent", [math.inf], "f", "argument 1 is inf"),
        ("/dexbridge/macro", ["zero", 1.0], None, "argument 1 is a string ('zero'); expected an int"),
        ("/dexbridge/nope", [], None, "unknown address '/dexbridge/nope'"),
    ],
)
async def test_refusals_answer_error_and_the_daemon_keeps_serving(running: tuple[Daemon, OscClient], address: str,
                                                                  args: list[Any], types: str | None, message: str) -> None:
    daemon, client = running
    client.send(address, *args, types=types)
    (text,) = await client.until("/dexbridge/error")
    assert message in text
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")
    assert daemon.server is not None and daemon.server.stats["errors"] == 1


async def test_garbage_datagrams(running: tuple[Daemon, OscClient]) -> None:
    daemon, client = running
    for packet, message in ((b"\xff" * 7, "not an OSC packet (7 bytes"),
                            (b"/dexbridge/ping\0,q\0\0", "/dexbridge/ping: argument type(s) 'q' not supported"),
                            (build("/dexbridge/ping")[:12], "not an OSC packet"),
                            (bytes(range(256)), "not an OSC packet (256 bytes")):
        client.send_raw(packet)
        (text,) = await client.until("/dexbridge/error")
        assert text.startswith(message)
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")


async def test_burst_of_10000_morph_messages_ends_on_the_last(running: tuple[Daemon, OscClient], brass_path: Path,
                                                             brass: list[Voice]) -> None:
    """The default morph (the planned path, once planned) under a burst: no backlog, the last message's voice."""
    daemon, client = running
    assert daemon.session is not None
    session = daemon.session
    client.send("/dexbridge/bank/load", str(brass_path))
    await client.until("/dexbridge/done")
    for slot, index in ((0, 0), (1, 9)):
        client.send("/dexbridge/morph/slot", slot, str(index))
        await client.until("/dexbridge/done")
    for _ in range(1000):  # planned off the loop after the second slot is filled
        if (plan := session.controls.plans.line_for(brass[0], brass[9])) is not None:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the morph A -> B was never planned")
    positions = np.random.default_rng(1).random(10_000).astype(np.float32)
    assert daemon.server is not None
    before = daemon.server.stats["messages"]
    for x in positions:  # as fast as one process can: each loop turn the daemon reads what has arrived
        client.send("/dexbridge/morph", float(x), types="f")
        await asyncio.sleep(0)
    for _ in range(1000):
        await asyncio.sleep(0.01)
        if daemon.server is not None and daemon.server.stats["messages"] >= before + 10_000 and session.controls.loop.idle:
            break
    expected = plan.voice_at(float(positions[-1]))
    assert session.state.voice == expected and session.state.latent is None  # looked up, not decoded
    assert session.controls.loop.steps < 2_000, f"{session.controls.loop.steps} steps for 10 000 messages"
    replies = await client.settle()  # the last voice's reply may still sit in the socket, unread
    assert [args for address, args in replies if address == "/dexbridge/error"] == []
    voices = [Voice.from_values(args[0]) for address, args in replies if address == "/dexbridge/voice"]
    assert voices and voices[-1] == expected


async def test_macros_move_around_the_current_voice(running: tuple[Daemon, OscClient], voice_wav: Path) -> None:
    daemon, client = running
    client.send("/dexbridge/infer/file", str(voice_wav))
    start, _, _ = await answer(client)
    client.send("/dexbridge/macro", 0, 1.0, types="if")
    moved = await next_voice(client)
    while daemon.session is not None and not daemon.session.controls.loop.idle:
        moved = await next_voice(client)
    assert moved != start
    assert daemon.session is not None and daemon.session.state.macro_values is not None


async def test_osc_mode_streams_host_parameters(running: tuple[Daemon, OscClient], brass_path: Path, brass: list[Voice]) -> None:
    _, client = running
    client.send("/dexbridge/voice/load", str(brass_path), 2)
    await next_voice(client)
    replies = await client.settle()  # the param bundle follows the voice reply
    host = {args[0]: args[1] for address, args in replies if address == "/dexbridge/host_param"}
    params = {args[0]: args[1] for address, args in replies if address == "/dexbridge/param"}
    assert params == Voice.init().diff(brass[2])
    named = {BY_INDEX[i].dexed_name: BY_INDEX[i] for i in params if BY_INDEX[i].dexed_name}
    assert set(host) == set(named) and len(host) > 50
    for name, spec in named.items():
        assert host[name] == pytest.approx((brass[2][spec.index] - spec.lo) / (spec.hi - spec.lo))


async def test_voice_loads_take_effect_in_the_order_asked(running: tuple[Daemon, OscClient], brass_path: Path,
                                                         brass: list[Voice], monkeypatch: pytest.MonkeyPatch) -> None:
    """The first file read is the slowest (a busy machine): the voices still arrive in the order they
    were asked for, a failed load in between holds nothing up, a program change waits its turn, and
    the last one asked for stays."""
    import time

    from bridge.daemon import voices

    read = voices._read_voice

    def slow_first(files: Any, path: str, index: int) -> Voice:
        if index == 2:
            time.sleep(0.5)
        return read(files, path, index)

    monkeypatch.setattr(voices, "_read_voice", slow_first)
    daemon, client = running
    client.send("/dexbridge/bank/load", str(brass_path))
    await client.until("/dexbridge/done")
    client.send("/dexbridge/voice/load", str(brass_path), 2)
    client.send("/dexbridge/voice/load", "no/such.syx", 0)
    client.send("/dexbridge/voice/load", str(brass_path), 11)
    client.send("/dexbridge/voice/load", str(brass_path), 23)
    client.send("/dexbridge/program", 5)
    answers: list[Any] = []
    while len(answers) < 5:
        address, args = await client.receive(10)
        if address == "/dexbridge/voice":
            answers.append(Voice.from_values(args[0]))
        elif address == "/dexbridge/error":
            answers.append(args[0])
    assert answers[0] == brass[2] and "not found" in answers[1] and answers[2:] == [brass[11], brass[23], brass[5]]
    assert daemon.session is not None and daemon.session.state.voice == brass[5]


async def test_files_are_written_and_read_back(running: tuple[Daemon, OscClient], brass_path: Path, brass: list[Voice],
                                               tmp_path: Path) -> None:
    daemon, client = running
    client.send("/dexbridge/bank/load", str(brass_path))
    await client.until("/dexbridge/done")
    client.send("/dexbridge/program", 7)
    assert await next_voice(client) == brass[7]
    for address, name, extra in (("/dexbridge/voice/save", "v.syx", ()), ("/dexbridge/dump", "v.mid", ()),
                                 ("/dexbridge/bank/save", "bank.syx", ()), ("/dexbridge/dump", "slots.syx", ("slots",))):
        client.send(address, str(tmp_path / name), *extra)
        assert await client.until("/dexbridge/done") == [address, str(tmp_path / name)]
    assert read_syx_voices(tmp_path / "v.syx").voices[0].voice == brass[7]
    (message,) = read_syx_messages(tmp_path / "v.syx")
    assert decode_sysex(message).channel == 0
    assert [item.voice for item in read_syx_voices(tmp_path / "bank.syx").voices] == brass
    (sysex,) = [bytes(m.bytes()) for track in mido.MidiFile(tmp_path / "v.mid").tracks for m in track if m.type == "sysex"]
    assert decode_sysex(sysex).voice == brass[7]
    assert [item.voice for item in read_syx_voices(tmp_path / "slots.syx").voices][:4] == [Voice.init()] * 4
    assert not list(tmp_path.glob("*.tmp*")), "a temporary file was left behind"
    write_syx(tmp_path / "two.syx", [encode_voice_dump(voice) for voice in brass[:2]])
    client.send("/dexbridge/voice/load", str(tmp_path / "two.syx"), 1)
    assert await next_voice(client) == brass[1]
    client.send("/dexbridge/mode", "param", "cc", "param")
    assert await client.until("/dexbridge/done") == ["/dexbridge/mode", "param cc"]
    assert daemon.session is not None and daemon.session.state.modes == ("param", "cc")


async def test_no_request_blocks_the_event_loop(running: tuple[Daemon, OscClient], voice_wav: Path, brass_path: Path,
                                                tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """asyncio debug mode names every callback that held the loop; inference, file I/O and decoding
    all run elsewhere, so none comes near 100 ms (the engine's own inference takes about that here), and
    the garbage collector no longer scans what was loaded at startup (a full collection took 140 ms)."""
    _, client = running
    assert gc.get_freeze_count() > 100_000
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.1
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            client.send("/dexbridge/bank/load", str(brass_path))
            await client.until("/dexbridge/done")
            for slot, index in ((0, 2), (1, 12)):
                client.send("/dexbridge/morph/slot", slot, index)
                await client.until("/dexbridge/done")
            client.send("/dexbridge/infer/file", str(voice_wav))
            await client.until("/dexbridge/inferred")
            for x in np.linspace(0, 1, 200):
                client.send("/dexbridge/morph", float(x))
                await asyncio.sleep(0.001)
            client.send("/dexbridge/dump", str(tmp_path / "slots.mid"), "slots")
            await client.until("/dexbridge/done")
    finally:
        loop.set_debug(False)
    slow = [record.getMessage() for record in caplog.records if record.name == "asyncio" and "took" in record.getMessage()]
    assert slow == []


async def test_midi_in_refusals_are_broadcast(running: tuple[Daemon, OscClient]) -> None:
    """MIDI in's router fed as the port delivers (the port itself is tested through JACK in tests/e2e)."""
    daemon, client = running
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")
    router = daemon.router
    assert router is not None
    router.feed(bytes([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]))  # a universal identity request: not a DX7 message
    (text,) = await client.until("/dexbridge/error")
    assert text.startswith("MIDI in: SysEx of 6 B refused:")
    router.report_dropped(["12 bytes of SysEx cut short by status byte 0x90"])
    assert await client.until("/dexbridge/error") == ["MIDI in: SysEx dropped: 12 bytes of SysEx cut short by status byte 0x90"]
    router.feed(bytes([0xB0, 28, 64]))  # the morph pad with no slots filled
    (text,) = await client.until("/dexbridge/error")
    assert text.startswith("MIDI in: /dexbridge/morph: slots A, B are empty")
    router.feed(bytes([0xB0, 99, 1]))  # an unrouted CC: nothing
    router.feed(bytes([0xF0, 0x43, 0x20, 0x00, 0xF7]))  # a dump request: logged, not served
    client.send("/dexbridge/ping")
    await client.until("/dexbridge/pong")
    assert [address for address, _ in client.take_all()] == []
    assert router.stats["errors"] == 3 and router.stats["messages"] == 4


async def test_a_checkpoint_without_macro_axes_says_how_to_get_them(tiny_checkpoint: Path) -> None:
    engine = Engine.load(tiny_checkpoint, backend="torch")
    async with run_daemon(daemon_settings(), engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/macro", 0, 0.5)
        (text,) = await client.until("/dexbridge/error")
        assert "this checkpoint has no macro axes" in text and "--axes-corpus" in text
        client.close()


async def test_a_daemon_not_ready_in_time_is_stopped_and_named(engine: Engine) -> None:
    daemon = Daemon(daemon_settings(), engine=engine)
    with pytest.raises(TimeoutError, match="not ready within 0 s"):
        async with daemon.running(startup_timeout_s=0):
            pytest.fail("the block ran without a ready daemon")
    assert not daemon.ready.is_set()
    assert [task for task in asyncio.all_tasks() if task.get_name() == "dexbridge-daemon"] == [], "serve() still runs"


async def test_a_newer_inference_ends_the_running_search(tiny_checkpoint: Path, tmp_path: Path, voice_wav: Path) -> None:
    slow = Engine.load(tiny_checkpoint, backend="torch", search_budget_ms=20_000.0)
    async with run_daemon(daemon_settings(mode=("osc",), files_dir=(voice_wav.parent,)), slow) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        started = asyncio.get_running_loop().time()
        client.send("/dexbridge/infer/file", voice_wav.name)
        await client.until("/dexbridge/better")
        client.send("/dexbridge/status")
        status = json.loads((await client.until("/dexbridge/status"))[0])
        assert status["search"] is not None and status["search"]["renders"] >= 1
        client.send("/dexbridge/infer/file", voice_wav.name)
        await client.until("/dexbridge/inferred")  # the first request's answer: its search was stopped
        assert asyncio.get_running_loop().time() - started < 10.0
        client.close()


async def test_a_control_moves_while_a_search_runs(tiny_checkpoint: Path, voice_wav: Path) -> None:
    """A latent control decodes on the event loop: a search holding the inference thread does not hold it up."""
    slow = Engine.load(tiny_checkpoint, backend="torch", search_budget_ms=20_000.0)
    async with run_daemon(daemon_settings(mode=("osc",), files_dir=(voice_wav.parent,), slew_ms=0.0), slow) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/infer/file", voice_wav.name)
        await client.until("/dexbridge/better")
        latent = np.full(slow.latent_dim, 0.3, np.float32)
        wanted = slow.decode(latent)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        client.send("/dexbridge/latent", *(float(value) for value in latent))
        while (voice := await next_voice(client)) != wanted:
            assert loop.time() - sent < 2.0, "the control's voice waited for the search"
        assert loop.time() - sent < 2.0
        client.send("/dexbridge/status")
        status = json.loads((await client.until("/dexbridge/status"))[0])
        assert status["search"] is not None, "the search ended before the control was answered: nothing was shown"
        assert voice == wanted
        client.close()


async def test_infer_takes_from_a_file_and_a_complete_upload(running: tuple[Daemon, OscClient], voice_wav: Path) -> None:
    daemon, client = running
    audio, rate = soundfile.read(voice_wav, dtype="float32")
    payload = audio[: rate // 2].astype("<f4").tobytes()
    client.send("/dexbridge/upload/begin", 7, len(payload), rate)
    for offset in range(0, len(payload), 8000):
        client.send("/dexbridge/upload/chunk", 7, offset, payload[offset:offset + 8000], types="iib")
    await asyncio.sleep(0.2)  # every chunk in; the takes request ends the upload itself
    client.send("/dexbridge/infer/takes", f"{voice_wav.name}:60:85 upload:7:67:110")
    voice, inferred, _ = await answer(client)
    assert inferred[6] and daemon.session is not None and daemon.session.state.voice == voice
    assert len(daemon.session.uploads) == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "0 takes; give 1 to 16"),
        ("a.wav:60:300", "'a.wav:60:300': note 0..127 (60 = middle C), velocity 1..127"),
        ("upload:x:60", "'upload:x:60' is not PATH:NOTE:VELOCITY or upload:ID:NOTE:VELOCITY"),
        ("upload:9:60:100", "upload 9"),
    ],
)
async def test_infer_takes_refusals(running: tuple[Daemon, OscClient], spec: str, message: str) -> None:
    _, client = running
    client.send("/dexbridge/infer/takes", spec)
    (text,) = await client.until("/dexbridge/error")
    assert message in text
