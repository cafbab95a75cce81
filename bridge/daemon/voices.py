"""Voices and banks: ``/dexbridge/voice/load|save``, ``/dexbridge/bank/load|save``, ``/dexbridge/dump``,
``/dexbridge/program`` and ``/dexbridge/morph/slot`` (and MIDI in's dumps and program changes).

Files are read and written only inside the files folder (``--files-dir``, :mod:`bridge.daemon.files`),
off the event loop (``asyncio.to_thread``), written atomically (temp file + rename,
:mod:`bridge.midi.syxfile`), and each finished request answers ``/dexbridge/done``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bridge.daemon.state import BANK_SIZE, SLOT_NAMES, BridgeState, Files, RequestError, SessionHost, Slot
from bridge.midi.sysex import encode_bank_dump, encode_voice_dump
from bridge.midi.syxfile import SyxContents, read_syx_voices, write_file
from bridge.osc.server import Peer
from models.voice import Voice


class LoadedVoices:
    """The voice and bank addresses of one session.

    Args:
        session: the bridge; its state holds the voice, the bank and the morph slots.
    """

    def __init__(self, session: SessionHost) -> None:
        self.session = session

    @property
    def channel(self) -> int:
        """The 0-based MIDI channel that dumps carry."""
        return self.session.settings.midi_channel

    @property
    def state(self) -> BridgeState:
        """The session's state."""
        return self.session.state

    def morph_slot(self, peer: Peer, slot: int, source: str | int) -> None:
        """Fill a morph corner from a bank index, a ``.syx`` file, the current voice, or the next MIDI voice dump."""
        if not 0 <= slot < len(SLOT_NAMES):
            raise RequestError(f"/dexbridge/morph/slot: slot {slot}, range 0..3 (A B C D)")
        text = str(source).strip()
        if text == "midi":
            self.state.dump_slot = slot
        elif text == "current":
            self.fill_slot(peer, slot, self.state.voice, self.state.latent)
        elif text.isdigit():
            self.fill_slot(peer, slot, self._bank_voice(int(text), "/dexbridge/morph/slot"))
        else:
            async def job() -> None:
                await self._set_slot(peer, slot, await asyncio.to_thread(_read_voice, self.session.files, text, 0), None)

            self.session.spawn(job(), peer, "/dexbridge/morph/slot")

    def fill_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None = None) -> None:
        """Put a voice into a morph slot (its latent point computed off the loop when not given)."""
        self.session.spawn(self._set_slot(peer, slot, voice, latent), peer, "/dexbridge/morph/slot")

    async def _set_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None) -> None:
        point = latent if latent is not None else await asyncio.to_thread(self.session.engine.encode, voice)
        self.state.slots[slot] = Slot(voice, point)
        self.session.slots_changed()
        detail = f"{SLOT_NAMES[slot]} = {voice.name.strip()}"
        if peer is None:
            self.session.server.broadcast("/dexbridge/done", "/dexbridge/morph/slot", detail)
        else:
            self.session.server.reply(peer, "/dexbridge/done", "/dexbridge/morph/slot", detail)

    def voice_load(self, peer: Peer, path: str, index: int = 0) -> None:
        """Make voice ``index`` of a ``.syx`` file the current voice."""
        async def job() -> None:
            self.session.apply_voice(await asyncio.to_thread(_read_voice, self.session.files, path, index))

        self.session.spawn(job(), peer, "/dexbridge/voice/load")

    def voice_save(self, peer: Peer, path: str) -> None:
        """Write the current voice as a single voice dump."""
        self._write(peer, "/dexbridge/voice/save", path, [encode_voice_dump(self.state.voice, self.channel)])

    def bank_load(self, peer: Peer, path: str) -> None:
        """Load a bank for program changes and morph slots (fewer than 32 voices: the rest INIT VOICE)."""
        async def job() -> None:
            contents = await asyncio.to_thread(_read_bank, self.session.files, path)
            self.load_bank([item.voice for item in contents.voices], path)
            self.session.server.reply(peer, "/dexbridge/done", "/dexbridge/bank/load", f"{len(contents.voices)} voices from {path}")

        self.session.spawn(job(), peer, "/dexbridge/bank/load")

    def load_bank(self, voices: Sequence[Voice], source: str) -> None:
        """Replace the loaded bank (MIDI bank dumps come here too)."""
        if not voices:
            raise RequestError(f"{source}: no voices in it")
        self.state.bank = [*voices[:BANK_SIZE], *(Voice.init() for _ in range(BANK_SIZE - len(voices)))]

    def bank_save(self, peer: Peer, path: str) -> None:
        """Write the loaded bank as a 32-voice bulk dump."""
        self._write(peer, "/dexbridge/bank/save", path, [encode_bank_dump(self.state.bank, self.channel)])

    def dump(self, peer: Peer, path: str, what: str = "voice") -> None:
        """DAW dump of the current voice, or of the four morph slots as a bank."""
        if what == "voice":
            self._write(peer, "/dexbridge/dump", path, [encode_voice_dump(self.state.voice, self.channel)])
        elif what == "slots":
            voices = [slot.voice if slot else Voice.init() for slot in self.state.slots]
            voices += [Voice.init() for _ in range(BANK_SIZE - len(voices))]
            self._write(peer, "/dexbridge/dump", path, [encode_bank_dump(voices, self.channel)])
        else:
            raise RequestError(f"/dexbridge/dump: what = {what!r}, choose voice or slots")

    def program(self, peer: Peer | None, number: int) -> None:
        """Make a voice of the loaded bank current (OSC or a MIDI program change)."""
        self.session.apply_voice(self._bank_voice(number, "/dexbridge/program"))

    def _bank_voice(self, number: int, address: str) -> Voice:
        if not 0 <= number < len(self.state.bank):
            raise RequestError(f"{address}: bank index {number}, range 0..{len(self.state.bank) - 1}")
        return self.state.bank[number]

    def _write(self, peer: Peer, address: str, path: str, messages: list[bytes]) -> None:
        async def job() -> None:
            target = await asyncio.to_thread(_write_inside, self.session.files, path, messages)
            self.session.server.reply(peer, "/dexbridge/done", address, str(target))

        self.session.spawn(job(), peer, address)



def _read_voice(files: Files, name: str, index: int) -> Voice:
    path = files.resolve_read(name)
    voices = read_syx_voices(path).voices
    if not 0 <= index < len(voices):
        raise RequestError(f"{path.name}: voice {index}, the file holds {len(voices)} voices (0..{len(voices) - 1})")
    return voices[index].voice


def _read_bank(files: Files, name: str) -> SyxContents:
    return read_syx_voices(files.resolve_read(name))


def _write_inside(files: Files, name: str, messages: list[bytes]) -> Path:
    target = files.resolve_write(name)
    write_file(target, messages)
    return target
