"""Training: one optimisation step, validation, and the resumable (DDP-ready) epoch loop.

The losses are :mod:`models.losses`. :func:`run` resumes exactly: the batches of epoch e are a
permutation seeded by (seed, e), a resumed epoch skips the batches already trained, and the
optimizer and RNG states come back from ``latest.pt``; on CPU with the same thread count, a
cut-and-resumed run ends with the same weights as an uncut one. Under ``torchrun``
(``WORLD_SIZE`` > 1) it trains with DistributedDataParallel (gloo on CPU, nccl on CUDA), each
rank on its share of every epoch; only rank 0 writes files, and its ``train/`` log columns
average its own batches.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from models.checkpoint import (
    Checkpoint,
    TrainingSnapshot,
    build_model,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from models.config import RunConfig, TrainConfig
from models.dataset import SpectrogramDataset
from models.distributed import (
    EpochBatches,
    Placement,
    any_rank,
    make_loader,
    process_group,
    reduce_sums,
)
from models.errors import ConfigError, TrainingError
from models.frontend import FrontendStats
from models.layout import BEST, LATEST, LOG
from models.losses import LOSS_KEYS, beta, compute_losses
from models.networks import SoundToVoice
from models.representations import Representation, get_representation

logger = logging.getLogger(__name__)



@dataclass
class TrainState:
    """A run in progress: model, optimizer, counters and the metrics history.

    Attributes:
        model: the unwrapped model (its weights are what checkpoints store).
        optimizer: Adam over ``model.parameters()``.
        config: the run's configuration.
        stats: front-end stats of the training set (stored in every checkpoint).
        placement: device, rank and world size.
        wrapper: the DistributedDataParallel wrapper under torchrun, else ``None``.
        epoch, epoch_step, step, best_val, seconds: see :class:`TrainingSnapshot`.
        epoch_sums: sums of the per-step losses of the epoch in progress (and ``"steps"``).
        metrics: the logged rows.
    """

    model: SoundToVoice
    optimizer: torch.optim.Optimizer
    config: RunConfig
    stats: FrontendStats
    placement: Placement
    wrapper: nn.Module | None = None
    epoch: int = 0
    epoch_step: int = 0
    step: int = 0
    best_val: float = math.inf
    seconds: float = 0.0
    epoch_sums: dict[str, float] = field(default_factory=dict)
    metrics: list[dict[str, float]] = field(default_factory=list)

    @property
    def representation(self) -> Representation:
        """The layout of the targets."""
        return get_representation(self.config.model.representation)

    def checkpoint(self) -> Checkpoint:
        """Everything to save: weights, config, stats and the resume snapshot."""
        snapshot = TrainingSnapshot(
            optimizer_state=self.optimizer.state_dict(), epoch=self.epoch, epoch_step=self.epoch_step,
            step=self.step, best_val=self.best_val, seconds=self.seconds, rng=capture_rng(),
            epoch_sums=dict(self.epoch_sums), metrics=list(self.metrics),
        )
        decoder = self.model.decoder.state_dict() if self.model.decoder is not None else None
        return Checkpoint(self.config, self.stats, self.model.serving.state_dict(), decoder, snapshot)


def train_step(state: TrainState, spectrogram: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """One Adam step on a batch (train mode; under DDP, gradients are averaged over ranks).

    Returns:
        The batch's losses (:data:`LOSS_KEYS`) and ``grad_norm`` (before the step), as floats.

    Raises:
        TrainingError: a non-finite loss (training diverged).
    """
    network = state.wrapper or state.model
    network.train()
    device = state.placement.device
    spectrogram, target = spectrogram.to(device, non_blocking=True), target.to(device, non_blocking=True)
    state.optimizer.zero_grad(set_to_none=True)
    train = state.config.train
    losses = compute_losses(network(spectrogram), spectrogram, target, state.representation,
                            beta(state.epoch, train), train.cat_temperature)
    total = losses["loss/total"]
    if not torch.isfinite(total):
        raise TrainingError(
            f"loss/total = {total.item()} at step {state.step + 1} (epoch {state.epoch + 1}): training "
            f"diverged; lower train.lr ({train.lr}) or resume from an earlier checkpoint"
        )
    total.backward()
    grad_norm = torch.nn.utils.get_total_norm([p.grad for p in state.model.parameters() if p.grad is not None])
    state.optimizer.step()
    return {**{key: value.item() for key, value in losses.items()}, "grad_norm": grad_norm.item()}


@torch.no_grad()
def evaluate_loss(state: TrainState, loader: torch.utils.data.DataLoader) -> dict[str, float]:
    """Mean losses over a loader in eval mode (z0 = mu), summed over DDP ranks (where
    :class:`DistributedSampler` pads the last examples by repeating a few).

    Returns:
        :data:`LOSS_KEYS` averaged per example, with this epoch's beta.
    """
    state.model.eval()
    sums = dict.fromkeys(LOSS_KEYS, 0.0)
    count = 0
    train = state.config.train
    for spectrogram, target, _ in loader:
        spectrogram, target = spectrogram.to(state.placement.device), target.to(state.placement.device)
        losses = compute_losses(state.model(spectrogram), spectrogram, target, state.representation,
                                beta(state.epoch, train), train.cat_temperature)
        for key in LOSS_KEYS:
            sums[key] += losses[key].item() * len(target)
        count += len(target)
    totals = reduce_sums({**sums, "count": float(count)}, state.placement)
    return {key: totals[key] / max(totals["count"], 1.0) for key in LOSS_KEYS}


def _seed_everything(seed: int) -> None:
    """Seed the torch, numpy and Python RNGs."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def run(
    config: RunConfig,
    *,
    dataset_dir: Path,
    out_dir: Path,
    device: str = "auto",
    resume: bool = False,
    max_steps: int | None = None,
    epochs: int | None = None,
    time_limit_s: float | None = None,
    checkpoint_every: int | None = None,
    loader_workers: int | None = None,
    progress: bool = True,
) -> TrainState:
    """Train (or resume training) on a rendered dataset; checkpoints and the log go to ``out_dir``.

    Writes ``latest.pt`` after every epoch and at every stop, ``best.pt`` whenever the
    validation ``loss/total`` improves, and ``train_log.csv`` (one row per epoch end or cut).

    Args:
        config: the run configuration (stored in every checkpoint).
        dataset_dir: a dataset from :func:`models.dataset.render_dataset` (train and validation
            splits; its train-split stats normalise the input and go into the checkpoints).
        out_dir: the run directory.
        device: "auto", "cpu" or "cuda" (under torchrun, CUDA rank r uses GPU ``LOCAL_RANK``).
        resume: continue the run in ``out_dir/latest.pt`` (same epoch, step, optimizer, RNG);
            ``config`` must be the run's own, ``train.epochs`` aside.
        max_steps: stop (and checkpoint) once the run has made this many optimizer steps in
            all, counting the steps before a resume.
        epochs: overrides ``config.train.epochs`` (e.g. to extend a finished run).
        time_limit_s: stop (and checkpoint) after this many seconds of this call.
        checkpoint_every: also write ``latest.pt`` every this many steps.
        loader_workers: DataLoader processes; ``None``: 0 on CPU, 4 on CUDA.
        progress: tqdm bars on stderr (rank 0 only).

    Returns:
        The final state (every rank returns its own).

    Raises:
        ConfigError: unknown device, or a model without its decoder.
        DatasetError: the dataset is missing or unfinished.
        CheckpointError: ``latest.pt`` cannot be loaded.
        TrainingError: a new run over an existing one, nothing to resume, a config or dataset
            that does not match the run or each other, too few voices for a batch, divergence.
    """
    if epochs is not None:
        config = replace(config, train=replace(config.train, epochs=epochs))
    if not config.model.decoder:
        raise ConfigError("model.decoder = false: training needs the decoder for loss/spec; set decoder = true")
    out_dir = Path(out_dir)
    with process_group(device) as placement:
        train_set = SpectrogramDataset(dataset_dir, "train", config.model.representation)
        validation_set = SpectrogramDataset(dataset_dir, "validation", config.model.representation)
        _check_dataset(config, train_set, validation_set, Path(dataset_dir))
        start = _resume if resume else _start
        state = start(config, out_dir, train_set.stats, placement)
        if placement.distributed:
            device_ids = [placement.device] if placement.device.type == "cuda" else None
            state.wrapper = DistributedDataParallel(state.model, device_ids=device_ids)
        workers = loader_workers if loader_workers is not None else (4 if placement.device.type == "cuda" else 0)
        loop = _EpochLoop(state, out_dir, max_steps, time_limit_s, checkpoint_every, progress)
        loop.train(train_set, validation_set, workers)
        return state


def _check_dataset(config: RunConfig, train_set: SpectrogramDataset, validation_set: SpectrogramDataset,
                   dataset_dir: Path) -> None:
    if len(validation_set) == 0:
        raise TrainingError(f"dataset {dataset_dir} has no validation voice: best.pt is chosen on the validation "
                            "split; build the corpus with a validation fraction > 0")
    if train_set.notes != config.model.notes:
        raise TrainingError(
            f"dataset {dataset_dir} holds notes {list(train_set.notes)} but model.notes is "
            f"{list(config.model.notes)}: render the dataset with the model's notes or change [model] notes"
        )
    expected = (config.model.n_notes, config.frontend.n_mels, config.frontend.num_frames)
    got = tuple(train_set[0][0].shape)
    if got != expected:
        raise TrainingError(
            f"dataset {dataset_dir} spectrograms are {got} (notes, mels, frames), the config's front end "
            f"gives {expected}: render the dataset with the config's [frontend] settings"
        )


def make_optimizer(model: SoundToVoice, train: TrainConfig) -> torch.optim.Adam:
    """Adam at ``train.lr``; the encoder's last linear layer at ``lr * head_lr_scale`` (a lean head's
    small fan-in moves its outputs far slower per step than the paper head's 24 576 inputs). At scale
    1 it is one parameter group, as in runs made before the scale existed."""
    if train.head_lr_scale == 1.0:
        return torch.optim.Adam(model.parameters(), lr=train.lr)
    head = list(model.serving.encoder.to_gaussian.parameters())
    head_ids = {id(p) for p in head}
    rest = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": rest}, {"params": head, "lr": train.lr * train.head_lr_scale}], lr=train.lr)


def _start(config: RunConfig, out_dir: Path, stats: FrontendStats, placement: Placement) -> TrainState:
    if (out_dir / LATEST).exists():
        raise TrainingError(f"{out_dir / LATEST} exists: pass --resume to continue that run, or choose another --out")
    _seed_everything(config.train.seed)
    model = SoundToVoice(config.model, config.frontend).to(placement.device)
    if placement.rank:
        _seed_everything(config.train.seed + placement.rank)  # own noise per rank; DDP syncs the weights
    return TrainState(model, make_optimizer(model, config.train), config, stats, placement)


def _resume(config: RunConfig, out_dir: Path, stats: FrontendStats, placement: Placement) -> TrainState:
    path = out_dir / LATEST
    if not path.exists():
        raise TrainingError(f"nothing to resume: {path} not found; drop --resume to start a new run in {out_dir}")
    checkpoint = load_checkpoint(path, map_location=placement.device)
    snapshot = checkpoint.training
    if snapshot is None:
        raise TrainingError(f"{path} holds no training state (a serving export?): it cannot be resumed")
    stored, given = checkpoint.config.to_dict(), config.to_dict()
    stored["train"]["epochs"] = given["train"]["epochs"]  # extending a run is allowed
    changed = [f"{part}.{key} = {stored[part][key]!r} (now {given[part][key]!r})"
               for part in stored for key in stored[part] if stored[part][key] != given[part][key]]
    if changed:
        raise TrainingError(f"{path} was trained with another config: {'; '.join(changed)}. "
                            "Resume with the run's own config, or start a new run in another --out")
    if checkpoint.frontend_stats != stats:
        raise TrainingError(f"dataset stats {stats} differ from the run's {checkpoint.frontend_stats}: "
                            "resume on the dataset the run started with")
    model = build_model(checkpoint, with_decoder=True)
    optimizer = make_optimizer(model, config.train)
    optimizer.load_state_dict(snapshot.optimizer_state)
    restore_rng(snapshot.rng)
    if placement.rank:
        _seed_everything(config.train.seed + placement.rank + snapshot.step)
    return TrainState(model, optimizer, config, stats, placement, epoch=snapshot.epoch,
                      epoch_step=snapshot.epoch_step, step=snapshot.step, best_val=snapshot.best_val,
                      seconds=snapshot.seconds, epoch_sums=snapshot.epoch_sums, metrics=snapshot.metrics)


class _EpochLoop:
    """The epochs of :func:`run`: steps, limits, validation, checkpoints and the log."""

    def __init__(self, state: TrainState, out_dir: Path, max_steps: int | None, time_limit_s: float | None,
                 checkpoint_every: int | None, progress: bool) -> None:
        self.state, self.out_dir, self.progress = state, out_dir, progress
        self.max_steps, self.time_limit_s, self.checkpoint_every = max_steps, time_limit_s, checkpoint_every
        self.started = time.perf_counter()

    def _steps_done(self) -> bool:
        return self.max_steps is not None and self.state.step >= self.max_steps

    def _limit_reached(self) -> bool:
        """After a step: the step budget is spent, or (on any rank) the time is up."""
        if self._steps_done():
            return True
        if self.time_limit_s is None:
            return False
        return any_rank(time.perf_counter() - self.started >= self.time_limit_s, self.state.placement)

    def train(self, train_set: SpectrogramDataset, validation_set: SpectrogramDataset, workers: int) -> None:
        state, train = self.state, self.state.config.train
        batches = EpochBatches(train_set, train.batch_size, state.placement, shuffle=True, seed=train.seed, drop_last=True)
        per_epoch = batches.batches_per_epoch()
        if per_epoch == 0:
            raise TrainingError(
                f"{len(train_set)} training voices over {state.placement.world_size} process(es) fill no "
                f"batch of train.batch_size = {train.batch_size}: lower batch_size or use more voices"
            )
        validation = EpochBatches(validation_set, train.batch_size, state.placement, shuffle=False,
                                  seed=train.seed, drop_last=False)
        train_loader = make_loader(train_set, batches, state.placement, workers, train.seed)
        validation_loader = make_loader(validation_set, validation, state.placement, workers, train.seed)
        while state.epoch < train.epochs and not self._steps_done():
            batches.set_epoch(state.epoch, skip=state.epoch_step)
            bar = tqdm(train_loader, total=per_epoch, initial=state.epoch_step, unit="batch", leave=False,
                       desc=f"epoch {state.epoch + 1}/{train.epochs}", disable=not self.progress or state.placement.rank > 0)
            stopped = False
            tick = time.perf_counter()
            for spectrogram, target, _ in bar:
                losses = train_step(state, spectrogram, target)
                state.step, state.epoch_step = state.step + 1, state.epoch_step + 1
                for key, value in {**losses, "steps": 1.0}.items():
                    state.epoch_sums[key] = state.epoch_sums.get(key, 0.0) + value
                now = time.perf_counter()
                state.seconds, tick = state.seconds + now - tick, now
                bar.set_postfix(loss=f"{losses['loss/total']:.4f}", refresh=False)
                stopped = self._limit_reached()
                if stopped:
                    break
                if self.checkpoint_every and state.step % self.checkpoint_every == 0:
                    self._save(LATEST)
                    tick = time.perf_counter()
            if state.epoch_step == per_epoch:
                self._finish_epoch(validation_loader, per_epoch)
            else:
                self._record(per_epoch, None)
                self._save(LATEST)
            if stopped:
                return

    def _finish_epoch(self, validation_loader: torch.utils.data.DataLoader, per_epoch: int) -> None:
        state = self.state
        validation = evaluate_loss(state, validation_loader)
        self._record(per_epoch, validation)
        state.epoch, state.epoch_step, state.epoch_sums = state.epoch + 1, 0, {}
        if validation["loss/total"] < state.best_val:
            state.best_val = validation["loss/total"]
            self._save(BEST)
        self._save(LATEST)
        if state.placement.rank == 0:
            logger.info("epoch %d/%d, step %d: train loss %.4f, validation loss %.4f (best %.4f), %.0f s",
                        state.epoch, state.config.train.epochs, state.step, state.metrics[-1]["train/loss/total"],
                        validation["loss/total"], state.best_val, state.seconds)

    def _record(self, per_epoch: int, validation: dict[str, float] | None) -> None:
        """Append a log row: the epoch's mean step losses so far and, at an epoch end, validation."""
        state = self.state
        sums = state.epoch_sums
        row: dict[str, float] = {
            "epoch": state.epoch + state.epoch_step / per_epoch, "step": state.step,
            "beta": beta(state.epoch, state.config.train), "lr": state.optimizer.param_groups[0]["lr"],
            "seconds": round(state.seconds, 3),
        }
        row |= {f"train/{key}": sums[key] / sums["steps"] for key in (*LOSS_KEYS, "grad_norm") if key in sums}
        row |= {f"val/{key}": value for key, value in (validation or {}).items()}
        state.metrics.append(row)

    def _save(self, name: str) -> None:
        if self.state.placement.rank == 0:
            save_checkpoint(self.out_dir / name, self.state.checkpoint())
            _write_log(self.out_dir / LOG, self.state.metrics)


def _write_log(path: Path, rows: list[dict[str, float]]) -> None:
    """Write the metrics rows as CSV (atomically): epoch, step, beta, lr, seconds, train/..., val/..."""
    columns = ["epoch", "step", "beta", "lr", "seconds", *(f"train/{k}" for k in (*LOSS_KEYS, "grad_norm")),
               *(f"val/{k}" for k in LOSS_KEYS)]
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)
