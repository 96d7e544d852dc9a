"""Building blocks shared by the model zoo: in-graph normalisation, TF-style "same" convolutions, and the heads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    """Raw pixels in, normalised float out: ``(float(x) - mean) / std`` per channel.

    ``x``: uint8 or float ``[N,C,H,W]`` holding 0-255 values. Living in ``forward``, it makes the torch module and
    the exported graph see identical inputs (the engine is fed uint8).
    """

    mean: torch.Tensor
    inv_std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        # Not persistent: the statistics belong to the architecture, not to a weights file.
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer(
            "inv_std", 1.0 / torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float32) - self.mean) * self.inv_std


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (asymmetric for even inputs at stride 2), which the EfficientNet-Lite
    weights were trained with. The pads depend only on H and W, which are fixed in an exported graph."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for size, k, s, d in zip(
            (x.shape[-1], x.shape[-2]), self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1], strict=True
        ):
            total = max((math.ceil(int(size) / s) - 1) * s + (k - 1) * d + 1 - int(size), 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConcatPool(nn.Module):
    """fastai's AdaptiveConcatPool2d: ``cat([max_pool(x), avg_pool(x)], 1)`` -> ``[N, 2K, 1, 1]`` (max first, as
    fastai orders it, so fastai-trained heads load unchanged)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1)


def gap_head(features: int, num_classes: int) -> nn.Sequential:
    """Global average pool, then linear: ``[N,K,h,w] -> [N,num_classes]``."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(features, num_classes))


def fastai_head(features: int, num_classes: int, hidden: int = 512, p: float = 0.5) -> nn.Sequential:
    """fastai's default head (``create_head``), the one the paper's model had, with fastai's indices so its state
    dict keys load: concat pool, flatten, BN, dropout p/2, linear (no bias), ReLU, BN, dropout p, linear (no bias).
    """
    return nn.Sequential(
        ConcatPool(),
        nn.Flatten(1),
        nn.BatchNorm1d(2 * features),
        nn.Dropout(p / 2),
        nn.Linear(2 * features, hidden, bias=False),
        nn.ReLU(inplace=False),
        nn.BatchNorm1d(hidden),
        nn.Dropout(p),
        nn.Linear(hidden, num_classes, bias=False),
    )


HEADS = {"gap": gap_head, "fastai": fastai_head}
