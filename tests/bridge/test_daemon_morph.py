"""``/dexbridge/morph`` and ``/dexbridge/macro`` through real UDP: the planned line and pad (planned off the loop
when the slots are filled; the morph holds until then), the latent and naive methods, and macros that keep
the voice's structure (:mod:`engine.macro_table`)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient

from bridge.daemon.lifecycle import Daemon
from engine.latent import interpolate
from engine.macro_table import HELD, MacroTable
from engine.morph_path import MorphPlan, blend, nearest_end, with_template
from engine.morph_plan import plan_morph, plan_pad
from engine.runtime import Engine
from models.params import BY_INDEX, to_host_value
from models.voice import Voice

SLOTS = (0, 6, 9, 12)  # bank indices of slots A B C D: BRASS 1, PERCBRASS, ...


@asynccontextmanager
async def morphing(engine: Engine, brass_path: Path, slots: int, **changes: Any) -> AsyncIterator[tuple[Daemon, OscClient]]:
    """A daemon (no slew: each message's voice exactly) with the brass bank loaded and ``slots`` slots filled."""
    settings = daemon_settings(**{"mode": ("osc",), "slew_ms": 0.0, "files_dir": (brass_path.parent,), **changes})
    async with run_daemon(settings, engine) as daemon:
        client = await OscClient().open("127.0.0.1", daemon.osc_port)
        try:
            client.send("/dexbridge/bank/load", str(brass_path))
            await client.until("/dexbridge/done")
            for slot in range(slots):
                client.send("/dexbridge/morph/slot", slot, SLOTS[slot])
                await client.until("/dexbridge/done")
            yield daemon, client
        finally:
            client.close()


async def status(client: OscClient) -> dict[str, Any]:
    client.send("/dexbridge/status")
    (text,) = await client.until("/dexbridge/status")
    return json.loads(text)["morph"]


async def planned(client: OscClient, what: str) -> dict[str, Any]:
    for _ in range(500):
        if (found := await status(client))[f"{what}_planned"]:
            return found
        await asyncio.sleep(0.02)
    pytest.fail(f"the {what} was never planned")


async def morph(client: OscClient, *position: float) -> Voice:
    return (await morph_replies(client, *position))[0]


async def morph_replies(client: OscClient, *position: float) -> tuple[Voice, list[tuple[str, list[Any]]]]:
    """The voice a morph message brought and the replies that followed it (parameters, host parameters)."""
    client.send("/dexbridge/morph", *position)
    (vced,) = await client.until("/dexbridge/voice")
    return Voice.from_values(vced), await client.settle()


async def test_the_planned_line_plays_the_plan_and_ends_on_the_slots(tiny_engine: Engine, brass_path: Path,
                                                                     brass_voices: list[Voice]) -> None:
    a, b = brass_voices[SLOTS[0]], brass_voices[SLOTS[1]]
    async with morphing(tiny_engine, brass_path, 2) as (daemon, client):
        report = await planned(client, "line")
        assert report["method"] == "planned" and report["plan_ms"]["line"] > 0
        expected = plan_morph(a, b)  # the planner is deterministic: the daemon's plan is this one
        for x in (0.375, 0.5, 0.625, 1.0, 0.0):  # OSC floats are float32: binary fractions compare exactly
            assert await morph(client, x) == expected.voice_at(x)
        assert daemon.session is not None and daemon.session.state.voice == a  # A itself, its name included
        assert daemon.session.state.latent is None  # looked up on the loop, no decode


async def test_in_osc_mode_each_step_streams_its_changes_as_host_parameters(tiny_engine: Engine, brass_path: Path) -> None:
    """osc mode (Max vst~ hosting Dexed: host parameters update held notes): each planned step's changes."""
    async with morphing(tiny_engine, brass_path, 2) as (_, client):
        await planned(client, "line")
        previous = await morph(client, 0.5)
        voice, replies = await morph_replies(client, 0.625)
        changes = previous.diff(voice)
        host = {args[0]: args[1] for address, args in replies if address == "/dexbridge/host_param"}
        named = {BY_INDEX[i].dexed_name: to_host_value(BY_INDEX[i], v) for i, v in changes.items() if BY_INDEX[i].dexed_name}
        assert changes and host == pytest.approx(named)


async def test_the_planned_pad_plays_its_edges_and_corners(tiny_engine: Engine, brass_path: Path,
                                                            brass_voices: list[Voice]) -> None:
    corners = [brass_voices[i] for i in SLOTS]
    async with morphing(tiny_engine, brass_path, 3) as (daemon, client):
        assert daemon.session is not None
        plans = daemon.session.controls.plans
        for _ in range(500):  # with three slots the line and the left edge A -> C are planned ahead
            if not plans.busy:
                break
            await asyncio.sleep(0.02)
        assert plans.line_for(corners[0], corners[1]) is not None and plans.line_for(corners[0], corners[2]) is not None
        assert not (await status(client))["pad_planned"]
        client.send("/dexbridge/morph/slot", 3, SLOTS[3])
        await client.until("/dexbridge/done")
        report = await planned(client, "pad")
        assert report["line_planned"] and report["plan_ms"]["pad"] > 0
        pad = plan_pad(corners)
        for x, y in ((0.25, 0.0), (0.5, 0.5), (0.8125, 0.3125), (1.0, 1.0)):
            assert await morph(client, x, y) == pad.voice_at(x, y)
        assert await morph(client, 0.0, 1.0) == corners[2]


def slowed(release: threading.Event) -> Callable[[Voice, Voice], MorphPlan]:
    """The real planner, held until ``release`` is set."""

    def planner(start: Voice, end: Voice) -> MorphPlan:
        release.wait(10)
        return plan_morph(start, end)

    return planner


async def test_until_the_line_is_planned_the_morph_holds_then_plays_the_plan_to_the_latest_position(
        tiny_engine: Engine, brass_path: Path, brass_voices: list[Voice]) -> None:
    a, b = brass_voices[SLOTS[0]], brass_voices[SLOTS[1]]
    release = threading.Event()
    async with morphing(tiny_engine, brass_path, 0, slew_ms=20.0) as (daemon, client):
        assert daemon.session is not None
        daemon.session.controls.plans.planner = slowed(release)
        for slot in (0, 1):
            client.send("/dexbridge/morph/slot", slot, SLOTS[slot])
            await client.until("/dexbridge/done")
        await client.settle()
        for x in (0.25, 1.0):  # sent at once, before the plan: nothing plays, the sender hears once why
            client.send("/dexbridge/morph", x)
        held = await client.settle()
        assert [address for address, _ in held] == ["/dexbridge/notice"], held
        assert "planning the line A -> B" in held[0][1][0]
        report = await status(client)
        assert report["planning"] and report["held"] == [1.0] and not report["line_planned"]
        release.set()
        first = Voice.from_values((await client.until("/dexbridge/voice", timeout=30))[0])
        voices = [first, *(Voice.from_values(args[0]) for address, args in await client.settle()
                           if address == "/dexbridge/voice")]
        plan = plan_morph(a, b)
        assert voices == [plan.voice_at(1.0)] == [b]  # the plan's end, nothing off the path on the way
        assert (await status(client))["held"] is None
        on_path = {plan.voice_at(t) for t in np.linspace(0.0, 1.0, 20_001)}
        client.send("/dexbridge/morph", 0.0)  # slewed back along the plan: every step a voice of the plan
        steps = [Voice.from_values(args[0]) for address, args in await client.settle() if address == "/dexbridge/voice"]
        assert len(steps) > 2 and steps[-1] == a and set(steps) <= on_path


async def test_until_the_pad_is_planned_the_pad_holds_then_plays_the_plan(tiny_engine: Engine, brass_path: Path,
                                                                          brass_voices: list[Voice]) -> None:
    corners = [brass_voices[i] for i in SLOTS]
    release = threading.Event()
    async with morphing(tiny_engine, brass_path, 0) as (daemon, client):
        assert daemon.session is not None
        daemon.session.controls.plans.planner = slowed(release)
        for slot in range(4):
            client.send("/dexbridge/morph/slot", slot, SLOTS[slot])
            await client.until("/dexbridge/done")
        await client.settle()
        client.send("/dexbridge/morph", 0.8125, 0.3125)
        held = await client.settle()
        assert [address for address, _ in held] == ["/dexbridge/notice"] and "pad A B C D" in held[0][1][0]
        release.set()
        (vced,) = await client.until("/dexbridge/voice", timeout=30)
        assert Voice.from_values(vced) == plan_pad(corners).voice_at(0.8125, 0.3125)
        assert (await status(client))["pad_planned"]


@pytest.mark.parametrize("method", ["latent", "naive"])
async def test_the_other_methods_stay_selectable_and_end_on_the_slots(tiny_engine: Engine, brass_path: Path,
                                                                      brass_voices: list[Voice], method: str) -> None:
    a, b = brass_voices[SLOTS[0]], brass_voices[SLOTS[1]]
    async with morphing(tiny_engine, brass_path, 2, morph_method=method) as (daemon, client):
        assert await status(client) == {"method": method, "line_planned": False, "pad_planned": False,
                                         "planning": False, "held": None, "plan_ms": {}}
        middle = await morph(client, 0.75)
        if method == "naive":
            assert middle == blend(a, b, 0.75)
        else:
            latent = interpolate(tiny_engine.encode(a), tiny_engine.encode(b), 0.75)
            assert middle == with_template(tiny_engine.decode(latent), nearest_end((a, b), 0.75))
        assert await morph(client, 1.0) == b and await morph(client, 0.0) == a  # the model round-trips a voice exactly


async def macro(client: OscClient, index: int, value: float) -> tuple[Voice, list[Any]]:
    """The voice a macro message brought, and the ``/dexbridge/macro`` answer (index, value, name)."""
    client.send("/dexbridge/macro", index, value, types="if")
    answer = await client.until("/dexbridge/macro")
    (vced,) = await client.until("/dexbridge/voice")
    await client.settle()
    return Voice.from_values(vced), answer


async def test_macros_move_by_the_voices_table_keep_its_structure_and_restart_from_a_new_voice(
        tiny_engine: Engine, brass_path: Path, brass_voices: list[Voice]) -> None:
    origin = brass_voices[3]
    table = tiny_engine.macro_table(origin)
    async with morphing(tiny_engine, brass_path, 2) as (daemon, client):
        await planned(client, "line")
        client.send("/dexbridge/macros")
        assert await client.until("/dexbridge/macros") == ["macro 1", "macro 2", "macro 3", "macro 4"]
        client.send("/dexbridge/status")
        assert json.loads((await client.until("/dexbridge/status"))[0])["macro_names"] == ["macro 1", "macro 2",
                                                                                         "macro 3", "macro 4"]
        client.send("/dexbridge/voice/load", str(brass_path), 3)
        assert Voice.from_values((await client.until("/dexbridge/voice"))[0]) == origin
        await client.settle()
        moved, answer = await macro(client, 0, 1.0)
        assert answer == [0, 1.0, "macro 1"] and moved == table.voice_at([1.0]) != origin
        both, _ = await macro(client, 1, -0.5)
        assert both == table.voice_at([1.0, -0.5])
        assert all(both[i] == origin[i] for i in HELD)
        assert (await macro(client, 0, 0.0))[0] == table.voice_at([0.0, -0.5])
        assert (await macro(client, 1, 0.0))[0] == origin  # every macro at 0: the voice itself
        b = await morph(client, 1.0)  # a voice the macros did not make: they restart from it
        assert b == brass_voices[SLOTS[1]]
        assert (await macro(client, 2, 0.5))[0] == tiny_engine.macro_table(b).voice_at([0.0, 0.0, 0.5])
        assert daemon.session is not None and daemon.session.state.macro_values is not None
        assert daemon.session.state.macro_values.tolist() == [0.0, 0.0, 0.5, 0.0]


async def test_until_the_table_is_decoded_the_voice_holds_then_plays_the_latest_macros(
        tiny_engine: Engine, brass_path: Path, brass_voices: list[Voice], monkeypatch: pytest.MonkeyPatch) -> None:
    origin = brass_voices[3]
    release = threading.Event()
    decode_table = tiny_engine.macro_table

    def slow_table(voice: Voice, latent: np.ndarray | None = None) -> MacroTable:
        release.wait(10)
        return decode_table(voice, latent)

    monkeypatch.setattr(tiny_engine, "macro_table", slow_table)  # the real table, late
    async with morphing(tiny_engine, brass_path, 0) as (_, client):
        client.send("/dexbridge/voice/load", str(brass_path), 3)
        await client.until("/dexbridge/voice")
        await client.settle()
        client.send("/dexbridge/macro", 0, -1.0, types="if")
        client.send("/dexbridge/macro", 1, 0.25, types="if")
        assert [address for address, _ in await client.settle()] == ["/dexbridge/macro"] * 2  # no voice yet
        release.set()
        (vced,) = await client.until("/dexbridge/voice")
        assert Voice.from_values(vced) == decode_table(origin).voice_at([-1.0, 0.25])
