"""Checkpoints: weights_only-safe contents, atomic writes, round trips, the slim export and the
messages for files that are not (or no longer) what they claim."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    TrainingSnapshot,
    build_model,
    capture_rng,
    export_serving,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from models.config import RunConfig, hash_config_dict, load_config
from models.errors import CheckpointError
from models.frontend import FrontendStats
from models.networks import SoundToVoice

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = load_config(CONFIGS / "tiny.toml")
STATS = FrontendStats(min_db=-120.0, max_db=23.5)
SERVING_BUDGET_BYTES = 25_000_000


def _model(config: RunConfig = TINY, seed: int = 0) -> SoundToVoice:
    """A model whose weights are all off their initial values (fresh couplings are the identity)."""
    torch.manual_seed(seed)
    model = SoundToVoice(config.model, config.frontend)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0.0, 0.1)
    return model.eval()


def _training_checkpoint(model: SoundToVoice, config: RunConfig = TINY) -> Checkpoint:
    assert model.decoder is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr)
    model.train()
    model(torch.rand(2, *model.spectrogram_shape)).params.sum().backward()
    optimizer.step()
    model.eval()
    snapshot = TrainingSnapshot(
        optimizer_state=optimizer.state_dict(), epoch=3, epoch_step=1, step=7, best_val=0.25, seconds=12.5,
        rng=capture_rng(), epoch_sums={"loss/total": 1.5, "steps": 1.0},
        metrics=[{"epoch": 1.0, "step": 2, "train/loss/total": 2.0}, {"epoch": 2.0, "step": 4, "train/loss/total": 1.0}],
    )
    return Checkpoint(config, STATS, model.serving.state_dict(), model.decoder.state_dict(), snapshot)


def _spectrograms(model: SoundToVoice, batch: int = 3) -> torch.Tensor:
    torch.manual_seed(5)
    return torch.rand(batch, *model.spectrogram_shape) * 2 - 1


def _plain_leaves(value: object) -> set[type]:
    """The types of every leaf of a nested container."""
    if isinstance(value, dict):
        return {type(k) for k in value} | {t for v in value.values() for t in _plain_leaves(v)}
    if isinstance(value, list | tuple):
        return {t for v in value for t in _plain_leaves(v)}
    return {type(value)}


def test_round_trip_restores_outputs_contract_and_training_state(tmp_path: Path) -> None:
    model = _model()
    original = _training_checkpoint(model)
    path = save_checkpoint(tmp_path / "run" / "latest.pt", original)
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest.pt"]  # no temporary file left

    loaded = load_checkpoint(path)
    assert loaded.config == TINY and loaded.config_hash == TINY.config_hash()
    assert loaded.frontend_stats == STATS and loaded.representation == "numcat++"
    assert loaded.notes == ((60, 85),) and loaded.spectrogram_shape == (1, 257, 345) and loaded.latent_dim == 610
    assert loaded.training is not None and original.training is not None
    assert (loaded.training.epoch, loaded.training.epoch_step, loaded.training.step) == (3, 1, 7)
    assert loaded.training.metrics == original.training.metrics
    assert loaded.training.epoch_sums == original.training.epoch_sums

    rebuilt = build_model(loaded, with_decoder=True)
    assert not rebuilt.training and rebuilt.decoder is not None
    spectrogram = _spectrograms(model)
    assert torch.equal(rebuilt.infer(spectrogram), model.infer(spectrogram))
    assert torch.equal(rebuilt(spectrogram).spectrogram, model(spectrogram).spectrogram)
    assert build_model(loaded).decoder is None  # the decoder is built only on request

    optimizer = torch.optim.Adam(rebuilt.parameters(), lr=TINY.train.lr)
    optimizer.load_state_dict(loaded.training.optimizer_state)
    assert torch.equal(optimizer.state_dict()["state"][0]["exp_avg"], original.training.optimizer_state["state"][0]["exp_avg"])


def test_file_holds_only_plain_values_and_tensors(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _training_checkpoint(_model()))
    payload = torch.load(path, weights_only=True)
    assert _plain_leaves(payload) <= {dict, list, tuple, str, int, float, bool, type(None), torch.Tensor}
    assert payload["format"] == "dexbridge-checkpoint" and payload["format_version"] == FORMAT_VERSION
    assert payload["config"] == TINY.to_dict() and payload["config_hash"] == TINY.config_hash()
    assert payload["frontend_stats"] == {"min_db": -120.0, "max_db": 23.5}
    assert (payload["representation"], payload["notes"]) == ("numcat++", [[60, 85]])
    assert (payload["spectrogram_shape"], payload["latent_dim"]) == ([1, 257, 345], 610)


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _training_checkpoint(_model()))
    before = path.read_bytes()
    broken = _training_checkpoint(_model())
    assert broken.training is not None
    broken.training.metrics.append({"not a number": lambda: None})  # type: ignore[dict-item]
    with pytest.raises(Exception, match="pickle|lambda"):
        save_checkpoint(path, broken)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]


def test_rng_states_round_trip() -> None:
    state = capture_rng()
    first = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    restore_rng(state)
    again = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2:] == again[2:]
    assert _plain_leaves(state) <= {str, int, float, torch.Tensor}


@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16"])
def test_serving_export_is_slim_and_agrees(tmp_path: Path, half: bool) -> None:
    model = _model()
    training = save_checkpoint(tmp_path / "best.pt", _training_checkpoint(model))
    exported = export_serving(training, tmp_path / "checkpoints" / "default.pt", half=half)
    payload = torch.load(exported, weights_only=True)
    assert "decoder_state" not in payload and "training" not in payload
    assert payload["weights_dtype"] == ("float16" if half else "float32")
    assert {t.dtype for t in payload["serving_state"].values() if t.is_floating_point()} == {
        torch.float16 if half else torch.float32
    }
    assert exported.stat().st_size < training.stat().st_size / (2.5 if half else 1.5)

    loaded = load_checkpoint(exported)
    assert loaded.training is None and loaded.decoder_state is None
    assert loaded.config_hash == TINY.config_hash() and loaded.frontend_stats == STATS
    assert all(t.dtype == torch.float32 for t in loaded.serving_state.values() if t.is_floating_point())
    served = build_model(loaded)
    spectrogram = _spectrograms(model)
    if half:
        torch.testing.assert_close(served.infer(spectrogram), model.infer(spectrogram), atol=2e-2, rtol=1e-2)
    else:
        assert torch.equal(served.infer(spectrogram), model.infer(spectrogram))
    with pytest.raises(CheckpointError, match="has no decoder weights .a serving export.: use the training checkpoint"):
        build_model(loaded, with_decoder=True)


def test_default_lean_export_fits_the_shipping_budget(tmp_path: Path) -> None:
    default = load_config(CONFIGS / "default.toml")
    model = SoundToVoice(default.model, default.frontend)
    path = save_checkpoint(tmp_path / "default.pt", Checkpoint(default, STATS, model.serving.state_dict()), half=True)
    assert path.stat().st_size < SERVING_BUDGET_BYTES
    assert load_checkpoint(path).latent_dim == 610


def _rewrite(path: Path, **changes: object) -> Path:
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)
    return path


def _truncated_checkpoint(path: Path) -> bytes:
    """The first half of a real checkpoint, as a cut copy leaves it."""
    whole = save_checkpoint(path, Checkpoint(TINY, STATS, _model().serving.state_dict())).read_bytes()
    return whole[: len(whole) // 2]


class _NotPlain:
    """A class torch.load(weights_only=True) must refuse to rebuild."""


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: None, r"checkpoint .*missing.pt not found: train one with 'dexbridge train'"),
        (lambda p: p.write_text("hello"), r"is not a dexbridge checkpoint \(torch.load cannot read it: "),
        (lambda p: p.write_bytes(_truncated_checkpoint(p)), r"is not a dexbridge checkpoint \(torch.load cannot read it: "),
        (lambda p: torch.save({"state_dict": {}}, p), r"is not a dexbridge checkpoint: it has no 'format'"),
        (lambda p: torch.save({"x": _NotPlain()}, p), r"not a dexbridge checkpoint: it holds Python objects that a weights-only"),
    ],
    ids=["missing", "text", "truncated", "other-torch-file", "pickled-class"],
)
def test_foreign_files_are_refused(tmp_path: Path, write: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "missing.pt"
    write(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_damaged_or_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "good.pt", Checkpoint(TINY, STATS, _model().serving.state_dict()))

    def refused(name: str, message: str, **changes: object) -> None:
        path = tmp_path / name
        path.write_bytes(good.read_bytes())
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(_rewrite(path, **changes))

    refused("v99.pt", r"format_version 99; this dexbridge reads version 1", format_version=99)
    refused("hash.pt", r"config_hash 000000000000 does not match its stored config", config_hash="000000000000")
    refused("notes.pt", r"stored notes \[\(40, 85\)\] disagrees with its config", notes=[[40, 85]])
    refused("config.pt", r"invalid config .*unknown key 'model.widths'", config={"model": {"widths": 3}})
    payload = torch.load(good, weights_only=True)
    del payload["serving_state"]
    torch.save(payload, tmp_path / "no-weights.pt")
    with pytest.raises(CheckpointError, match=r"damaged dexbridge checkpoint: entry 'serving_state' is missing"):
        load_checkpoint(tmp_path / "no-weights.pt")


def test_config_and_weights_of_different_runs_are_refused(tmp_path: Path) -> None:
    numcat = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, representation="numcat"))
    path = save_checkpoint(tmp_path / "mixed.pt", Checkpoint(TINY, STATS, _model(numcat).serving.state_dict()))
    with pytest.raises(CheckpointError, match=r"config expects 610 outputs \(numcat\+\+\), weights give 224"):
        load_checkpoint(path)

    wider = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, flow_hidden=32))
    path = save_checkpoint(tmp_path / "wider.pt", Checkpoint(TINY, STATS, _model(wider).serving.state_dict()))
    with pytest.raises(CheckpointError, match=r"serving weights do not fit the model its config describes: "
                       r"latent_flow.couplings.0.net.0.weight \(32, 305\) \(model \(16, 305\)\)"):
        build_model(load_checkpoint(path))


def test_a_checkpoint_older_than_a_config_key_loads_with_the_value_its_run_used(tmp_path: Path) -> None:
    trained_at = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, head_lr_scale=1.0))
    path = save_checkpoint(tmp_path / "old.pt", Checkpoint(trained_at, STATS, _model().serving.state_dict()))
    stored = torch.load(path, weights_only=True)["config"]
    del stored["train"]["head_lr_scale"]  # as written before the key existed
    _rewrite(path, config=stored, config_hash=hash_config_dict(stored))
    assert load_checkpoint(path).config == trained_at
    assert RunConfig().train.head_lr_scale != 1.0, "the default moved on; the old run keeps its own value"
