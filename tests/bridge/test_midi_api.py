"""``--midi-api``: ``auto`` takes a MIDI system that opens here (JACK where there is no ALSA sequencer),
and one that cannot open says which to use, before the daemon loads its model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.midi.ports import MidiOutput, MidiPortError
from bridge.midi.systems import resolve_api

NO_ALSA = not Path("/dev/snd/seq").exists()
NO_JACK_SERVER = {**os.environ, "JACK_DEFAULT_SERVER": "dexbridge-no-such-server"}  # as on a machine without one


def _resolved_in(env: dict[str, str], api: str) -> str:
    probe = ("from bridge.midi.systems import resolve_api, MidiPortError\n"
             f"try:\n    print(resolve_api({api!r}))\nexcept MidiPortError as error:\n    print(error)")
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip()


@pytest.mark.jack
def test_auto_takes_a_system_that_opens(jack: str) -> None:
    api = resolve_api("auto")
    assert api == ("jack" if NO_ALSA else "alsa")
    with MidiOutput(f"virtual:dexbridge-auto-{os.getpid()}", "auto") as port:
        assert port.name == f"dexbridge-auto-{os.getpid()}"


@pytest.mark.jack
@pytest.mark.skipif(not NO_ALSA, reason="this machine has an ALSA sequencer")
def test_alsa_without_a_sequencer_names_the_system_to_use(jack: str) -> None:
    with pytest.raises(MidiPortError) as caught:
        resolve_api("alsa")
    assert str(caught.value) == ("--midi-api alsa cannot open a MIDI client (MidiOutAlsa::initialize: error creating ALSA "
                                 "sequencer client object.): use --midi-api jack, which opens here")


def test_without_a_jack_server_it_says_how_to_start_one() -> None:
    assert _resolved_in(NO_JACK_SERVER, "jack") == (
        "--midi-api jack cannot open a MIDI client (MidiOutJack::initialize: JACK server not running?): no JACK server "
        "runs: start one (jackd --no-realtime -d dummy -r 48000 -p 256 &, or -d alsa with a sound card) and check it "
        "with jack_lsp")
    if NO_ALSA:
        assert _resolved_in(NO_JACK_SERVER, "auto").startswith(
            "no MIDI system opens here (alsa: MidiOutAlsa::initialize: error creating ALSA sequencer client object.; "
            "jack: MidiOutJack::initialize: JACK server not running?): no ALSA sequencer here (/dev/snd/seq; sudo "
            "modprobe snd-seq loads it): start a JACK server (jackd --no-realtime -d dummy -r 48000 -p 256 &")


@pytest.mark.jack
@pytest.mark.skipif(not NO_ALSA, reason="this machine has an ALSA sequencer")
def test_serve_refuses_a_midi_system_that_cannot_open_before_the_model_loads(jack: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bridge.commands.cli", "serve", "--midi-api", "alsa", "--midi-out",
                             "virtual:dexbridge", "--osc-port", "0", "--files-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1  # the environment, not the input
    assert result.stderr.endswith("dexbridge serve: --midi-api alsa cannot open a MIDI client (MidiOutAlsa::initialize: "
                                  "error creating ALSA sequencer client object.): use --midi-api jack, which opens here\n")
    assert "daemon.loading" not in result.stderr and "ALSA lib" not in result.stderr  # no model, no library noise
