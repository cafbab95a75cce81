"""The shipped checkpoint: present, within the size budget, the lean NumCat++ model, loadable by
default, and it answers a real render with a valid, audible voice."""

from __future__ import annotations

import numpy as np
import torch

from models.checkpoint import DEFAULT_CHECKPOINT, build_model, load_checkpoint
from models.frontend import Frontend
from models.metrics import stft_magnitude
from models.render import Renderer
from models.representations import get_representation
from models.voice import Voice

SERVING_BUDGET_BYTES = 25_000_000


def test_the_shipped_checkpoint_is_the_lean_model_within_budget() -> None:
    assert DEFAULT_CHECKPOINT.is_file(), f"{DEFAULT_CHECKPOINT} is missing: export it (docs/model.md)"
    assert DEFAULT_CHECKPOINT.stat().st_size <= SERVING_BUDGET_BYTES
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT)
    assert checkpoint.config.model.encoder_head == "lean"
    assert checkpoint.representation == "numcat++"
    assert checkpoint.decoder_state is None and checkpoint.training is None, "a serving export, not a training file"
    assert checkpoint.latent_axes is not None and checkpoint.latent_axes.count >= 4, "macro controls need latent axes"
    assert not any(name.startswith("macro ") for name in checkpoint.latent_axes.names), "named by 'dexbridge macros --write'"


def test_the_shipped_checkpoint_answers_a_render_with_an_audible_voice() -> None:
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT)
    model = build_model(checkpoint)
    frontend = Frontend(checkpoint.config.frontend, checkpoint.frontend_stats)
    renderer = Renderer()
    audio = renderer.render_notes(Voice.init(), checkpoint.notes)
    with torch.inference_mode():
        params = model.infer(frontend(torch.from_numpy(audio)[None])).numpy()
    assert np.isfinite(params).all()
    voice = get_representation(checkpoint.representation).decode(params[0])
    rendered = renderer.render_notes(voice, checkpoint.notes)
    assert stft_magnitude(rendered).max() > 1e-2, "the inferred voice renders silence"
