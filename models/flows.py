"""RealNVP normalizing flows with an exact inverse (Dinh et al., 2017).

Used twice by :class:`models.networks.SoundToVoice`: the latent flow (z0 -> zK, its log-det
enters the KL term) and the regression flow (zK -> representation vector; its inverse encodes
an existing preset into the latent space). Coupling networks hold no BatchNorm or dropout, so
forward and inverse are exact inverses in train and eval mode alike.
"""

from __future__ import annotations

import torch
from torch import nn

from models.errors import ConfigError


class CouplingLayer(nn.Module):
    """Affine coupling: half the features (alternating by index parity) scale and shift the other.

    ``y_t = x_t * exp(s(x_c)) + t(x_c)``, ``y_c = x_c``, with the log-scale softly bounded to
    (-max_log_scale, max_log_scale) by a tanh so no layer can blow up. The last linear layer
    starts at zero: a fresh layer is the identity.
    """

    def __init__(self, dim: int, hidden: int, hidden_layers: int, parity: int, max_log_scale: float) -> None:
        """
        Args:
            dim: number of features (>= 2).
            hidden: width of the coupling network.
            hidden_layers: hidden layers of the coupling network (>= 1).
            parity: 0 conditions on even indices and transforms odd ones; 1 the reverse.
            max_log_scale: bound of the per-feature log-scale.
        """
        super().__init__()
        index = torch.arange(dim)
        conditioner, transformed = index[index % 2 == parity], index[index % 2 != parity]
        self.register_buffer("conditioner_index", conditioner, persistent=False)
        self.register_buffer("transformed_index", transformed, persistent=False)
        self.register_buffer("unshuffle_index", torch.argsort(torch.cat([conditioner, transformed])), persistent=False)
        self.max_log_scale = max_log_scale
        layers: list[nn.Module] = []
        width = len(conditioner)
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        last = nn.Linear(width, 2 * len(transformed))
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(conditioning half, transformed half, log-scale, shift)."""
        conditioning = x.index_select(1, self.conditioner_index)
        raw_log_scale, shift = self.net(conditioning).chunk(2, dim=1)
        log_scale = self.max_log_scale * torch.tanh(raw_log_scale / self.max_log_scale)
        return conditioning, x.index_select(1, self.transformed_index), log_scale, shift

    def _merge(self, conditioning: torch.Tensor, transformed: torch.Tensor) -> torch.Tensor:
        return torch.cat([conditioning, transformed], dim=1).index_select(1, self.unshuffle_index)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, log|det dy/dx|) for x of shape (batch, dim); log-det shape (batch,)."""
        conditioning, transformed, log_scale, shift = self._split(x)
        return self._merge(conditioning, transformed * torch.exp(log_scale) + shift), log_scale.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """x such that ``forward(x)[0] == y``."""
        conditioning, transformed, log_scale, shift = self._split(y)
        return self._merge(conditioning, (transformed - shift) * torch.exp(-log_scale))


class RealNVP(nn.Module):
    """A stack of affine couplings with alternating parities: a bijection of R^dim."""

    def __init__(self, dim: int, layers: int, hidden: int, hidden_layers: int = 1, max_log_scale: float = 2.0) -> None:
        """
        Args:
            dim: number of features (>= 2).
            layers: coupling layers; layer k conditions on the features of parity k % 2.
            hidden: width of each coupling network.
            hidden_layers: hidden layers per coupling network.
            max_log_scale: bound of each layer's log-scale.

        Raises:
            ConfigError: ``dim`` < 2 (a coupling needs two halves).
        """
        super().__init__()
        if dim < 2:
            raise ConfigError(f"RealNVP dim = {dim}: a coupling flow needs >= 2 features")
        self.dim = dim
        self.couplings = nn.ModuleList(
            CouplingLayer(dim, hidden, hidden_layers, parity=k % 2, max_log_scale=max_log_scale)
            for k in range(layers)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, summed log|det|) for x of shape (batch, dim)."""
        log_det = x.new_zeros(x.shape[0])
        for coupling in self.couplings:
            x, layer_log_det = coupling(x)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """The exact inverse of :meth:`forward` (up to float rounding)."""
        for coupling in reversed(self.couplings):
            y = coupling.inverse(y)
        return y
