"""``/dexbridge/morph`` through real UDP, by ``--morph-method``: the planned line and pad (planned off the
loop when the slots are filled; the latent line until then), and the latent and naive methods."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import daemon_settings, run_daemon
from osc_client import OscClient

from bridge.daemon.lifecycle import Daemon
from engine.latent import interpolate
from engine.morph_path import MorphPlan, blend, compose_moves, nearest_end, with_template
from engine.morph_plan import plan_morph, plan_pad
from engine.runtime import Engine
from models.params import BY_INDEX, to_host_value
from models.voice import Voice

SLOTS = (0, 6, 9, 12)  # bank indices of slots A B C D: BRASS 1, PERCBRASS, ...


@asynccontextmanager
async def morphing(engine: Engine, brass_path: Path, slots: int, **changes: Any) -> AsyncIterator[tuple[Daemon, OscClient]]:
    """A daemon (no slew: each message's voice exactly) with the brass bank loaded and ``slots`` slots filled."""
    settings = daemon_settings(mode=("osc",), slew_ms=0.0, files_dir=(brass_path.parent,), **changes)
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


async def test_until_the_plan_is_ready_the_latent_line_serves(tiny_engine: Engine, brass_path: Path,
                                                              brass_voices: list[Voice]) -> None:
    a, b = brass_voices[SLOTS[0]], brass_voices[SLOTS[1]]
    release = threading.Event()

    def slow_planner(start: Voice, end: Voice) -> MorphPlan:
        release.wait(10)
        return plan_morph(start, end)

    async with morphing(tiny_engine, brass_path, 0) as (daemon, client):
        assert daemon.session is not None
        daemon.session.controls.plans.planner = slow_planner
        for slot in (0, 1):
            client.send("/dexbridge/morph/slot", slot, SLOTS[slot])
            await client.until("/dexbridge/done")
        assert (await status(client))["planning"]
        latent = interpolate(tiny_engine.encode(a), tiny_engine.encode(b), 0.375)
        assert await morph(client, 0.375) == with_template(tiny_engine.decode(latent), a)
        release.set()
        await planned(client, "line")
        assert await morph(client, 0.375) == plan_morph(a, b).voice_at(0.375)


@pytest.mark.parametrize("method", ["latent", "naive"])
async def test_the_other_methods_stay_selectable_and_end_on_the_slots(tiny_engine: Engine, brass_path: Path,
                                                                      brass_voices: list[Voice], method: str) -> None:
    a, b = brass_voices[SLOTS[0]], brass_voices[SLOTS[1]]
    async with morphing(tiny_engine, brass_path, 2, morph_method=method) as (daemon, client):
        assert await status(client) == {"method": method, "line_planned": False, "pad_planned": False,
                                         "planning": False, "plan_ms": {}}
        middle = await morph(client, 0.75)
        if method == "naive":
            assert middle == blend(a, b, 0.75)
        else:
            latent = interpolate(tiny_engine.encode(a), tiny_engine.encode(b), 0.75)
            assert middle == with_template(tiny_engine.decode(latent), nearest_end((a, b), 0.75))
        assert await morph(client, 1.0) == b and await morph(client, 0.0) == a  # the model round-trips a voice exactly


async def test_macros_follow_planned_paths_once_planned(tiny_engine: Engine, brass_path: Path,
                                                        brass_voices: list[Voice]) -> None:
    origin = brass_voices[3]
    latent = tiny_engine.encode(origin)

    def far(axis: int, sign: int) -> Voice:
        values = [0.0] * axis + [float(sign)]
        return with_template(tiny_engine.decode(tiny_engine.macros_to_latent(values, latent)), origin)

    async with morphing(tiny_engine, brass_path, 0) as (daemon, client):
        assert daemon.session is not None
        macro_plans = daemon.session.controls.macro_plans
        client.send("/dexbridge/voice/load", str(brass_path), 3)
        assert Voice.from_values((await client.until("/dexbridge/voice"))[0]) == origin
        await client.settle()

        async def macro(index: int, value: float) -> Voice:
            client.send("/dexbridge/macro", index, value, types="if")
            (vced,) = await client.until("/dexbridge/voice")
            await client.settle()
            return Voice.from_values(vced)

        assert await macro(0, 1.0) == far(0, 1)  # the latent move (its far end) while the path is planned
        for _ in range(500):
            if (0, 1) in macro_plans.paths:
                break
            await asyncio.sleep(0.02)
        path = plan_morph(origin, far(0, 1))
        assert macro_plans.paths[(0, 1)] == path
        assert await macro(0, 0.5) == path.voice_at(0.5)
        await macro(1, -0.25)  # a second axis: planned next
        for _ in range(500):
            if (1, -1) in macro_plans.paths:
                break
            await asyncio.sleep(0.02)
        both = await macro(1, -0.5)
        assert both == compose_moves(origin, [(path, 0.5), (plan_morph(origin, far(1, -1)), 0.5)])
        assert await macro(1, 0.0) == path.voice_at(0.5)
