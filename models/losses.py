"""The training losses (after Le Vaillant, Dutoit, Dekeyser, DAFx 2021)::

    loss/total = loss/spec + beta(epoch) * loss/kl + loss/param

- ``loss/spec``: mean squared error of the decoder's spectrogram vs the input, over every bin.
- ``loss/kl``: the flow KL estimate ``log q(z0|x) - log|det dzK/dz0| - log N(zK; 0, I)`` at the
  sampled z0, averaged over the batch and **divided by the latent dimension** (a per-dimension
  KL: it keeps beta comparable across representations of 144, 224 or 610 dimensions).
- ``loss/param`` = ``loss/num`` + ``loss/cat``: the mean squared error over the representation's
  numerical slots plus the mean cross-entropy of every one-hot group with logits = output slice /
  ``cat_temperature``. Each mean is over the terms that count: a parameter of an operator whose
  target output level is 0 (a silent operator) gives no loss; its output level still does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from models.config import TrainConfig
from models.errors import TrainingError
from models.networks import SoundToVoiceOutput
from models.params import BY_INDEX, BY_NAME, LEARNABLE
from models.representations import Representation, get_representation

LOSS_KEYS = ("loss/total", "loss/spec", "loss/kl", "loss/param", "loss/num", "loss/cat")


def beta(epoch: int, config: TrainConfig) -> float:
    """KL weight of 0-based ``epoch``: linear from ``beta_start`` (epoch 0) to ``beta_end`` (epoch
    ``beta_warmup_epochs``), constant after."""
    if config.beta_warmup_epochs == 0:
        return config.beta_end
    progress = min(epoch / config.beta_warmup_epochs, 1.0)
    return config.beta_start + (config.beta_end - config.beta_start) * progress


@dataclass(frozen=True)
class _LossLayout:
    """Index tensors of a representation for the parameter loss, on one device.

    A gate is 0 for "always counts" or the operator number k (1-6) for a parameter of operator
    k other than its output level (counts only while that operator is audible); ``level_slots``
    are the numerical slots of the operators' output levels, in operator order.
    """

    numerical_slots: torch.Tensor  # (N,)
    numerical_gates: torch.Tensor  # (N,)
    level_slots: torch.Tensor  # (6,)
    blocks: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per group size: slots (G, C), gates (G,)


@functools.cache
def _layout(name: str, device: torch.device) -> _LossLayout:
    representation = get_representation(name)
    operators = sorted({p.op for p in LEARNABLE if p.op is not None})
    level_params = [BY_NAME[f"op{op}_output_level"].index for op in operators]

    def gate(index: int) -> int:
        op = BY_INDEX[index].op
        return 0 if op is None or index in level_params else op

    def tensor(values: object) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64, device=device)

    numerical = list(representation.numerical_params)
    slots = representation.numerical_slots.tolist()
    blocks = []
    for classes in sorted({g.classes for g in representation.groups}):
        same = [g for g in representation.groups if g.classes == classes]
        blocks.append((tensor([[g.start + k for k in range(classes)] for g in same]), tensor([gate(g.index) for g in same])))
    return _LossLayout(
        numerical_slots=tensor(slots),
        numerical_gates=tensor([gate(index) for index in numerical]),
        level_slots=tensor([slots[numerical.index(index)] for index in level_params]),  # a scalar slot in every layout
        blocks=tuple(blocks),
    )


def compute_losses(
    output: SoundToVoiceOutput,
    target_spec: torch.Tensor,
    target_params: torch.Tensor,
    representation: Representation,
    beta: float,
    cat_temperature: float,
) -> dict[str, torch.Tensor]:
    """The training losses of one batch (see the module docstring).

    Args:
        output: the model's forward pass; needs the decoder's spectrogram.
        target_spec: the input spectrograms (batch, notes, n_mels, frames).
        target_params: the target representation vectors (batch, size).
        representation: the layout of ``target_params``.
        beta: weight of ``loss/kl`` in ``loss/total``.
        cat_temperature: softmax temperature of the one-hot groups.

    Returns:
        Scalar tensors ``loss/total``, ``loss/spec``, ``loss/kl``, ``loss/param`` (= ``loss/num``
        + ``loss/cat``), ``loss/num``, ``loss/cat``.

    Raises:
        TrainingError: the output has no spectrogram (model built without its decoder).
    """
    if output.spectrogram is None:
        raise TrainingError("the model has no decoder (model.decoder = false): training needs it for loss/spec")
    spec = F.mse_loss(output.spectrogram, target_spec)
    log_q = -0.5 * (output.logvar + (output.z0 - output.mu) ** 2 * torch.exp(-output.logvar))
    log_prior = -0.5 * output.z_k**2  # the log(2 pi) terms of both Gaussians cancel
    kl = (log_q.sum(1) - output.log_det - log_prior.sum(1)).mean() / output.mu.shape[1]
    layout = _layout(representation.name, target_params.device)
    audible = target_params[:, layout.level_slots] > 0
    gates = torch.cat([torch.ones_like(audible[:, :1]), audible], dim=1).to(target_params.dtype)  # (B, 7)
    slots = layout.numerical_slots
    weight = gates[:, layout.numerical_gates]
    squared = (output.params[:, slots] - target_params[:, slots]) ** 2
    numerical = (squared * weight).sum() / weight.sum().clamp(min=1.0)
    ce_sum, ce_count = target_params.new_zeros(()), target_params.new_zeros(())
    for block_slots, block_gates in layout.blocks:
        logits = output.params[:, block_slots] / cat_temperature  # (B, G, C)
        classes = target_params[:, block_slots].argmax(dim=2)
        ce = F.cross_entropy(logits.transpose(1, 2), classes, reduction="none")  # (B, G)
        weight = gates[:, block_gates]
        ce_sum, ce_count = ce_sum + (ce * weight).sum(), ce_count + weight.sum()
    categorical = ce_sum / ce_count.clamp(min=1.0)
    param = numerical + categorical
    total = spec + beta * kl + param
    return {"loss/total": total, "loss/spec": spec, "loss/kl": kl, "loss/param": param,
            "loss/num": numerical, "loss/cat": categorical}
