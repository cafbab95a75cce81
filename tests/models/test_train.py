"""Training at toy size on a real rendered dataset: losses, the beta schedule, a run that learns,
exact resume after a cut, refusals, the CLI handlers and a two-process DDP run (gloo)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bridge.commands import train as train_command
from models.checkpoint import build_model, load_checkpoint
from models.config import RunConfig, TrainConfig, load_config
from models.corpus import CorpusEntry, SplitSpec, build_corpus, split_of
from models.dataset import SpectrogramDataset, render_dataset
from models.distributed import EpochBatches, Placement, resolve_device
from models.errors import ConfigError, TrainingError
from models.frontend import FrontendStats
from models.losses import beta, compute_losses
from models.networks import SoundToVoice, SoundToVoiceOutput
from models.packing import unpack_bank
from models.params import BY_NAME, NAME_START
from models.representations import get_representation
from models.train import LOG, TrainState, run, train_step
from models.voice import ClampReport, Voice

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = load_config(CONFIGS / "tiny.toml")
NUMCAT_PP = get_representation("numcat++")
SPLIT = SplitSpec(train=0.6, validation=0.2, test=0.2, seed=1)
TRAIN_VOICES, BATCH = 8, TINY.train.batch_size  # 2 batches per epoch


@pytest.fixture(scope="session")
def brass_voices(brass_path: Path) -> list[Voice]:
    return [voice for voice, _ in unpack_bank(brass_path.read_bytes()[6:4102])]


@pytest.fixture(scope="session")
def dataset_dir(brass_voices: list[Voice], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 train, 2 validation and 1 test voice of the brass bank, rendered on (60, 85)."""
    wanted = {"train": TRAIN_VOICES, "validation": 2, "test": 1}
    chosen: dict[bytes, Voice] = {}  # the bank repeats some voices under other names
    for voice in brass_voices:
        key = voice.vced[:NAME_START]
        split = split_of(key, SPLIT)
        if wanted[split] and key not in chosen:
            chosen[key] = voice
            wanted[split] -= 1
    assert not any(wanted.values()), f"the brass bank lacks voices for {wanted}"
    root = tmp_path_factory.mktemp("training-data")
    entries = [CorpusEntry(voice, ClampReport(), "brass.syx", slot) for slot, voice in enumerate(chosen.values())]
    build_corpus(root / "corpus.sqlite", entries, split=SPLIT)
    render_dataset(root / "corpus.sqlite", root / "dataset", workers=2, chunk=4)
    return root / "dataset"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: toy models run faster so, and CPU results are bit-reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(dataset_dir: Path, out_dir: Path, config: RunConfig = TINY, **options: object) -> TrainState:
    return run(config, dataset_dir=dataset_dir, out_dir=out_dir, device="cpu", progress=False, **options)


# --- losses -------------------------------------------------------------------------------------


def _output(target: torch.Tensor, spectrogram: torch.Tensor, **fields: torch.Tensor) -> SoundToVoiceOutput:
    """A perfect output: params = target, reconstruction = input, z0 = mu, zK = 0, no log-det."""
    batch, dim = target.shape
    zeros = torch.zeros(batch, dim)
    values = {"mu": zeros, "logvar": zeros, "z0": zeros, "z_k": zeros, "log_det": torch.zeros(batch),
                  "params": target.clone(), "spectrogram": spectrogram.clone()}
    return SoundToVoiceOutput(**(values | fields))


def _slot(param: str) -> int:
    return int(NUMCAT_PP.numerical_slots[NUMCAT_PP.numerical_params.index(BY_NAME[param].index)])


def _group(param: str) -> slice:
    return next(g.slots for g in NUMCAT_PP.groups if g.index == BY_NAME[param].index)


def _losses(output: SoundToVoiceOutput, spectrogram: torch.Tensor, target: torch.Tensor,
            temperature: float = 0.2) -> dict[str, float]:
    return {key: value.item() for key, value in
            compute_losses(output, spectrogram, target, NUMCAT_PP, 0.5, temperature).items()}


@pytest.fixture(scope="module")
def targets(brass_voices: list[Voice]) -> torch.Tensor:
    """Two brass voices; in the second, operator 2 is silent (output level 0)."""
    silent = brass_voices[1].replace({BY_NAME["op2_output_level"].index: 0})
    return torch.from_numpy(NUMCAT_PP.encode_batch([brass_voices[0], silent]))


def test_perfect_output_costs_only_the_softmax_floor(targets: torch.Tensor) -> None:
    spectrogram = torch.rand(2, 1, 8, 5)
    losses = _losses(_output(targets, spectrogram), spectrogram, targets)
    assert losses["loss/spec"] == 0 and losses["loss/kl"] == 0 and losses["loss/num"] == 0
    # each group's logits are 5 for the right class and 0 for the others: CE = log(1 + (C-1) e^-5)
    floor = [math.log(1 + (g.classes - 1) * math.exp(-5)) for g in NUMCAT_PP.groups]
    op2_groups = [k for k, g in enumerate(NUMCAT_PP.groups) if g.spec.op == 2]
    expected = (sum(floor) + sum(f for k, f in enumerate(floor) if k not in op2_groups)) / (
        2 * len(floor) - len(op2_groups))
    assert losses["loss/cat"] == pytest.approx(expected, rel=1e-5)
    assert losses["loss/param"] == pytest.approx(losses["loss/num"] + losses["loss/cat"])
    assert losses["loss/total"] == pytest.approx(losses["loss/param"])
    sharper = _losses(_output(targets, spectrogram), spectrogram, targets, temperature=0.1)
    assert sharper["loss/cat"] < losses["loss/cat"]


def test_each_term_responds_to_its_input(targets: torch.Tensor) -> None:
    spectrogram = torch.rand(2, 1, 8, 5)
    perfect = _output(targets, spectrogram)
    spec = _losses(perfect._replace(spectrogram=spectrogram + 0.5), spectrogram, targets)
    assert spec["loss/spec"] == pytest.approx(0.25) and spec["loss/param"] == _losses(perfect, spectrogram, targets)["loss/param"]

    z_k = torch.full_like(targets, 2.0)  # -log N(zK) grows by 0.5 zK^2 = 2 per dimension
    assert _losses(perfect._replace(z_k=z_k), spectrogram, targets)["loss/kl"] == pytest.approx(2.0)
    log_det = torch.full((2,), float(targets.shape[1]))  # a log-det of 1 per dimension lowers the KL by 1
    assert _losses(perfect._replace(log_det=log_det), spectrogram, targets)["loss/kl"] == pytest.approx(-1.0)
    shifted = _losses(perfect._replace(z0=torch.ones_like(targets)), spectrogram, targets)  # (z0 - mu)^2 / 2 = 0.5
    assert shifted["loss/kl"] == pytest.approx(-0.5)
    total = _losses(perfect._replace(z_k=z_k), spectrogram, targets)
    assert total["loss/total"] == pytest.approx(total["loss/param"] + 0.5 * 2.0)

    params = targets.clone()
    params[:, _slot("op1_eg_rate1")] += 0.3
    assert _losses(perfect._replace(params=params), spectrogram, targets)["loss/num"] > 0
    params = targets.clone()
    params[:, _group("algorithm")] = torch.flip(params[:, _group("algorithm")], dims=[1])
    wrong_class = _losses(perfect._replace(params=params), spectrogram, targets)
    assert wrong_class["loss/cat"] > _losses(perfect, spectrogram, targets)["loss/cat"] + 0.1


def test_silent_operators_are_masked(targets: torch.Tensor) -> None:
    spectrogram = torch.rand(2, 1, 8, 5)
    perfect = _output(targets, spectrogram)
    baseline = _losses(perfect, spectrogram, targets)

    def with_error(row: int, param: str) -> dict[str, float]:
        params = targets.clone()
        if BY_NAME[param].steps > 32:
            params[row, _slot(param)] += 0.5
        else:
            params[row, _group(param)] = torch.roll(params[row, _group(param)], 1)
        return _losses(perfect._replace(params=params), spectrogram, targets)

    assert with_error(1, "op2_eg_rate1") == baseline  # operator 2 of voice 2 is silent
    assert with_error(1, "op2_coarse") == baseline
    assert with_error(1, "op2_osc_mode") == baseline
    assert with_error(1, "op2_output_level") != baseline  # its level itself still counts
    assert with_error(0, "op2_eg_rate1") != baseline  # operator 2 of voice 1 sounds
    assert with_error(1, "op3_eg_rate1") != baseline
    assert with_error(1, "lfo_speed") != baseline


def test_a_model_without_decoder_cannot_train(targets: torch.Tensor) -> None:
    spectrogram = torch.rand(2, 1, 8, 5)
    with pytest.raises(TrainingError, match=r"no decoder \(model.decoder = false\)"):
        _losses(_output(targets, spectrogram)._replace(spectrogram=None), spectrogram, targets)
    no_decoder = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, decoder=False))
    with pytest.raises(ConfigError, match="set decoder = true"):
        run(no_decoder, dataset_dir=Path("unused"), out_dir=Path("unused"), device="cpu")


def test_beta_schedule() -> None:
    config = TrainConfig(beta_start=0.1, beta_end=0.2, beta_warmup_epochs=25)
    assert [beta(e, config) for e in (0, 5, 25, 26, 200)] == pytest.approx([0.1, 0.12, 0.2, 0.2, 0.2])
    assert beta(0, TrainConfig(beta_warmup_epochs=0, beta_end=0.3)) == 0.3


def test_train_step_reports_and_refuses_divergence(targets: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = SoundToVoice(TINY.model, TINY.frontend)
    state = TrainState(model, torch.optim.Adam(model.parameters(), lr=1e-3), TINY,
                       FrontendStats(-120.0, 20.0), Placement(torch.device("cpu")))
    spectrogram = torch.rand(2, *model.spectrogram_shape) * 2 - 1
    losses = train_step(state, spectrogram, targets)
    assert set(losses) == {"loss/total", "loss/spec", "loss/kl", "loss/param", "loss/num", "loss/cat", "grad_norm"}
    assert all(math.isfinite(v) for v in losses.values()) and losses["grad_norm"] > 0
    with pytest.raises(TrainingError, match=r"loss/total = nan at step 1 \(epoch 1\): training diverged"):
        train_step(state, spectrogram * float("nan"), targets)


# --- runs ---------------------------------------------------------------------------------------


def _log_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_a_short_run_learns_and_writes_checkpoints_and_log(dataset_dir: Path, tmp_path: Path) -> None:
    config = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, lr=1e-3))
    state = _run(dataset_dir, tmp_path, config, epochs=20)
    assert (state.epoch, state.epoch_step, state.step) == (20, 0, 20 * TRAIN_VOICES // BATCH)
    first, last = state.metrics[0], state.metrics[-1]
    assert last["train/loss/total"] < 0.8 * first["train/loss/total"]
    assert last["val/loss/total"] < first["val/loss/total"]

    rows = _log_rows(tmp_path / LOG)
    assert [float(r["epoch"]) for r in rows] == list(range(1, 21))
    assert float(rows[-1]["train/loss/total"]) == pytest.approx(last["train/loss/total"])
    assert float(rows[4]["beta"]) == pytest.approx(beta(4, config.train)) and float(rows[0]["lr"]) == 1e-3
    latest, best = load_checkpoint(tmp_path / "latest.pt"), load_checkpoint(tmp_path / "best.pt")
    assert latest.config == dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=20))
    assert latest.frontend_stats == SpectrogramDataset(dataset_dir, "train").stats
    assert latest.training is not None and best.training is not None
    assert best.training.best_val == min(row["val/loss/total"] for row in state.metrics) == state.best_val
    model = build_model(latest)
    spectrogram = SpectrogramDataset(dataset_dir, "validation")[0][0][None]
    assert torch.equal(model.infer(spectrogram), state.model.eval().infer(spectrogram))


@pytest.mark.parametrize("head_lr_scale", [1.0, 8.0])
def test_a_cut_and_resumed_run_equals_an_uncut_one(dataset_dir: Path, tmp_path: Path, head_lr_scale: float) -> None:
    config = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, head_lr_scale=head_lr_scale))
    cut = _run(dataset_dir, tmp_path / "cut", config, max_steps=5, epochs=10)
    assert (cut.epoch, cut.epoch_step, cut.step) == (2, 1, 5)  # stopped inside epoch 3
    snapshot = load_checkpoint(tmp_path / "cut" / "latest.pt").training
    assert snapshot is not None and (snapshot.epoch, snapshot.epoch_step, snapshot.step) == (2, 1, 5)

    resumed = _run(dataset_dir, tmp_path / "cut", config, resume=True, max_steps=12, epochs=10)
    uncut = _run(dataset_dir, tmp_path / "uncut", config, max_steps=12, epochs=10)
    assert resumed.step == uncut.step == 12 and resumed.epoch == uncut.epoch == 6
    lrs = [group["lr"] for group in resumed.optimizer.param_groups]
    assert lrs == ([TINY.train.lr] if head_lr_scale == 1.0 else [TINY.train.lr, TINY.train.lr * head_lr_scale])
    uncut_weights = uncut.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, uncut_weights[name]), name
    for resumed_state, uncut_state in zip(resumed.optimizer.state_dict()["state"].values(),
                                          uncut.optimizer.state_dict()["state"].values(), strict=True):
        assert torch.equal(resumed_state["exp_avg_sq"], uncut_state["exp_avg_sq"])

    def epoch_rows(state: TrainState) -> list[dict[str, float]]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in state.metrics if row["epoch"] % 1 == 0]

    assert epoch_rows(resumed) == epoch_rows(uncut)
    assert [row["epoch"] for row in resumed.metrics] == [1, 2, 2.5, 3, 4, 5, 6]  # the cut is logged too


def test_runs_refuse_to_clobber_or_invent_state(dataset_dir: Path, tmp_path: Path) -> None:
    _run(dataset_dir, tmp_path / "run", max_steps=1)
    with pytest.raises(TrainingError, match=r"latest.pt exists: pass --resume to continue that run"):
        _run(dataset_dir, tmp_path / "run", max_steps=1)
    with pytest.raises(TrainingError, match=r"nothing to resume: .*empty.latest.pt not found"):
        _run(dataset_dir, tmp_path / "empty", resume=True)
    other = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, lr=1e-3))
    with pytest.raises(TrainingError, match=r"another config: train.lr = 0.0002 \(now 0.001\)"):
        _run(dataset_dir, tmp_path / "run", other, resume=True)
    multi = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, notes=((40, 85), (60, 85))))
    with pytest.raises(TrainingError, match=r"holds notes \[\(60, 85\)\] but model.notes is \[\(40, 85\), \(60, 85\)\]"):
        _run(dataset_dir, tmp_path / "multi", multi)
    huge_batch = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, batch_size=64))
    with pytest.raises(TrainingError, match=r"8 training voices over 1 process\(es\) fill no batch of train.batch_size = 64"):
        _run(dataset_dir, tmp_path / "huge", huge_batch)


def test_a_time_limit_stops_and_checkpoints(dataset_dir: Path, tmp_path: Path) -> None:
    state = _run(dataset_dir, tmp_path, time_limit_s=1e-9, epochs=3)
    assert (state.epoch, state.epoch_step, state.step) == (0, 1, 1)  # the first step outlasts the limit
    snapshot = load_checkpoint(tmp_path / "latest.pt").training
    assert snapshot is not None and snapshot.step == 1 and not (tmp_path / "best.pt").exists()
    assert [float(row["epoch"]) for row in _log_rows(tmp_path / LOG)] == [0.5]


def test_epoch_batches_are_reproducible_resumable_and_sharded() -> None:
    data = list(range(10))
    alone = EpochBatches(data, 3, Placement(torch.device("cpu")), shuffle=True, seed=4, drop_last=True)
    alone.set_epoch(0)
    first = list(alone)
    assert len(first) == alone.batches_per_epoch() == 3 and all(len(b) == 3 for b in first)
    assert list(alone) == first
    alone.set_epoch(0, skip=2)
    assert list(alone) == first[2:] and len(alone) == 1
    alone.set_epoch(1)
    assert list(alone) != first
    shards = [EpochBatches(data, 5, Placement(torch.device("cpu"), rank, 2), shuffle=False, seed=0, drop_last=False)
              for rank in range(2)]
    assert sorted(i for shard in shards for batch in shard for i in batch) == data


def test_devices_are_checked() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device 'tpu': choose one of auto, cpu, cuda"):
        resolve_device("tpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU .*use --device cpu or auto"):
            resolve_device("cuda")


# --- command line and DDP -----------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_trains_resumes_and_exports(dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    common = ["train", "--config", str(CONFIGS / "tiny.toml"), "--dataset", str(dataset_dir), "--out", str(run_dir),
              "--device", "cpu", "--epochs", "2"]
    assert _cli([*common, "--max-steps", "1"]) == 0
    assert "stopped at epoch 0/2 (+1 batches), step 1" in capsys.readouterr().out
    assert _cli([*common, "--resume", "--checkpoint-every", "1"]) == 0
    assert "stopped at epoch 2/2 (+0 batches), step 4" in capsys.readouterr().out
    assert _cli(["export-checkpoint", str(run_dir / "best.pt"), "--out", str(tmp_path / "default.pt"), "--half"]) == 0
    out = capsys.readouterr().out
    exported = load_checkpoint(tmp_path / "default.pt")
    assert exported.training is None and exported.config.train.epochs == 2  # --epochs is part of the run's config
    assert out.startswith(f"wrote {tmp_path / 'default.pt'} (") and "float16 weights" in out
    assert f"run {exported.config_hash}, numcat++, notes [(60, 85)]" in out


def test_torchrun_two_process_gloo_run(dataset_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", "-m", "bridge.commands.cli",
               "train", "--config", str(CONFIGS / "tiny.toml"), "--dataset", str(dataset_dir),
               "--out", str(tmp_path / "ddp"), "--device", "cpu", "--epochs", "5", "--max-steps", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("stopped at epoch 3/5 (+0 batches), step 3") == 1  # rank 0 alone reports
    snapshot = load_checkpoint(tmp_path / "ddp" / "latest.pt").training
    assert snapshot is not None and (snapshot.epoch, snapshot.step) == (3, 3)  # 4 voices a rank: 1 batch an epoch
