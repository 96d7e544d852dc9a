"""The meteor logit's gradient with respect to the Grad-CAM target A, written as forward ops.

ONNX Runtime and TensorRT cannot backpropagate, so the exported graph computes ``d logit_meteor / dA`` itself: the
analytic vector-Jacobian product of the head, layer by layer in reverse. The head must start with a global pooling
layer (after it everything acts on vectors), and every layer must be one of :data:`SUPPORTED`; anything else is
refused with :class:`~meteorfast.errors.ExportError` naming what is supported.

Rules (eval mode): Linear -> ``g @ W``; BatchNorm1d -> ``g * gamma / sqrt(var + eps)``; Dropout, Identity -> ``g``;
ReLU -> ``g * (x > 0)``; Flatten -> reshape. Pooling backward: average spreads ``g / (h*w)`` over the map; max writes
``g`` at the first argmax position (torch's own choice of index on ties, which are common after a ReLU); fastai's
concat pool does both on its halves.
"""

from __future__ import annotations

import torch
from torch import nn

from meteorfast.errors import ExportError
from meteorfast.models.layers import ConcatPool

VECTOR_LAYERS = (nn.Linear, nn.BatchNorm1d, nn.Dropout, nn.ReLU, nn.Identity, nn.Flatten)
POOL_LAYERS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, ConcatPool)
SUPPORTED = (
    "AdaptiveAvgPool2d(1), AdaptiveMaxPool2d(1) or ConcatPool first; then Flatten(1), Linear, BatchNorm1d (eval), "
    "Dropout, ReLU, Identity"
)


def _layers(head: nn.Module) -> list[nn.Module]:
    layers = list(head) if isinstance(head, nn.Sequential) else [head]
    if not layers or not isinstance(layers[0], POOL_LAYERS):
        raise ExportError(
            f"export: expected a head starting with a global pooling layer, got "
            f"{type(layers[0]).__name__ if layers else 'an empty head'}; supported: {SUPPORTED}"
        )
    pool = layers[0]
    if isinstance(pool, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and pool.output_size not in (1, (1, 1)):
        raise ExportError(f"export: expected global pooling (output size 1), got {pool}; supported: {SUPPORTED}")
    for layer in layers[1:]:
        if not isinstance(layer, VECTOR_LAYERS):
            raise ExportError(
                f"export: the head holds {type(layer).__name__}, which the gradient writer does not support; "
                f"supported: {SUPPORTED}"
            )
        if isinstance(layer, nn.Flatten) and layer.start_dim != 1:
            raise ExportError(f"export: expected Flatten(start_dim=1), got {layer}")
        if isinstance(layer, nn.BatchNorm1d) and (layer.running_var is None or layer.running_mean is None):
            raise ExportError("export: expected BatchNorm1d with running statistics (track_running_stats=True)")
    return layers


def _first_argmax_onehot(a: torch.Tensor) -> torch.Tensor:
    """``a: [N,K,h,w]`` -> float one-hot ``[N,K,h,w]`` at each channel's first maximum (row-major)."""
    flat = a.flatten(2)
    idx = flat.argmax(dim=-1, keepdim=True)
    positions = torch.arange(flat.shape[-1], device=a.device).view(1, 1, -1)
    return (positions == idx).to(a.dtype).view_as(a)


class HeadGradient(nn.Module):
    """``forward(A) -> (logits [N,C], grad [N,K,h,w], cam_weights [N,K])`` for class ``target``.

    ``cam_weights`` is ``grad`` averaged over positions (Grad-CAM's channel weights), computed from the pooled
    gradient so the engine need not read ``grad`` to get it.
    """

    def __init__(self, head: nn.Module, target: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_layers(head))
        self.target = target

    def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pool = self.layers[0]
        x = pool(a)
        inputs: list[torch.Tensor] = []
        for layer in self.layers[1:]:
            inputs.append(x)
            x = layer(x)
        logits = x
        # Seed: d logit_target / d logits, a one-hot row per item.
        g = (torch.arange(logits.shape[1], device=logits.device) == self.target).to(logits.dtype)
        g = g.view(1, -1).expand_as(logits)
        for layer, inp in zip(reversed(list(self.layers[1:])), reversed(inputs), strict=True):
            g = self._vjp(layer, inp, g)
        k = a.shape[1]
        hw = a.shape[2] * a.shape[3]
        g = g.reshape(a.shape[0], -1)
        if isinstance(pool, nn.AdaptiveAvgPool2d):
            weights = g / hw
            grad = weights[:, :, None, None].expand_as(a)
        elif isinstance(pool, nn.AdaptiveMaxPool2d):
            weights = g / hw
            grad = _first_argmax_onehot(a) * g[:, :, None, None]
        else:  # ConcatPool: [max | avg]
            g_max, g_avg = g[:, :k], g[:, k:]
            weights = (g_max + g_avg) / hw
            grad = _first_argmax_onehot(a) * g_max[:, :, None, None] + (g_avg / hw)[:, :, None, None]
        return logits, grad, weights

    @staticmethod
    def _vjp(layer: nn.Module, inp: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        if isinstance(layer, nn.Linear):
            return g @ layer.weight
        if isinstance(layer, nn.BatchNorm1d):
            if layer.running_var is None:
                raise ExportError("export: BatchNorm1d without running statistics")
            scale = torch.rsqrt(layer.running_var + layer.eps)
            if layer.weight is not None:
                scale = scale * layer.weight
            return g * scale
        if isinstance(layer, nn.ReLU):
            return g * (inp > 0).to(g.dtype)
        if isinstance(layer, nn.Flatten):
            return g.reshape(inp.shape)
        return g  # Dropout (eval) and Identity
