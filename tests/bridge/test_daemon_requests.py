"""Daemon requests beyond one datagram: TCP snippets, upload timeouts, a busy engine."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import mido
import pytest
import soundfile
from daemon_harness import daemon_settings, run_daemon
from osc_client import REPLY_TIMEOUT_S, OscClient, build
from pythonosc import slip
from pythonosc.osc_packet import OscPacket

from bridge.midi.sysex import encode_voice_dump
from bridge.midi.syxfile import read_syx_voices
from engine.runtime import Engine
from models.voice import Voice


async def test_a_whole_snippet_over_tcp_answers_on_the_connection(tiny_engine: Engine, brass_wav: Path) -> None:
    audio, rate = soundfile.read(brass_wav, dtype="float32")  # 4 s: 352 800 B, more than a datagram holds
    async with run_daemon(daemon_settings(), tiny_engine) as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.osc_port)
        writer.write(slip.encode(build("/dexbridge/infer/blob", audio.tobytes(), rate, types="bi")))
        await writer.drain()
        buffer, voice, answered = b"", None, False
        while not answered:  # each better voice comes back on the connection, then the answer
            buffer += await asyncio.wait_for(reader.read(65536), 30)
            *frames, buffer = buffer.split(slip.END)
            for frame in filter(None, frames):
                for timed in OscPacket(slip.decode(frame)).messages:
                    if timed.message.address == "/dexbridge/voice":
                        voice = Voice.from_values(timed.message.params[0])
                    answered = answered or timed.message.address == "/dexbridge/inferred"
        writer.close()
        assert voice == tiny_engine.infer(audio, rate).voice


async def test_an_abandoned_upload_is_reported_and_dropped(tiny_engine: Engine) -> None:
    async with run_daemon(daemon_settings(upload_timeout_s=0.3), tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/upload/begin", 11, 4000, 22050)
        client.send("/dexbridge/upload/chunk", 11, 0, b"\0" * 1000, types="iib")
        (text,) = await client.until("/dexbridge/error", timeout=5)
        assert text == "upload 11: no chunk for 0.3 s, dropped; begin again"
        client.send("/dexbridge/upload/chunk", 11, 1000, b"\0" * 1000, types="iib")
        (text,) = await client.until("/dexbridge/error")
        assert text.startswith("upload 11: no such upload open")
        assert daemon.session is not None and len(daemon.session.uploads) == 0
        client.close()


async def test_a_busy_engine_refuses_at_once_and_serves_the_rest(tiny_engine: Engine, brass_wav: Path) -> None:
    audio, rate = soundfile.read(brass_wav, dtype="float32")
    frame = slip.encode(build("/dexbridge/infer/blob", audio[: rate // 2].tobytes(), rate, types="bi"))
    async with run_daemon(daemon_settings(max_jobs=1, client_jobs=8), tiny_engine) as daemon:  # the engine busy, not the client
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.osc_port)
        writer.write(frame * 8)  # one write: the daemon reads all eight in one go, faster than any inference
        await writer.drain()
        inferred, busy, buffer = 0, [], b""
        while inferred + len(busy) < 8:
            buffer += await asyncio.wait_for(reader.read(65536), 30)
            *frames, buffer = buffer.split(slip.END)
            for timed in (t for f in frames if f for t in OscPacket(slip.decode(f)).messages):
                if timed.message.address == "/dexbridge/inferred":
                    inferred += 1
                elif timed.message.address == "/dexbridge/error":
                    busy.append(timed.message.params[0])
        writer.close()
        assert inferred in (1, 2), "one running and one queued (or both queued before the thread took the first)"
        assert len(busy) == 8 - inferred and all(text.startswith("busy: 1 jobs queued (limit 1)") for text in busy), busy
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        client.send("/dexbridge/ping")
        await client.until("/dexbridge/pong")
        client.close()


async def _answer(client: OscClient, address: str, *args: object) -> tuple[str, list]:
    """Send one request; its ``/dexbridge/done`` or ``/dexbridge/error``."""
    client.send(address, *args)
    while True:
        got, params = await client.receive(REPLY_TIMEOUT_S)
        if got in ("/dexbridge/done", "/dexbridge/error"):
            return got, params


async def test_without_overwrite_only_files_of_dx7_dumps_are_replaced(tiny_engine: Engine, tmp_path: Path,
                                                                      brass_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    text = (b"notes on my patches, not SysEx\n" * 200)[:4096]  # a raw bank's size
    (files / "text.syx").write_bytes(text)
    (files / "roland.syx").write_bytes(encode_voice_dump(Voice.init()) + bytes.fromhex("f0 41 10 42 12 40 00 7f 00 41 f7"))
    track = mido.MidiTrack([mido.Message("sysex", data=encode_voice_dump(Voice.init())[1:-1])])
    for step in range(400):
        pitch = 48 + step % 24
        track += [mido.Message("note_on", note=pitch, velocity=90), mido.Message("note_off", note=pitch, time=120)]
    mido.MidiFile(type=0, tracks=[track]).save(files / "song.mid")
    foreign = {path.name: path.read_bytes() for path in files.iterdir()}
    async with run_daemon(daemon_settings(files_dir=(files, brass_path.parent)), tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        for name in foreign:
            assert await _answer(client, "/dexbridge/voice/save", name) == ("/dexbridge/error", [
                f"{name!r} exists in {files} and is not a DX7 .syx/.mid file: not replaced (the daemon replaces only voice "
                f"and bank dumps; choose another name, or start it with --overwrite)"])
        assert {name: (files / name).read_bytes() for name in foreign} == foreign
        assert (await _answer(client, "/dexbridge/bank/load", brass_path.name))[0] == "/dexbridge/done"
        for request in (("/dexbridge/voice/save", "v.syx"), ("/dexbridge/voice/save", "v.mid"), ("/dexbridge/bank/save", "b.syx"),
                        ("/dexbridge/bank/save", "b.mid"), ("/dexbridge/dump", "d.mid", "slots")):
            for _ in range(2):  # written, then replaced
                assert (await _answer(client, *request))[0] == "/dexbridge/done", request
        client.close()
    assert read_syx_voices(files / "b.syx").voices[7].voice == read_syx_voices(brass_path).voices[7].voice


async def test_takes_and_upload_ids_that_are_not_plain_numbers_are_refused_in_words(
        tiny_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long_id = "9" * 5000  # past the digits int() converts
    with caplog.at_level(logging.WARNING, logger="bridge.osc.server"):
        async with run_daemon(daemon_settings(files_dir=(tmp_path,)), tiny_engine) as daemon:
            client = await OscClient().open("127.0.0.1", daemon.osc_port)
            for takes, message in (
                ("x.wav:²", f"'x.wav:²' not found in the files folder {tmp_path}: give the name of a file inside"),
                ("x.wav:60:²", "/dexbridge/infer/takes: 'x.wav:60:²' is not PATH:NOTE:VELOCITY or upload:ID:NOTE:VELOCITY "
                               "(note 0..127, velocity 1..127: whole numbers)"),
                ("upload:²:60", "/dexbridge/infer/takes: 'upload:²:60' is not PATH:NOTE:VELOCITY"),
                (f"upload:{long_id}:60", "/dexbridge/infer/takes: upload id '99999999999999999999'... (5000 characters): "
                                         "not a whole number in 0..2147483647 (the id /dexbridge/upload/begin gave)"),
                ("upload:2147483648", "/dexbridge/infer/takes: upload id '2147483648': not a whole number in 0..2147483647"),
            ):
                client.send("/dexbridge/infer/takes", takes)
                (text,) = await client.until("/dexbridge/error")
                assert text.startswith(message), (takes, text)
            client.send("/dexbridge/upload/begin", -5, 400, 22050)
            assert await client.until("/dexbridge/error") == ["upload -5: id out of range 0..2147483647"]
            client.send("/dexbridge/ping")
            await client.until("/dexbridge/pong")
            client.close()
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("osc.failed")] == []


async def test_each_upload_expires_on_time_whenever_it_began(tiny_engine: Engine) -> None:
    timeout_s = 2.0
    async with run_daemon(daemon_settings(upload_timeout_s=timeout_s), tiny_engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        loop = asyncio.get_running_loop()
        began = {}
        for upload_id in (1, 2):  # the second begins while the first one's timer runs
            client.send("/dexbridge/upload/begin", upload_id, 4000, 22050)
            began[upload_id] = loop.time()
            await asyncio.sleep(0.1)
        for _ in began:
            (text,) = await client.until("/dexbridge/error", timeout=2 * timeout_s)
            upload_id = int(text.split()[1].rstrip(":"))
            late = loop.time() - began[upload_id] - timeout_s
            assert text == f"upload {upload_id}: no chunk for 2 s, dropped; begin again"
            assert -0.05 < late < 0.25, f"upload {upload_id} expired {late:+.3f} s after its {timeout_s} s"
        client.close()


async def test_four_clients_holding_two_uploads_each_leave_a_place_for_a_fifth(tiny_engine: Engine) -> None:
    async with run_daemon(daemon_settings(client_uploads=2), tiny_engine) as daemon:
        clients = [await OscClient().open("127.0.0.1", daemon.osc_port, local_host=f"127.0.0.{host}") for host in range(1, 6)]
        try:
            for client in clients[:4]:
                for upload_id in (1, 2):
                    client.send("/dexbridge/upload/begin", upload_id, 4000, 22050)
            await asyncio.sleep(0.2)
            clients[4].send("/dexbridge/upload/begin", 1, 4000, 22050)
            clients[4].send("/dexbridge/ping")
            await clients[4].until("/dexbridge/pong")
            assert daemon.session is not None and len(daemon.session.uploads) == 9
            errors = [args for client in clients for address, args in client.take_all() if address == "/dexbridge/error"]
            assert errors == []
        finally:
            for client in clients:
                client.close()


async def test_a_long_file_is_read_only_around_its_note(tiny_engine: Engine, tmp_path: Path, brass_wav: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A 3-minute recording whose note starts at 100 s: the daemon reads seconds of it, not the file."""
    import numpy as np

    note, rate = soundfile.read(brass_wav, dtype="float32")
    long = np.zeros(180 * rate, np.float32)
    long[100 * rate:100 * rate + len(note)] = note
    soundfile.write(tmp_path / "long.wav", long, rate, subtype="PCM_16")
    with caplog.at_level(logging.INFO, logger="bridge.daemon.session"):
        async with run_daemon(daemon_settings(files_dir=(tmp_path,)), tiny_engine) as daemon:
            client = await OscClient().open("127.0.0.1", daemon.osc_port)
            client.send("/dexbridge/infer/file", "long.wav")
            await client.until("/dexbridge/inferred", timeout=60)
            client.close()
    (line,) = [record.getMessage() for record in caplog.records if record.getMessage().startswith("read ")]
    start, stop = (float(x) for x in line.split()[1].split("-"))
    assert 99.5 <= start <= 100.5 and stop - start < 10.0, line
    assert "of the 180.0 s of long.wav" in line
