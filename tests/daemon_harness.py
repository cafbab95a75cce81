"""``async with run_daemon(settings) as daemon``: a real daemon on a free UDP port, stopped on exit."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bridge.daemon.lifecycle import Daemon, SinkFactory
from bridge.daemon.settings import Settings
from models.checkpoint import load_checkpoint, save_checkpoint
from models.latent_axes import encode_voices, fit_latent_axes, regression_flow
from models.voice import Voice

STARTUP_TIMEOUT_S = 60.0


def daemon_settings(**changes: Any) -> Settings:
    """Settings for a test daemon: loopback, any free port, no outputs unless given."""
    return dataclasses.replace(Settings(osc_host="127.0.0.1", osc_port=0, sink=()), **changes)


def checkpoint_with_axes(source: Path, voices: list[Voice], out: Path, count: int = 4) -> Path:
    """A copy of a checkpoint with latent axes fitted on ``voices`` (macro controls)."""
    checkpoint = load_checkpoint(source)
    flow = regression_flow(checkpoint.config.model, checkpoint.serving_state)
    axes = fit_latent_axes(encode_voices(flow, checkpoint.representation, voices), count)
    return save_checkpoint(out, dataclasses.replace(checkpoint, latent_axes=axes))


@asynccontextmanager
async def run_daemon(settings: Settings, engine: Any, open_sinks: SinkFactory | None = None) -> AsyncIterator[Daemon]:
    """Start a daemon (its ``serve()`` task), wait until it is ready, stop it gracefully on exit.

    Raises:
        whatever startup raised, if the daemon did not come up.
    """
    daemon = Daemon(settings, engine=engine, **({"open_sinks": open_sinks} if open_sinks else {}))
    async with daemon.running(STARTUP_TIMEOUT_S):
        yield daemon
