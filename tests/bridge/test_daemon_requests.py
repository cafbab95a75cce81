"""Daemon requests beyond one datagram: TCP snippets, upload timeouts, a busy engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import soundfile
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient, build
from pythonosc import slip
from pythonosc.osc_packet import OscPacket

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
