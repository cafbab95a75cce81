"""``dexbridge cc-learn`` sends every CC of the map, in order, to a real JACK port."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bridge.commands.cli import main
from bridge.midi.cc_map import CcAssignment, CcMap, save_cc_map
from bridge.midi.ports import MidiInput
from models.params import BY_NAME
from models.voice import Voice


async def _received_from_cc_learn(jack: str, extra: list[str]) -> list[bytes]:
    name = f"learn-{os.getpid()}-{len(extra)}"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    with MidiInput(f"virtual:{name}", queue.put_nowait, api="jack"):
        # several JACK cycles (5.3 ms) apart: rtmidi's JACK input may repeat messages that share a cycle
        code = await asyncio.to_thread(main, ["cc-learn", "--midi-out", name, "--midi-api", "jack", "--delay", "0.02",
                                              "--quiet", *extra])
        assert code == 0
        await asyncio.sleep(0.3)
        received = []
        while not queue.empty():
            received.append(queue.get_nowait())
        return received


async def test_default_map_is_sent_cc_by_cc_in_order(jack: str) -> None:
    cc_map = CcMap.default()
    init = Voice.init()
    received = await _received_from_cc_learn(jack, [])
    assert received == [cc_map.encode(item.index, init[item.index]) for item in cc_map]
    assert len(received) == 145


async def test_a_map_file_is_sent_instead(jack: str, tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    save_cc_map(path, CcMap([CcAssignment(BY_NAME["algorithm"].index, 4, 20), CcAssignment(BY_NAME["feedback"].index, 4, 21)]))
    received = await _received_from_cc_learn(jack, ["--map", str(path)])
    assert received == [bytes([0xB4, 20, 0]), bytes([0xB4, 21, 0])]


def test_bad_port_and_delay_are_refused(jack: str, capsys: pytest.CaptureFixture[str]) -> None:
    # a port that is not there is the environment's state, not bad input: exit 1
    assert main(["cc-learn", "--midi-out", "no-such-dexed-port", "--midi-api", "jack"]) == 1
    assert "no MIDI output port matches 'no-such-dexed-port'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cc-learn", "--midi-out", "x", "--delay", "-1"])
    assert "-1.0 s out of range 0..60" in capsys.readouterr().err
