"""The sound-to-voice network of Le Vaillant, Dutoit, Dekeyser, DAFx 2021.

Spectrogram (batch, notes, n_mels, frames) -> :class:`SpectralEncoder` -> Gaussian (mu, logvar)
-> z0 -> latent :class:`~models.flows.RealNVP` -> zK -> regression RealNVP -> representation
vector ("params"). The :class:`SpectralDecoder` reconstructs the spectrogram from zK during
training only. Serving (:class:`ServingModel`) is the encoder and both flows: deterministic,
z0 = mu, exportable to ONNX with a dynamic batch axis.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from models.config import FrontendConfig, ModelConfig
from models.errors import ModelInputError, RepresentationError
from models.flows import RealNVP

LEAKY_SLOPE = 0.1


def _layer_geometry(layer: int, n_layers: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of encoder conv layer ``layer``: 5x5/2, then 4x4/2, last 1x1."""
    if layer == n_layers - 1:
        return 1, 1, 0
    return (5, 2, 2) if layer == 0 else (4, 2, 2)


def conv_output_sizes(height: int, width: int, n_layers: int) -> list[tuple[int, int]]:
    """Feature-map sizes through the encoder's conv layers: input first, then after each layer.

    For 257 x 345 and 8 layers: 129x173, 65x87, 33x44, 17x23, 9x12, 5x7, 3x4, 3x4.
    """
    sizes = [(height, width)]
    for layer in range(n_layers):
        kernel, stride, padding = _layer_geometry(layer, n_layers)
        h, w = sizes[-1]
        sizes.append(((h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1))
    return sizes


class SpectralEncoder(nn.Module):
    """Conv layers (BatchNorm except first and last, LeakyReLU 0.1) then a head to (mu, logvar).

    Notes are stacked as input channels. Heads: "paper" flattens the last conv layer into one
    linear layer; "lean" first reduces channels with a 1x1 conv to ``head_channels``.
    """

    def __init__(self, config: ModelConfig, spectrogram_shape: tuple[int, int, int]) -> None:
        super().__init__()
        notes, height, width = spectrogram_shape
        channels = config.encoder_channels
        layers: list[nn.Module] = []
        in_channels = notes
        for layer, out_channels in enumerate(channels):
            kernel, stride, padding = _layer_geometry(layer, len(channels))
            batch_norm = 0 < layer < len(channels) - 1
            layers.append(nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=not batch_norm))
            layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
            in_channels = out_channels
        if config.encoder_head == "lean":
            layers += [nn.Conv2d(in_channels, config.head_channels, 1), nn.LeakyReLU(LEAKY_SLOPE)]
            in_channels = config.head_channels
        self.features = nn.Sequential(*layers)
        out_height, out_width = conv_output_sizes(height, width, len(channels))[-1]
        self.to_gaussian = nn.Linear(in_channels * out_height * out_width, 2 * config.latent_dim)

    def forward(self, spectrogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (batch, latent_dim)."""
        mu, logvar = self.to_gaussian(self.features(spectrogram).flatten(1)).chunk(2, dim=1)
        return mu, logvar


class SpectralDecoder(nn.Module):
    """zK -> spectrogram: a linear layer, then the encoder's strided conv layers mirrored as
    transposed convs (BatchNorm + LeakyReLU except the linear output layer).

    Each transposed conv takes the output padding that lands exactly on the size the mirrored
    encoder layer received, so the prediction is the full (notes, n_mels, frames) target: no
    crop, no resize.
    """

    def __init__(self, config: ModelConfig, spectrogram_shape: tuple[int, int, int]) -> None:
        super().__init__()
        notes, height, width = spectrogram_shape
        strided = config.encoder_channels[:-1]  # the final 1x1 layer is not mirrored
        sizes = conv_output_sizes(height, width, len(config.encoder_channels))[: len(strided) + 1]
        self.start_shape = (strided[-1], *sizes[-1])
        self.from_latent = nn.Sequential(
            nn.Linear(config.latent_dim, strided[-1] * sizes[-1][0] * sizes[-1][1]), nn.LeakyReLU(LEAKY_SLOPE)
        )
        layers: list[nn.Module] = []
        for layer in reversed(range(len(strided))):
            kernel, stride, padding = _layer_geometry(layer, len(config.encoder_channels))
            out_channels = strided[layer - 1] if layer > 0 else notes
            grown = [(n - 1) * stride - 2 * padding + kernel for n in sizes[layer + 1]]
            output_padding = (sizes[layer][0] - grown[0], sizes[layer][1] - grown[1])
            layers.append(nn.ConvTranspose2d(
                strided[layer], out_channels, kernel, stride, padding, output_padding, bias=layer == 0
            ))
            if layer > 0:
                layers += [nn.BatchNorm2d(out_channels), nn.LeakyReLU(LEAKY_SLOPE)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z_k: torch.Tensor) -> torch.Tensor:
        """(batch, notes, n_mels, frames), linear output (targets are in [-1, 1])."""
        return self.layers(self.from_latent(z_k).reshape(-1, *self.start_shape))


def _flow(config: ModelConfig) -> RealNVP:
    return RealNVP(
        config.latent_dim, config.flow_layers, config.flow_hidden, config.flow_hidden_layers, config.flow_max_log_scale
    )


class ServingModel(nn.Module):
    """Encoder + latent flow + regression flow: spectrogram -> params, deterministic (z0 = mu).

    No input checks: this is the export target (ONNX, torch.export); callers validate shapes
    (:meth:`SoundToVoice.infer` does).
    """

    def __init__(self, config: ModelConfig, spectrogram_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.encoder = SpectralEncoder(config, spectrogram_shape)
        self.latent_flow = _flow(config)
        self.regression_flow = _flow(config)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """Representation vectors (batch, latent_dim), raw (decode with the representation)."""
        mu, _ = self.encoder(spectrogram)
        z_k, _ = self.latent_flow(mu)
        params, _ = self.regression_flow(z_k)
        return params


class SoundToVoiceOutput(NamedTuple):
    """Everything the training losses need; ``spectrogram`` is None without a decoder."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z0: torch.Tensor
    z_k: torch.Tensor
    log_det: torch.Tensor
    params: torch.Tensor
    spectrogram: torch.Tensor | None


class SoundToVoice(nn.Module):
    """The whole model: :class:`ServingModel` (``.serving``) plus the training-only decoder."""

    def __init__(self, model: ModelConfig, frontend: FrontendConfig) -> None:
        """
        Args:
            model: widths, representation, note set.
            frontend: gives the spectrogram size (n_mels x frames of ``duration_s``).
        """
        super().__init__()
        self.config = model
        self.spectrogram_shape = (model.n_notes, frontend.n_mels, frontend.num_frames)
        self._frontend_config = frontend
        self.serving = ServingModel(model, self.spectrogram_shape)
        self.decoder = SpectralDecoder(model, self.spectrogram_shape) if model.decoder else None

    def forward(self, spectrogram: torch.Tensor) -> SoundToVoiceOutput:
        """Training pass: z0 is sampled from N(mu, exp(logvar)) in train mode, z0 = mu in eval mode.

        Raises:
            ModelInputError: spectrogram not (batch, notes, n_mels, frames) of this model.
        """
        self._check_spectrogram(spectrogram)
        mu, logvar = self.serving.encoder(spectrogram)
        z0 = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        z_k, log_det = self.serving.latent_flow(z0)
        params, _ = self.serving.regression_flow(z_k)
        reconstruction = self.decoder(z_k) if self.decoder is not None else None
        return SoundToVoiceOutput(mu, logvar, z0, z_k, log_det, params, reconstruction)

    @torch.no_grad()
    def infer(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """Params (batch, latent_dim) with z0 = mu. BatchNorm follows the module's mode: call
        ``.eval()`` first for inference.

        Raises:
            ModelInputError: spectrogram not (batch, notes, n_mels, frames) of this model.
        """
        self._check_spectrogram(spectrogram)
        return self.serving(spectrogram)

    def encode_params(self, params: torch.Tensor) -> torch.Tensor:
        """zK of representation vectors (inverse regression flow): a preset's latent point.

        Raises:
            RepresentationError: params not (batch, latent_dim).
        """
        if params.dim() != 2 or params.shape[1] != self.config.latent_dim:
            raise RepresentationError(
                f"params shape {tuple(params.shape)}: expected (batch, {self.config.latent_dim}) "
                f"{self.config.representation!r} vectors (Representation.encode_batch)"
            )
        return self.serving.regression_flow.inverse(params)

    def decode_latent(self, z_k: torch.Tensor) -> torch.Tensor:
        """Representation vectors of latent points zK (forward regression flow).

        Raises:
            ModelInputError: z_k not (batch, latent_dim).
        """
        if z_k.dim() != 2 or z_k.shape[1] != self.config.latent_dim:
            raise ModelInputError(f"latent shape {tuple(z_k.shape)}: expected (batch, {self.config.latent_dim})")
        params, _ = self.serving.regression_flow(z_k)
        return params

    def _check_spectrogram(self, spectrogram: torch.Tensor) -> None:
        if spectrogram.dim() != 4 or tuple(spectrogram.shape[1:]) != self.spectrogram_shape:
            notes, mels, frames = self.spectrogram_shape
            frontend = self._frontend_config
            raise ModelInputError(
                f"spectrogram shape {tuple(spectrogram.shape)}: expected (batch, {notes}, {mels}, {frames}) = "
                f"{notes} note(s) x {mels} mel bands x {frames} frames ({frontend.num_samples} samples at "
                f"{frontend.sample_rate} Hz, hop {frontend.hop}); render the model's note set and pad or "
                "trim the audio to that length"
            )


def state_dict_bytes(module: nn.Module) -> int:
    """Bytes of the tensors in ``module.state_dict()`` (parameters and buffers): its size on disk
    before container overhead."""
    return sum(tensor.numel() * tensor.element_size() for tensor in module.state_dict().values())
