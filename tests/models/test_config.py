"""Run configuration: shipped TOML files, overlays, strict keys and types, dict round trip, hash."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from models.config import ModelConfig, RunConfig, load_config
from models.errors import ConfigError
from models.render import MULTI_NOTES

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_toml_lists_every_default() -> None:
    config = load_config(CONFIGS / "default.toml")
    assert config == RunConfig()
    lines = (CONFIGS / "default.toml").read_text().splitlines()
    sections = {line.strip("[]") for line in lines if line.startswith("[")}
    assert sections == set(RunConfig().to_dict())
    assert config.frontend.num_samples == 88_200
    assert config.frontend.num_frames == 345
    assert config.model.latent_dim == 610


def test_overlays_change_only_what_they_name() -> None:
    default, paper, tiny = (load_config(CONFIGS / f"{name}.toml") for name in ("default", "paper", "tiny"))
    assert paper.model.encoder_head == "paper"
    assert paper.model.encoder_channels == (8, 16, 32, 64, 128, 256, 512, 2048)
    as_lean = dataclasses.replace(paper.model, encoder_head="lean", encoder_channels=default.model.encoder_channels)
    assert as_lean == default.model
    assert paper.frontend == default.frontend
    assert paper.train == dataclasses.replace(default.train, head_lr_scale=1.0)
    assert tiny.model.flow_hidden == 16
    assert tiny.frontend == default.frontend
    assert len({default.config_hash(), paper.config_hash(), tiny.config_hash()}) == 3


def test_include_resolves_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, '[model]\nrepresentation = "num"\nflow_layers = 4\n', "base.toml")
    path = write(tmp_path / "sub", 'include = "../base.toml"\n[model]\nflow_layers = 2\n[train]\nepochs = 3\n')
    config = load_config(path)
    assert (config.model.representation, config.model.flow_layers, config.train.epochs) == ("num", 2, 3)
    assert config.model.latent_dim == 144


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, 'include = "b.toml"\n', "a.toml")
    write(tmp_path, 'include = "a.toml"\n', "b.toml")
    with pytest.raises(ConfigError, match="include cycle"):
        load_config(tmp_path / "a.toml")


def test_unknown_key_names_the_key_and_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\nflow_layer = 6\n")
    expected = r"unknown key 'model\.flow_layer' in .*run\.toml; valid keys in \[model\]: "
    with pytest.raises(ConfigError, match=expected) as error:
        load_config(path)
    assert "flow_layers" in str(error.value)


def test_unknown_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown table \[optim\].*valid tables: frontend, model, train$"):
        load_config(write(tmp_path, "[optim]\nlr = 1.0\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[model]\nflow_layers = "6"\n', r"'model\.flow_layers' = '6'.*expected an integer"),
        ("[model]\nflow_layers = 6.0\n", r"expected an integer"),
        ("[model]\ndecoder = 1\n", r"expected true or false"),
        ("[model]\nnotes = [[60]]\n", r"'model\.notes' = \[60\] .*expected a list \[an integer, an integer\]"),
        ("[model]\nnotes = [[60, 0]]\n", r"velocity 0, range 1\.\.127"),
        ('[model]\nrepresentation = "numcat+"\n', r"choose one of num, numcat, numcat\+\+"),
        ('[model]\nencoder_head = "big"\n', r"choose one of lean, paper"),
        ("[model]\nencoder_channels = [8, 16]\n", r">= 3 positive widths"),
        ("[frontend]\nn_mels = 600\n", r"n_mels = 600, range 1\.\.513"),
        ("[train]\nlr = -1\n", r"train\.lr = -1\.0, must be > 0"),
    ],
)
def test_bad_values_are_refused_with_a_diagnosis(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write(tmp_path, "[model\n"))


def test_dict_round_trip_and_hash() -> None:
    config = RunConfig(model=ModelConfig(representation="numcat", notes=MULTI_NOTES, encoder_head="paper"))
    stored = config.to_dict()
    assert stored["model"]["notes"] == [list(note) for note in MULTI_NOTES]
    assert RunConfig.from_dict(stored) == config
    assert RunConfig.from_dict(stored).config_hash() == config.config_hash()
    assert len(config.config_hash()) == 12
    changed = dataclasses.replace(config, model=dataclasses.replace(config.model, flow_hidden=301))
    assert changed.config_hash() != config.config_hash()
    assert RunConfig.from_dict({}) == RunConfig()


def test_hash_is_the_same_in_another_process() -> None:
    code = "from models.config import RunConfig; print(RunConfig().config_hash())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == RunConfig().config_hash()


@pytest.mark.parametrize(("representation", "size"), [("num", 144), ("numcat", 224), ("numcat++", 610)])
def test_latent_dim_is_the_representation_size(representation: str, size: int) -> None:
    assert ModelConfig(representation=representation).latent_dim == size
