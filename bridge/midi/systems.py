"""MIDI systems (``--midi-api``): ALSA, JACK, CoreMIDI or WinMM through python-rtmidi, which one a value names,
and which one opens here (``auto``: the first that does)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import rtmidi

from models.errors import MidiPortError

logger = logging.getLogger("bridge.midi.ports")  # its lines kept the ports' logger when they moved here

CLIENT_NAME = "dexbridge"
"""The name our rtmidi clients take."""


@dataclass(frozen=True)
class MidiApi:
    """One ``--midi-api`` choice: the mido backend name and the rtmidi API constant."""

    mido_backend: str
    rtmidi_api: int


MIDI_APIS: dict[str, MidiApi] = {
    "auto": MidiApi("mido.backends.rtmidi", rtmidi.API_UNSPECIFIED),
    "jack": MidiApi("mido.backends.rtmidi/UNIX_JACK", rtmidi.API_UNIX_JACK),
    "alsa": MidiApi("mido.backends.rtmidi/LINUX_ALSA", rtmidi.API_LINUX_ALSA),
    "coremidi": MidiApi("mido.backends.rtmidi/MACOSX_CORE", rtmidi.API_MACOSX_CORE),
    "winmm": MidiApi("mido.backends.rtmidi/WINDOWS_MM", rtmidi.API_WINDOWS_MM),
}


def midi_api(name: str) -> MidiApi:
    """The API for a ``--midi-api`` value.

    Raises:
        MidiPortError: an unknown name, or an API this rtmidi build lacks (the message lists those it has).
    """
    api = MIDI_APIS.get(name)
    if api is None:
        raise MidiPortError(f"--midi-api {name!r} unknown: choose from {', '.join(MIDI_APIS)}")
    compiled = rtmidi.get_compiled_api()
    if api.rtmidi_api != rtmidi.API_UNSPECIFIED and api.rtmidi_api not in compiled:
        have = ", ".join(rtmidi.get_api_name(a) for a in compiled)
        raise MidiPortError(f"--midi-api {name}: this python-rtmidi has no {name} support (it has: {have})")
    return api


JACK_HINT = ("start a JACK server (jackd --no-realtime -d dummy -r 48000 -p 256 & without a sound card, -d alsa with "
             "one) and pass --midi-api jack")
"""How to get a MIDI system on a Linux machine without an ALSA sequencer (containers, minimal systems)."""
_AUTO_ORDER = ("alsa", "jack", "coremidi", "winmm")  # rtmidi's own order: ALSA before JACK on Linux
_FIXES = {
    "alsa": f"no ALSA sequencer here (/dev/snd/seq; sudo modprobe snd-seq loads it): {JACK_HINT}",
    "jack": "no JACK server runs: start one (jackd --no-realtime -d dummy -r 48000 -p 256 &, or -d alsa with a sound "
            "card) and check it with jack_lsp",
}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: ALSA and JACK print their own failures there."""
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no descriptor 2 to silence
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _opens(name: str) -> str | None:
    """Why the MIDI system ``name`` cannot open a client here, or None when it can."""
    try:
        with _quiet_stderr():
            rtmidi.MidiOut(MIDI_APIS[name].rtmidi_api, name=CLIENT_NAME).delete()
    except (rtmidi.RtMidiError, RuntimeError) as exc:
        return str(exc)
    return None


def resolve_api(name: str) -> str:
    """The MIDI system a ``--midi-api`` value opens here, checked by opening a client: ``name`` itself,
    or for ``auto`` the first of ALSA, JACK, CoreMIDI, WinMM that this rtmidi has and that opens (so a
    Linux machine without an ALSA sequencer but with a JACK server gets JACK).

    Raises:
        MidiPortError: the system cannot open (or, for ``auto``, none can); the message says why and
            which to use instead.
    """
    midi_api(name)  # an unknown name, or one this rtmidi lacks
    compiled = rtmidi.get_compiled_api()
    candidates = [api for api in _AUTO_ORDER if MIDI_APIS[api].rtmidi_api in compiled] if name == "auto" else [name]
    failures = {}
    for candidate in candidates:
        problem = _opens(candidate)
        if problem is None:
            if failures:
                logger.info("midi.api auto -> %s (%s)", candidate, "; ".join(f"{k}: {v}" for k, v in failures.items()))
            return candidate
        failures[candidate] = problem
    if name != "auto":
        others = [api for api in _AUTO_ORDER if api != name and MIDI_APIS[api].rtmidi_api in compiled and _opens(api) is None]
        fix = f"use --midi-api {others[0]}, which opens here" if others else _FIXES.get(name, "check the MIDI system")
        raise MidiPortError(f"--midi-api {name} cannot open a MIDI client ({failures[name]}): {fix}")
    tried = "; ".join(f"{api}: {problem}" for api, problem in failures.items()) or "this python-rtmidi has none"
    fix = _FIXES["alsa"] if "alsa" in failures else "check the MIDI system"
    raise MidiPortError(f"no MIDI system opens here ({tried}): {fix}")
