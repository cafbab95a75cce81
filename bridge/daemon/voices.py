"""Voices and banks: ``/dexbridge/voice/load|save``, ``/dexbridge/bank/load|save``, ``/dexbridge/dump``,
``/dexbridge/program`` and ``/dexbridge/morph/slot`` (and MIDI in's dumps and program changes).

Files are read and written only inside the files folder (``--files-dir``, :mod:`bridge.daemon.files`),
off the event loop (``asyncio.to_thread``), written atomically (temp file + rename,
:mod:`bridge.midi.syxfile`), and each finished request answers ``/dexbridge/done``. Each answered
request logs one INFO line: what came in, the voice (name, algorithm, transpose) and the time taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

from bridge.daemon.state import BANK_SIZE, SLOT_NAMES, BridgeState, Files, RequestError, SessionHost, Slot
from bridge.midi.sysex import encode_bank_dump, encode_voice_dump
from bridge.midi.syxfile import SyxContents, read_syx_voices, write_file
from bridge.osc.replies import Peer
from models.params import BY_NAME, display_value
from models.voice import Voice

logger = logging.getLogger(__name__)


def voice_words(voice: Voice) -> str:
    """A voice in a log line: its name, algorithm (1-32) and transpose as the DX7 shows them."""
    return (f"'{voice.name.strip()}' (algorithm {display_value(BY_NAME['algorithm'], voice['algorithm'])}, transpose "
            f"{display_value(BY_NAME['transpose'], voice['transpose'])})")


def _ms(began: float) -> str:
    return f"{(time.monotonic() - began) * 1000:.0f} ms"


class LoadedVoices:
    """The voice and bank addresses of one session.

    Args:
        session: the bridge; its state holds the voice, the bank and the morph slots.
    """

    def __init__(self, session: SessionHost) -> None:
        self.session = session
        self._last_change = asyncio.Event()  # set once the latest voice change asked for took effect (or failed)
        self._last_change.set()

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
            detail = f"{SLOT_NAMES[slot]} armed: the next voice dump on MIDI in fills it"
            logger.info("morph slot %s", detail)
            self.session.server.reply(peer, "/dexbridge/done", "/dexbridge/morph/slot", detail)
        elif text == "current":
            self.fill_slot(peer, slot, self.state.voice, self.state.latent, "the current voice")
        elif text.isdigit():
            self.fill_slot(peer, slot, self._bank_voice(int(text), "/dexbridge/morph/slot"), source=f"bank voice {text}")
        else:
            async def job() -> None:
                voice = await asyncio.to_thread(_read_voice, self.session.files, text, 0)
                await self._set_slot(peer, slot, voice, None, text)

            self.session.spawn(job(), peer, "/dexbridge/morph/slot")

    def fill_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None = None,
                  source: str = "MIDI in") -> None:
        """Put a voice into a morph slot (its latent point computed off the loop when not given)."""
        self.session.spawn(self._set_slot(peer, slot, voice, latent, source), peer, "/dexbridge/morph/slot")

    async def _set_slot(self, peer: Peer | None, slot: int, voice: Voice, latent: np.ndarray | None, source: str) -> None:
        began = time.monotonic()
        point = latent if latent is not None else await asyncio.to_thread(self.session.engine.encode, voice)
        self.state.slots[slot] = Slot(voice, point)
        self.session.slots_changed()
        logger.info("morph slot %s = %s from %s, %s", SLOT_NAMES[slot], voice_words(voice), source, _ms(began))
        detail = f"{SLOT_NAMES[slot]} = {voice.name.strip()}"
        if peer is None:
            self.session.server.broadcast("/dexbridge/done", "/dexbridge/morph/slot", detail)
        else:
            self.session.server.reply(peer, "/dexbridge/done", "/dexbridge/morph/slot", detail)

    def voice_load(self, peer: Peer, path: str, index: int = 0) -> None:
        """Make voice ``index`` of a ``.syx`` file the current voice (in turn: :meth:`_apply_in_turn`)."""
        def done(voice: Voice, began: float) -> None:
            logger.info("voice loaded: %s from %s voice %d, %s", voice_words(voice), path, index, _ms(began))

        self._apply_in_turn(peer, "/dexbridge/voice/load", lambda: asyncio.to_thread(_read_voice, self.session.files, path, index),
                            done)

    def _apply_in_turn(self, peer: Peer | None, address: str, fetch: Callable[[], Awaitable[Voice]],
                       done: Callable[[Voice, float], None]) -> None:
        """Fetch a voice off the loop and make it current once every voice change asked for before it
        has taken effect (or failed): files are read side by side, and on a busy machine reads finish
        in any order, but the last voice asked for is the one that stays."""
        previous, turn = self._last_change, asyncio.Event()
        self._last_change = turn

        async def job() -> None:
            began = time.monotonic()
            try:
                try:
                    voice = await fetch()
                finally:
                    await previous.wait()
                self.session.apply_voice(voice)
                done(voice, began)
            finally:
                turn.set()

        try:
            self.session.spawn(job(), peer, address)
        except RequestError:
            self._last_change = previous
            raise

    def voice_save(self, peer: Peer, path: str) -> None:
        """Write the current voice as a single voice dump."""
        self._write(peer, "/dexbridge/voice/save", path, [encode_voice_dump(self.state.voice, self.channel)])

    def bank_load(self, peer: Peer, path: str) -> None:
        """Load a bank for program changes and morph slots (fewer than 32 voices: the rest INIT VOICE)."""
        async def job() -> None:
            began = time.monotonic()
            contents = await asyncio.to_thread(_read_bank, self.session.files, path)
            self.load_bank([item.voice for item in contents.voices], path)
            logger.info("bank loaded: %d voices from %s (program 0 = '%s'), %s", len(contents.voices), path,
                        contents.voices[0].voice.name.strip(), _ms(began))
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
        """Make a voice of the loaded bank current (OSC or a MIDI program change): at once, or after the
        file loads asked for before it when some are still being read."""
        voice = self._bank_voice(number, "/dexbridge/program")

        def done(voice: Voice, _began: float) -> None:
            logger.info("program %d: %s from %s", number, voice_words(voice), "OSC" if peer is not None else "MIDI in")

        if self._last_change.is_set():
            self.session.apply_voice(voice)
            done(voice, 0.0)
        else:
            async def fetch() -> Voice:
                return voice

            self._apply_in_turn(peer, "/dexbridge/program", fetch, done)

    def _bank_voice(self, number: int, address: str) -> Voice:
        if not 0 <= number < len(self.state.bank):
            raise RequestError(f"{address}: bank index {number}, range 0..{len(self.state.bank) - 1}")
        return self.state.bank[number]

    def _write(self, peer: Peer, address: str, path: str, messages: list[bytes]) -> None:
        what = f"the bank ('{self.state.bank[0].name.strip()}', ...)" if address == "/dexbridge/bank/save" else (
            "the morph slots as a bank" if len(messages[0]) > 200 else f"the voice {voice_words(self.state.voice)}")

        async def job() -> None:
            began = time.monotonic()
            target = await asyncio.to_thread(_write_inside, self.session.files, path, messages)
            logger.info("%s: %s -> %s, %s", address.removeprefix("/dexbridge/").replace("/", " "), what, target, _ms(began))
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
