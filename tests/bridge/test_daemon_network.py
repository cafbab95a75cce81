"""Safe on a stage network, through real UDP and TCP: file requests confined to --files-dir (writes,
``..``, symbolic links, reads that leak nothing), strangers outside --allow dropped without a reply,
one flooding client next to a well-behaved one, and the start-up warning."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import mido
import pytest
import soundfile
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient, OscTcpClient, build
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage

from bridge.daemon.lifecycle import Daemon
from bridge.daemon.settings import Settings
from bridge.midi.sysex import encode_voice_dump
from bridge.midi.syxfile import read_syx_voices
from engine.runtime import Engine
from models.voice import Voice

TRANSPORTS = ("udp", "tcp")
SECRET = encode_voice_dump(Voice.init("SECRET"))


def outside_message(path: str, folder: Path, verb: str) -> str:
    return (f"{path!r} is outside the files folder {folder}: over OSC the daemon {verb} files only there (give a name "
            f"relative to it; start the daemon with --files-dir DIR for another folder)")


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``files`` (the daemon's folder) and ``outside`` it, which holds a voice file; ``files/link`` leads
    to ``outside`` and ``files/alias.syx`` to the file out there."""
    files, outside = tmp_path / "files", tmp_path / "outside"
    files.mkdir()
    outside.mkdir()
    (outside / "secret.syx").write_bytes(SECRET)
    (files / "link").symlink_to(outside, target_is_directory=True)
    (files / "alias.syx").symlink_to(outside / "secret.syx")
    return files, outside


@asynccontextmanager
async def connected(daemon: Daemon, transport: str, local_host: str = "127.0.0.1") -> AsyncIterator[OscClient]:
    client = OscClient() if transport == "udp" else OscTcpClient()
    await client.open("127.0.0.1", daemon.osc_port, local_host=local_host)
    try:
        yield client
    finally:
        client.close()


async def ask(client: OscClient, address: str, *args: object) -> tuple[str, list]:
    """Send one request; the reply that ends it (``/dexbridge/done``, ``/dexbridge/voice`` or ``/dexbridge/error``)."""
    client.send(address, *args)
    while True:
        got, reply = await client.receive(None)
        if got in ("/dexbridge/done", "/dexbridge/voice", "/dexbridge/error"):
            return got, reply


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_writes_outside_the_folder_are_refused(tiny_engine: Engine, folders: tuple[Path, Path], transport: str) -> None:
    files, outside = folders
    async with run_daemon(daemon_settings(files_dir=(files,)), tiny_engine) as daemon, connected(daemon, transport) as client:
        for path in (str(outside / "w.syx"), "../outside/w.syx", "sub/../../outside/w.syx", "link/w.syx", "alias.syx",
                     str(files / "link" / "w.syx"), "~/w.syx"):
            for address, extra in (("/dexbridge/voice/save", ()), ("/dexbridge/bank/save", ()), ("/dexbridge/dump", ("slots",))):
                assert await ask(client, address, path, *extra) == ("/dexbridge/error", [outside_message(path, files, "writes")])
    assert sorted(p.name for p in outside.iterdir()) == ["secret.syx"] and (outside / "secret.syx").read_bytes() == SECRET
    assert not (Path.home() / "w.syx").exists()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_reads_outside_the_folder_say_nothing_about_the_file(tiny_engine: Engine, folders: tuple[Path, Path],
                                                                   transport: str) -> None:
    files, outside = folders
    async with run_daemon(daemon_settings(files_dir=(files,)), tiny_engine) as daemon, connected(daemon, transport) as client:
        for path in ("/etc/passwd", "/etc/no-such-file", str(outside / "secret.syx"), str(outside / "missing.syx"),
                     "../outside/secret.syx", "../outside/missing.syx", "link/secret.syx", "link/missing.syx", "alias.syx"):
            expected = ("/dexbridge/error", [outside_message(path, files, "reads")])  # the same, there or not
            assert await ask(client, "/dexbridge/voice/load", path) == expected
            assert await ask(client, "/dexbridge/bank/load", path) == expected
            assert await ask(client, "/dexbridge/morph/slot", 0, path) == expected
            assert await ask(client, "/dexbridge/infer/file", path) == expected
        client.send("/dexbridge/status")
        (text,) = await client.until("/dexbridge/status")
    status = json.loads(text)
    assert status["voice"] == "INIT VOICE" and status["slots"] == [None] * 4  # nothing was read
    assert status["files"] == {"read": [str(files)], "write": str(files)}


async def test_inside_the_folders_everything_still_works(tiny_engine: Engine, tmp_path: Path, brass_path: Path,
                                                         brass_voices: list[Voice], brass_wav: Path) -> None:
    files, extra = tmp_path / "files", tmp_path / "library"
    files.mkdir()
    extra.mkdir()
    shutil.copy(brass_path, extra / "brass.syx")
    async with run_daemon(daemon_settings(files_dir=(files, extra)), tiny_engine) as daemon:
        for transport in TRANSPORTS:
            async with connected(daemon, transport) as client:
                assert await ask(client, "/dexbridge/bank/load", "brass.syx") == (  # relative: found in the second folder
                    "/dexbridge/done", ["/dexbridge/bank/load", "32 voices from brass.syx"])
                address, (vced,) = await ask(client, "/dexbridge/voice/load", str(extra / "brass.syx"), 5)
                assert address == "/dexbridge/voice" and Voice.from_values(vced) == brass_voices[5]
                (files / "sub").mkdir(exist_ok=True)
                for name in ("v.syx", "v.syx", "sub/v.mid", str(files / "abs.syx")):  # v.syx twice: the daemon's own file
                    assert await ask(client, "/dexbridge/voice/save", name) == (
                        "/dexbridge/done", ["/dexbridge/voice/save", str(files / name)])
                assert await ask(client, "/dexbridge/dump", "slots.syx", "slots") == (
                    "/dexbridge/done", ["/dexbridge/dump", str(files / "slots.syx")])
                assert await ask(client, "/dexbridge/morph/slot", 1, "v.syx") == (
                    "/dexbridge/done", ["/dexbridge/morph/slot", f"B = {brass_voices[5].name.strip()}"])
                shutil.copy(brass_wav, files / "snippet.wav")
                client.send("/dexbridge/infer/file", "snippet.wav")
                await client.until("/dexbridge/inferred")
                assert await ask(client, "/dexbridge/voice/load", "nope.syx") == ("/dexbridge/error", [
                    f"'nope.syx' not found in the files folders {files}, {extra}: give the name of a file inside (relative "
                    f"to it), or start the daemon with --files-dir on its folder"])
                assert await ask(client, "/dexbridge/voice/save", str(extra / "w.syx")) == (  # the second folder is read-only
                    "/dexbridge/error", [outside_message(str(extra / "w.syx"), files, "writes")])
    assert read_syx_voices(files / "v.syx").voices[0].voice == brass_voices[5]
    assert sorted(p.name for p in extra.iterdir()) == ["brass.syx"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_file_the_daemon_did_not_write_is_not_replaced(tiny_engine: Engine, tmp_path: Path, transport: str) -> None:
    files = tmp_path / "files"
    files.mkdir()
    song = mido.MidiFile(tracks=[mido.MidiTrack([mido.Message("note_on", note=60), mido.Message("note_off", note=60, time=480)])])
    song.save(files / "song.mid")
    (files / "notes.syx").write_text("my notes, not SysEx\n")
    kept = {name: (files / name).read_bytes() for name in ("song.mid", "notes.syx")}
    async with run_daemon(daemon_settings(files_dir=(files,)), tiny_engine) as daemon, connected(daemon, transport) as client:
        for name in kept:
            assert await ask(client, "/dexbridge/voice/save", name) == ("/dexbridge/error", [
                f"{name!r} exists in {files} and is not a DX7 .syx/.mid file: not replaced (the daemon replaces only voice "
                f"and bank dumps; choose another name, or start it with --overwrite)"])
    assert {name: (files / name).read_bytes() for name in kept} == kept
    async with run_daemon(daemon_settings(files_dir=(files,), overwrite=True), tiny_engine) as daemon, \
            connected(daemon, transport) as client:
        for name in kept:
            assert (await ask(client, "/dexbridge/voice/save", name))[0] == "/dexbridge/done"
    assert read_syx_voices(files / "notes.syx").voices[0].voice == Voice.init()


async def test_strangers_outside_allow_get_nothing_and_are_counted(tiny_engine: Engine, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """On Linux all of 127.0.0.0/8 is this computer: a client bound to 127.0.0.2 is a second address."""
    settings = daemon_settings(allow=("127.0.0.1/32",), files_dir=(tmp_path,))
    with caplog.at_level(logging.WARNING, logger="bridge.osc.server"):
        async with run_daemon(settings, tiny_engine) as daemon, connected(daemon, "udp", "127.0.0.2") as stranger, \
                connected(daemon, "tcp", "127.0.0.2") as tcp_stranger, connected(daemon, "udp") as friend:
            for _ in range(3):
                stranger.send("/dexbridge/ping")
            stranger.send("/dexbridge/voice/save", "pwned.syx")
            tcp_stranger.send("/dexbridge/ping")
            await tcp_stranger.closed.wait()  # the daemon hung up without a word
            friend.send("/dexbridge/ping")
            assert await friend.until("/dexbridge/pong") == []
            friend.send("/dexbridge/status")
            status = json.loads((await friend.until("/dexbridge/status"))[0])
            assert await stranger.settle() == [] and tcp_stranger.take_all() == []
    assert status["refused_peers"] == {"127.0.0.2": 5} and status["osc"]["refused"] == 5
    assert status["settings"]["allow"] == ["127.0.0.1/32"]
    assert "errors" not in status["osc"], "a stranger gets no /dexbridge/error either"
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("osc.stranger")]
    assert logged == ["osc.stranger host=127.0.0.2 refused=1: not in --allow (127.0.0.1/32); dropped without a reply "
                      "(logged once a minute per address)"]
    assert list(tmp_path.iterdir()) == [], "the stranger's voice/save was not served"


def flood(audio: bytes, rate: int) -> bytes:
    """One packet: three inferences and five uploads at once (one client's whole burst, read in one go)."""
    bundle = OscBundleBuilder(IMMEDIATELY)
    for _ in range(3):
        bundle.add_content(OscMessage(build("/dexbridge/infer/blob", audio, rate, types="bi")))
    for upload_id in range(1, 6):
        bundle.add_content(OscMessage(build("/dexbridge/upload/begin", upload_id, 4000, rate)))
    return bundle.build().dgram


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_flooding_client_does_not_starve_a_well_behaved_one(tiny_engine: Engine, brass_wav: Path,
                                                                    transport: str) -> None:
    audio, rate = soundfile.read(brass_wav, dtype="float32")
    snippet = audio[: rate // 5].astype("<f4").tobytes()  # 0.2 s: three fit one datagram
    async with run_daemon(daemon_settings(), tiny_engine) as daemon, connected(daemon, transport, "127.0.0.3") as flooder, \
            connected(daemon, "udp") as friend:
        flooder.send_raw(flood(snippet, rate))
        friend.send("/dexbridge/infer/blob", snippet, rate, types="bi")
        friend.send("/dexbridge/upload/begin", 1, len(snippet), rate)  # the flooder's id too: each client has its own
        friend.send("/dexbridge/upload/chunk", 1, 0, snippet, types="iib")
        friend.send("/dexbridge/upload/end", 1)
        heard = [address for address, _ in await friend.settle(quiet=1.0)]
        flooded = await flooder.settle(quiet=1.0)
    assert heard.count("/dexbridge/inferred") == 2 and "/dexbridge/error" not in heard
    errors = sorted(args[0] for address, args in flooded if address == "/dexbridge/error")
    assert errors == [
        "busy: 2 inferences from 127.0.0.3 in flight (at most 2 per client, --client-jobs); wait for /dexbridge/inferred "
        "before sending more",
        *(f"upload {n}: 2 uploads already open from 127.0.0.3 (at most 2 per client, --client-uploads); end or let one "
          f"expire first" for n in (3, 4, 5)),
    ]
    assert [address for address, _ in flooded].count("/dexbridge/inferred") == 2


async def test_listening_beyond_this_computer_warns_at_start(tiny_engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.daemon.lifecycle"):
        async with run_daemon(daemon_settings(osc_host="0.0.0.0"), tiny_engine) as daemon, connected(daemon, "udp") as client:
            client.send("/dexbridge/ping")
            await client.until("/dexbridge/pong")  # this computer is still served
            assert daemon.session is not None
            folder, port = daemon.session.files.write_folder, daemon.osc_port
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("osc.exposed")]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        f"osc.exposed: OSC listens on 0.0.0.0:{port} (UDP and TCP), where other computers can reach it, but serves this "
        f"computer only (no --allow given: loopback); packets from other addresses are dropped without a reply and "
        f"counted in /dexbridge/status. OSC has no authentication: a client that is served can drive the synth, run "
        f"inferences, and read and write .syx/.mid/audio files in {folder} (--files-dir). To serve Max on a second "
        f"computer, name it: --allow 192.168.1.20, or its network: --allow 192.168.1.0/24 (--allow any serves everyone)")


async def test_a_loopback_daemon_does_not_warn(tiny_engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.daemon.lifecycle"):
        async with run_daemon(daemon_settings(), tiny_engine):
            pass
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if m.startswith("osc.exposed")]
    assert [m for m in messages if m.startswith("osc.access allow=127.0.0.0/8 ::1/128 files=")]


def test_the_warning_for_allow_any_says_everyone_is_served(tmp_path: Path) -> None:
    from bridge.daemon.files import FileArea
    from bridge.daemon.lifecycle import exposure_warning

    files = FileArea.open((tmp_path,))
    text = exposure_warning(Settings(osc_host="::", allow=("any",), osc_tcp=False), 9000, files)
    assert text == (f"osc.exposed: OSC listens on :::9000 (UDP) and serves every address that reaches it (--allow any). "
                    f"OSC has no authentication: a client that is served can drive the synth, run inferences, and read and "
                    f"write .syx/.mid/audio files in {tmp_path} (--files-dir), so anyone on this network can. Restrict it "
                    f"to your computers: --allow 192.168.1.0/24 (their network) or --allow 192.168.1.20 (one address)")
    assert exposure_warning(Settings(osc_host="0.0.0.0", allow=("192.168.1.0/24",)), 9000, files) is None
    assert exposure_warning(Settings(osc_host="localhost", allow=("any",)), 9000, files) is None

