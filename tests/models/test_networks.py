"""The sound-to-voice network at toy widths: shapes, exact flow inverses, a training step, export
and the size budget of the shipped lean configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx_check import LEGACY_EXPORTER_WARNINGS, run_exported

from models.config import FrontendConfig, load_config
from models.errors import ConfigError, ModelInputError, RepresentationError
from models.flows import RealNVP
from models.networks import SoundToVoice, conv_output_sizes, state_dict_bytes
from models.packing import unpack_bank
from models.render import MULTI_NOTES, SINGLE_NOTE
from models.representations import get_representation

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = load_config(CONFIGS / "tiny.toml")
FRONTEND = FrontendConfig()
SERVING_BUDGET_BYTES = 25_000_000


def tiny_model(**changes: object) -> SoundToVoice:
    torch.manual_seed(0)
    return SoundToVoice(dataclasses.replace(TINY.model, **changes), FRONTEND)


def randomise(module: torch.nn.Module) -> None:
    """Move every weight off its initial value (fresh couplings are the identity)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)


def spectrograms(batch: int, notes: int) -> torch.Tensor:
    return torch.rand(batch, notes, FRONTEND.n_mels, FRONTEND.num_frames) * 2 - 1


@pytest.fixture(scope="module")
def brass_vectors(brass_path: Path) -> torch.Tensor:
    voices = [voice for voice, _ in unpack_bank(brass_path.read_bytes()[6:4102])]
    return torch.from_numpy(get_representation("numcat++").encode_batch(voices))


def test_encoder_geometry_matches_the_paper() -> None:
    sizes = [(129, 173), (65, 87), (33, 44), (17, 23), (9, 12), (5, 7), (3, 4), (3, 4)]
    assert conv_output_sizes(257, 345, 8)[1:] == sizes
    paper = SoundToVoice(load_config(CONFIGS / "paper.toml").model, FRONTEND)
    assert paper.serving.encoder.to_gaussian.in_features == 24_576  # 2048 channels x 3 x 4
    assert paper.serving.encoder.to_gaussian.out_features == 2 * 610


@pytest.mark.parametrize("notes", [SINGLE_NOTE, MULTI_NOTES], ids=["1-note", "6-notes"])
@pytest.mark.parametrize(("representation", "size"), [("num", 144), ("numcat", 224), ("numcat++", 610)])
def test_shapes(notes: tuple[tuple[int, int], ...], representation: str, size: int) -> None:
    model = tiny_model(notes=notes, representation=representation).train()
    spectrogram = spectrograms(2, len(notes))
    out = model(spectrogram)
    for name in ("mu", "logvar", "z0", "z_k", "params"):
        assert getattr(out, name).shape == (2, size), name
    assert out.log_det.shape == (2,)
    assert out.spectrogram is not None and out.spectrogram.shape == spectrogram.shape
    model.eval()
    assert model.infer(spectrogram).shape == (2, size)
    assert model.encode_params(out.params.detach()).shape == (2, size)
    assert model.decode_latent(out.z_k.detach()).shape == (2, size)


def test_sampling_only_in_train_mode() -> None:
    model = tiny_model(decoder=False)
    spectrogram = spectrograms(3, 1)
    trained = model.train()(spectrogram)
    assert trained.spectrogram is None
    assert not torch.allclose(trained.z0, trained.mu)
    evaluated = model.eval()(spectrogram)
    assert torch.equal(evaluated.z0, evaluated.mu)
    torch.testing.assert_close(model.infer(spectrogram), evaluated.params)
    assert torch.equal(model.infer(spectrogram), model.infer(spectrogram))


def test_realnvp_inverse_and_log_det() -> None:
    flow = RealNVP(dim=7, layers=6, hidden=12, hidden_layers=2, max_log_scale=2.0)
    x = torch.randn(5, 7, dtype=torch.float64)
    flow = flow.double()
    y, log_det = flow(x)
    assert torch.allclose(y, x) and torch.all(log_det == 0)  # fresh couplings are the identity
    randomise(flow)
    y, log_det = flow(x)
    assert not torch.allclose(y, x, atol=1e-3)
    torch.testing.assert_close(flow.inverse(y), x, atol=1e-12, rtol=0)
    for row in range(2):
        jacobian = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[row])
        torch.testing.assert_close(log_det[row], torch.linalg.slogdet(jacobian).logabsdet)
    with pytest.raises(ConfigError, match="needs >= 2 features"):
        RealNVP(dim=1, layers=2, hidden=4)


def test_preset_latent_round_trip(brass_vectors: torch.Tensor) -> None:
    model = tiny_model(flow_layers=6, flow_hidden=32)
    randomise(model)
    model.eval()
    z_k = model.encode_params(brass_vectors)
    assert (z_k - brass_vectors).abs().mean() > 0.05
    torch.testing.assert_close(model.decode_latent(z_k), brass_vectors, atol=1e-5, rtol=0)
    spectrogram = spectrograms(2, 1)
    torch.testing.assert_close(model.encode_params(model.infer(spectrogram)), model(spectrogram).z_k, atol=1e-5, rtol=0)


def test_one_step_lowers_a_loss(brass_vectors: torch.Tensor) -> None:
    model = tiny_model().train()
    spectrogram, target = spectrograms(4, 1), brass_vectors[:4]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        torch.manual_seed(2)  # the same z0 sample both times
        out = model(spectrogram)
        assert out.spectrogram is not None
        kl = 0.5 * (out.mu**2 + out.logvar.exp() - out.logvar - 1).sum(1) - out.log_det
        mse = ((out.spectrogram - spectrogram) ** 2).mean() + ((out.params - target) ** 2).mean()
        return mse + 0.1 * kl.mean() / 610

    before = loss()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = loss()
    assert after < before


def test_bad_shapes_are_refused() -> None:
    model = tiny_model(notes=MULTI_NOTES).eval()
    with pytest.raises(ModelInputError, match=r"expected \(batch, 6, 257, 345\) = 6 note\(s\).*88200 samples"):
        model.infer(spectrograms(1, 1))
    with pytest.raises(ModelInputError, match=r"\(1, 6, 257, 300\)"):
        model(torch.zeros(1, 6, 257, 300))
    with pytest.raises(RepresentationError, match=r"expected \(batch, 610\) 'numcat\+\+' vectors"):
        model.encode_params(torch.zeros(1, 224))
    with pytest.raises(ModelInputError, match=r"latent shape \(610,\)"):
        model.decode_latent(torch.zeros(610))


@pytest.mark.filterwarnings(*LEGACY_EXPORTER_WARNINGS)
@pytest.mark.parametrize("notes", [SINGLE_NOTE, MULTI_NOTES], ids=["1-note", "6-notes"])
def test_serving_part_runs_in_onnxruntime(tmp_path: Path, notes: tuple[tuple[int, int], ...]) -> None:
    model = tiny_model(notes=notes)
    randomise(model)
    serving = model.eval().serving
    inputs = spectrograms(3, len(notes))
    exported = run_exported(serving, spectrograms(1, len(notes)), inputs, tmp_path / "serving.onnx")
    np.testing.assert_allclose(exported, model.infer(inputs).numpy(), atol=1e-4, rtol=0)


def test_lean_default_serving_fits_the_budget(tmp_path: Path) -> None:
    default = load_config(CONFIGS / "default.toml")
    assert default.model.encoder_head == "lean"
    model = SoundToVoice(default.model, default.frontend)
    serving = model.serving
    assert state_dict_bytes(serving) <= SERVING_BUDGET_BYTES
    assert sum(p.numel() for p in serving.parameters()) * 4 <= SERVING_BUDGET_BYTES
    torch.save(serving.state_dict(), tmp_path / "serving.pt")
    assert (tmp_path / "serving.pt").stat().st_size <= SERVING_BUDGET_BYTES
    assert not any(name.startswith("decoder") for name in serving.state_dict())
    assert set(model.state_dict()) == {f"serving.{k}" for k in serving.state_dict()} | {
        f"decoder.{k}" for k in model.decoder.state_dict()  # type: ignore[union-attr]
    }
    paper = SoundToVoice(load_config(CONFIGS / "paper.toml").model, default.frontend)
    assert state_dict_bytes(paper.serving) > 5 * state_dict_bytes(serving)


def test_serving_part_exports_with_torch_export() -> None:
    model = tiny_model()
    randomise(model)
    serving = model.eval().serving
    batch = torch.export.Dim("batch", min=1, max=256)
    program = torch.export.export(serving, (spectrograms(2, 1),), dynamic_shapes=({0: batch},))
    inputs = spectrograms(5, 1)
    torch.testing.assert_close(program.module()(inputs), model.infer(inputs))
