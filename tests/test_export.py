"""The exported graph against torch: logits, features, the first-layer map, the exact head gradient (autograd is the
judge), and the CAM the native kernels compute from the graph's outputs against Grad-CAM done with autograd hooks.

Tolerances: logits rel 1e-4; features and conv1_map 1e-4 of their scale; grad max-abs <= 1e-5 * max|grad| + 1e-6;
CAM 1e-4 (all float32 through ONNX Runtime's CPU kernels).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (the [train] extra) is needed to build and export models")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import meteorfast.cam as mc  # noqa: E402
from meteorfast.errors import ExportError, InputError  # noqa: E402
from meteorfast.export import OUTPUTS, export_onnx  # noqa: E402
from meteorfast.models import create  # noqa: E402

CASES = [
    ("tiny", "gap", False, (64, 64)),
    ("tiny", "fastai", False, (64, 64)),
    ("resnet18", "gap", False, (224, 224)),
    ("resnet18", "fastai", False, (224, 224)),
    ("resnet34", "gap", False, (224, 224)),
    ("resnet34", "fastai", False, (224, 224)),
    ("efficientnet_lite0", "gap", False, (224, 224)),
    ("efficientnet_lite0", "fastai", False, (224, 224)),
    ("efficientnet_lite0", "gap", True, (224, 224)),
    ("efficientnet_lite0", "fastai", True, (224, 224)),
    ("efficientnet_lite0_s16", "gap", True, (160, 160)),
]


def randomise(model: Any, seed: int) -> Any:
    """Random weights everywhere, and non-trivial BN statistics, so eval-mode BN is not an identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.uniform_(-0.2, 0.2, generator=gen)
        for module in model.head.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 0.05, generator=gen)
    return model


def balance_head(model: Any, x: np.ndarray) -> Any:
    """``model`` with the meteor row of its head's last Linear layer made orthogonal to the directions in which that
    row moves the mean over its cells of each frame of ``x``'s raw Grad-CAM (weighted sum, before the ReLU). That mean
    is linear in the row, so afterwards it is zero on every frame: each frame's CAM takes both signs, and after the
    ReLU has cells at zero and cells above. Random weights otherwise often give a raw CAM of one sign over the whole
    frame, whose ReLU is all zeros or never acts: a map that any Grad-CAM, right or wrong, would match."""
    features, _ = model.forward_features(torch.from_numpy(x))
    a = features.detach().requires_grad_(True)
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    (grad,) = torch.autograd.grad(model.head(a)[:, 1].sum(), a, create_graph=True)  # eval mode: frames independent
    mean_cam = (grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1).mean(dim=(1, 2))
    basis: list[Any] = []
    for m in mean_cam:
        (v,) = torch.autograd.grad(m, last.weight, retain_graph=True)
        v = v[1].detach().double()
        for b in basis:
            v = v - (v @ b) * b
        if float(v.norm()) > 1e-12:
            basis.append(v / v.norm())
    with torch.no_grad():
        row = last.weight[1].double()
        for b in basis:
            row = row - (row @ b) * b
        last.weight[1] = row.float()
    return model


def build(arch: str, head: str, pretrained: bool, balance_on: np.ndarray | None = None) -> Any:
    """The model of a case, in eval mode; ``balance_on``: frames whose Grad-CAM :func:`balance_head` makes take both
    signs."""
    torch.manual_seed(0)
    model = create(arch, pretrained=pretrained, head=head)
    if pretrained:  # keep the ImageNet body; only the new head is random
        with torch.no_grad():
            for module in model.head.modules():
                if isinstance(module, torch.nn.BatchNorm1d):
                    module.running_var.uniform_(0.5, 2.0)
        model.eval()
    else:
        randomise(model, 1).eval()
    return model if balance_on is None else balance_head(model, balance_on)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}{'-pretrained' if c[2] else ''}")
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, tuple]:
    arch, head, pretrained, size = request.param
    model = build(arch, head, pretrained, balance_on=frames(4, size, seed=CAM_SEED))
    path = tmp_path_factory.mktemp("onnx") / f"{arch}-{head}.onnx"
    export_onnx(model, path, size)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return model, session, size


def frames(n: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """Night-sky-like frames: dark noise, a few stars, one bright streak (so the CAM has something to find)."""
    rng = np.random.default_rng(seed)
    img = rng.normal(30, 8, (n, 1, *size)).clip(0, 255)
    for i in range(n):
        y0, x0 = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
        for t in range(size[0] // 3):
            img[i, 0, min(y0 + t, size[0] - 1), min(x0 + t, size[1] - 1)] = 250
        img[i, 0, rng.integers(0, size[0], 5), rng.integers(0, size[1], 5)] = 200
    return img.astype(np.uint8)


CAM_SEED = 7  # the frames the CAM is checked on, and whose CAM the head is balanced on
EDGE = 32  # a multiple of every stem's stride, and wider than any stem's reach


def edge_extended_map(model: Any, x: np.ndarray, fine_shape: tuple[int, ...]) -> np.ndarray:
    """The map the graph promises, by another road: the plain forward pass on a larger frame whose extra border
    repeats the edge pixels (so the stem's own padding lies beyond the reach of every kept cell), cropped back."""
    big = np.pad(x, ((0, 0), (0, 0), (EDGE, EDGE), (EDGE, EDGE)), mode="edge")
    stride = x.shape[2] // fine_shape[2]
    _, fine = model.forward_features(torch.from_numpy(big))
    k = EDGE // stride
    crop = fine[:, :, k : k + fine_shape[2], k : k + fine_shape[3]]
    return crop.mean(1, keepdim=True).detach().numpy()


def torch_reference(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Everything the graph promises, computed in torch, with the gradient from autograd."""
    t = torch.from_numpy(x)
    features, fine = model.forward_features(t)
    features = features.detach().requires_grad_(True)
    logits = model.head(features)
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), features)
    return {
        "logits": logits.detach().numpy(),
        "prob": torch.softmax(logits, 1)[:, 1].detach().numpy(),
        "features": features.detach().numpy(),
        "grad": grad.numpy(),
        "conv1_map": edge_extended_map(model, x, tuple(fine.shape)),
    }


def autograd_grad_at(model: Any, features: np.ndarray) -> np.ndarray:
    a = torch.from_numpy(features).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.head(a)[:, 1].sum(), a)
    return grad.numpy()


def run(session: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(OUTPUTS, session.run(list(OUTPUTS), {"frames": x}), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3, 17])
def test_graph_matches_torch(exported: tuple, batch: int) -> None:
    model, session, size = exported
    x = frames(batch, size, seed=batch)
    got = run(session, x)
    want = torch_reference(model, x)
    assert got["logits"].shape == (batch, 2)
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-4, atol=1e-4 * np.abs(want["logits"]).max())
    np.testing.assert_allclose(got["prob"], want["prob"], atol=1e-5)
    for name in ("features", "conv1_map"):
        scale = np.abs(want[name]).max()
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-4 * scale + 1e-6, err_msg=name)
    # The gradient the graph wrote, against autograd at the very same A (so an argmax near-tie in A cannot differ).
    grad_ref = autograd_grad_at(model, got["features"])
    assert got["grad"].shape == got["features"].shape
    np.testing.assert_allclose(got["grad"], grad_ref, rtol=0, atol=1e-5 * np.abs(grad_ref).max() + 1e-6)
    np.testing.assert_allclose(
        got["cam_weights"], grad_ref.mean(axis=(2, 3)), rtol=0, atol=1e-5 * np.abs(grad_ref).max() + 1e-6
    )
    assert got["conv1_map"].shape[1] == 1


def test_conv1_map_has_no_border_ridge(exported: tuple) -> None:
    """On a flat dark frame the map is flat. The stem's zero padding, which the trunk does see, is mid-grey once
    normalised: taken from there, the edge cells would form a ridge brighter than a faint meteor."""
    model, session, size = exported
    x = np.full((1, 1, *size), 12, np.uint8)
    got = run(session, x)["conv1_map"][0, 0]
    _, fine = model.forward_features(torch.from_numpy(x))
    padded = fine.mean(1)[0].detach().numpy()
    scale = np.abs(padded).max()
    assert np.ptp(padded) > 1e-3 * scale  # the ridge is there to be removed
    assert np.ptp(got) <= 1e-5 * scale + 1e-6
    np.testing.assert_allclose(got[2:-2, 2:-2], padded[2:-2, 2:-2], rtol=0, atol=1e-5 * scale + 1e-6)


def grad_cam_with_hooks(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM as pytorch-grad-cam does it, with torch autograd: a forward hook on ``cam_layer`` (the last conv
    block) keeps A from the whole model's forward pass, ``torch.autograd.grad`` gives dlogit/dA; weights = mean
    gradient, weighted sum (returned raw too), ReLU, per-image min-max with eps 1e-7."""
    store: dict[str, torch.Tensor] = {}

    def keep(_module: Any, _inp: Any, out: torch.Tensor) -> None:
        store["a"] = out

    handle = model.cam_layer.register_forward_hook(keep)
    try:
        logits = model(torch.from_numpy(x))
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), store["a"])
    a, g = store["a"].detach().numpy(), grad.numpy()
    raw = (g.mean(axis=(2, 3))[:, :, None, None] * a).sum(axis=1)
    cam = np.maximum(raw, 0)
    cam = cam - cam.min(axis=(1, 2), keepdims=True)
    return cam / (1e-7 + cam.max(axis=(1, 2), keepdims=True)), raw


@pytest.mark.slow
def test_cam_from_graph_outputs_equals_autograd_grad_cam(exported: tuple) -> None:
    """On frames with a bright streak, and maps with structure: each frame's raw CAM takes both signs, strongly
    (its highest cell at least a tenth as far from zero as its lowest, and the reverse), so the ReLU sets some cells
    to zero and leaves others well above it, and the map is far from flat."""
    model, session, size = exported
    x = frames(4, size, seed=CAM_SEED)
    got = run(session, x)
    want, raw = grad_cam_with_hooks(model, x)
    for i in range(len(x)):
        hi, lo = float(raw[i].max()), float(raw[i].min())
        assert hi > 0.1 * -lo > 0, (i, hi, lo)
        assert -lo > 0.1 * hi, (i, hi, lo)
        assert (want[i] == 0).sum() >= 3, (i, want[i])  # cells the ReLU set to zero
        assert (want[i] > 0.1).sum() >= 3, (i, want[i])  # and cells well above
        assert want[i].std() > 0.05, i
    np.testing.assert_allclose(mc.grad_cam(got["features"], got["grad"]), want, atol=1e-4)
    np.testing.assert_allclose(mc.grad_cam(got["features"], weights=got["cam_weights"]), want, atol=1e-4)


@pytest.mark.slow
def test_metadata_props(exported: tuple) -> None:
    model, session, size = exported
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["meteorfast.arch"] == model.arch
    assert meta["meteorfast.head"] == model.head_name
    assert json.loads(meta["meteorfast.class_names"]) == ["non-meteor", "meteor"]
    geo = json.loads(meta["meteorfast.input"])
    assert (geo["height"], geo["width"], geo["channels"], geo["dtype"], geo["layout"]) == (*size, 1, "uint8", "NCHW")
    norm = json.loads(meta["meteorfast.normalization"])
    assert norm["mean"] == list(model.mean)
    assert norm["inside_graph"] is True
    conv1 = json.loads(meta["meteorfast.conv1"])
    out_shapes = {o.name: o.shape for o in session.get_outputs()}
    assert out_shapes["conv1_map"][2:] == [conv1["height"], conv1["width"]]
    assert conv1["stride_x"] == size[1] / conv1["width"]
    assert meta["meteorfast.weights_sha256"] == model.weights_sha256()
    assert json.loads(meta["meteorfast.outputs"]) == list(OUTPUTS)
    inputs = session.get_inputs()
    assert [(i.name, i.type) for i in inputs] == [("frames", "tensor(uint8)")]
    assert isinstance(inputs[0].shape[0], str)  # dynamic batch


def test_unsupported_head_is_refused(tmp_path: Path) -> None:
    model = create("tiny")
    model.head = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(1), torch.nn.Linear(32, 2), torch.nn.Sigmoid()
    )
    with pytest.raises(
        ExportError, match=r"holds Sigmoid, which the gradient writer does not support; supported: .*Linear"
    ):
        export_onnx(model, tmp_path / "x.onnx", (64, 64))
    model.head = torch.nn.Sequential(torch.nn.Conv2d(32, 2, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(1))
    with pytest.raises(ExportError, match=r"expected a head starting with a global pooling layer, got Conv2d"):
        export_onnx(model, tmp_path / "x.onnx", (64, 64))
    assert not list(tmp_path.iterdir())


def test_bad_create_arguments() -> None:
    with pytest.raises(InputError, match="expected arch one of"):
        create("vgg16")
    with pytest.raises(InputError, match="expected head one of"):
        create("tiny", head="mlp")
    with pytest.raises(InputError, match="no ImageNet weights are shipped for resnet34; pass weights=PATH"):
        create("resnet34", pretrained=True)
    with pytest.raises(InputError, match=r"in_chans 1 .* or 3"):
        create("tiny", in_chans=4)


def test_models_normalise_raw_pixels_inside_forward() -> None:
    model = create("tiny")
    x = torch.randint(0, 256, (2, 1, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), model(x.float()).numpy())


def test_resnet_loads_torchvision_and_fastai_state_dicts(tmp_path: Path) -> None:
    src = randomise(create("resnet18", head="fastai", in_chans=3), 3)
    ours = src.state_dict()
    torchvision_style = {
        k.removeprefix("stem.").removeprefix("trunk."): v for k, v in ours.items() if not k.startswith("head.")
    }
    torchvision_style["fc.weight"] = torch.zeros(1000, 512)
    fastai_style = {}
    body = {
        "stem.conv1": "0.0",
        "stem.bn1": "0.1",
        "trunk.layer1": "0.4",
        "trunk.layer2": "0.5",
        "trunk.layer3": "0.6",
        "trunk.layer4": "0.7",
    }
    for k, v in ours.items():
        if k.startswith("head."):
            fastai_style["1." + k.removeprefix("head.")] = v
        else:
            prefix = next(p for p in body if k.startswith(p + "."))
            fastai_style[body[prefix] + k.removeprefix(prefix)] = v
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        want_features = src.forward_features(x)[0]
        want_logits = src(x)
    torch.save(torchvision_style, tmp_path / "tv.pth")
    torch.save({"model": fastai_style}, tmp_path / "fastai.pth")
    tv = create("resnet18", head="fastai", in_chans=3, weights=tmp_path / "tv.pth")
    fa = create("resnet18", head="fastai", in_chans=3, weights=tmp_path / "fastai.pth")
    with torch.no_grad():
        torch.testing.assert_close(tv.forward_features(x)[0], want_features)
        torch.testing.assert_close(fa(x), want_logits)
    grey = create("resnet18", in_chans=1, weights=tmp_path / "tv.pth")
    torch.testing.assert_close(grey.stem.conv1.weight, ours["stem.conv1.weight"].sum(1, keepdim=True))
    with pytest.raises(InputError, match="does not exist"):
        create("resnet18", weights=tmp_path / "none.pth")
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "bogus.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match=r"unexpected key 'bogus\.weight'"):
        create("resnet18", weights=tmp_path / "bad.pth")


def test_pretrained_lite0_is_imagenet_and_loads_offline() -> None:
    code = """
import socket
def refuse(*args, **kwargs):
    raise RuntimeError("network access attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
import torch
from meteorfast.models import create
m = create("efficientnet_lite0", pretrained=True)
bn = m.stem.bn
assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
head_bn = m.trunk.head[1]
assert head_bn.running_var.std() > 0.01
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_truncated_lite0_takes_the_matching_part_of_a_full_checkpoint(tmp_path: Path) -> None:
    from meteorfast.models import load_weights

    full = randomise(create("efficientnet_lite0"), 5)
    torch.save({"model": full.state_dict()}, tmp_path / "full.pt")
    part = create("efficientnet_lite0_s16")
    assert sum(p.numel() for p in part.parameters()) == 700_418
    assert part.features == 112
    load_weights(part, tmp_path / "full.pt")
    ref = full.state_dict()
    for key, value in part.state_dict().items():
        if not key.startswith("head."):  # the 1280-wide head does not fit 112 features: it keeps its initialisation
            torch.testing.assert_close(value, ref[key], rtol=0, atol=0)
    assert part.state_dict()["head.2.weight"].shape == (2, 112)
    torch.save({"model": {"trunk.blocks.0.bogus": torch.zeros(1)}}, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="does not fit"):
        load_weights(part, tmp_path / "bad.pt")


def test_grey_lite0_equals_rgb_lite0_on_replicated_frames() -> None:
    """Summing the stem over RGB is exact for Lite0 (one normalisation for all channels)."""
    grey = create("efficientnet_lite0", pretrained=True, in_chans=1)
    rgb = create("efficientnet_lite0", pretrained=True, in_chans=3)
    x = torch.from_numpy(frames(2, (224, 224), seed=3))
    with torch.no_grad():
        a = grey.forward_features(x)[0]
        b = rgb.forward_features(x.expand(-1, 3, -1, -1))[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.baseline
def test_pytorch_grad_cam_agrees(tmp_path: Path) -> None:
    """Against pytorch-grad-cam itself ([baseline] extra): GradCAM with ClassifierOutputTarget(1)."""
    pgc = pytest.importorskip("pytorch_grad_cam", reason="pytorch-grad-cam (the [baseline] extra) is not installed")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = frames(3, (224, 224), seed=11)
    model = build("resnet18", "fastai", False, balance_on=x)  # maps of both signs, as in the autograd check
    path = export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = run(session, x)
    with pgc.GradCAM(model=model, target_layers=[model.cam_layer]) as cam:
        want = cam.forward(torch.from_numpy(x).float(), targets=[ClassifierOutputTarget(1)] * 3, eigen_smooth=False)
    # pytorch-grad-cam upsamples to the input size; compare at feature resolution by taking ours up the same way.
    ours = mc.grad_cam(got["features"], got["grad"])
    import cv2

    ours_up = np.stack([cv2.resize(c, (224, 224)) for c in ours])
    ours_up = (ours_up - ours_up.min(axis=(1, 2), keepdims=True)) / (1e-7 + np.ptp(ours_up, axis=(1, 2), keepdims=True))
    assert all(float(w.std()) > 0.05 for w in want)  # maps with structure, which a wrong Grad-CAM would not match
    np.testing.assert_allclose(ours_up, want, atol=1e-3)


def test_cli_export_writes_the_graph(tmp_path: Path) -> None:
    out = tmp_path / "tiny.onnx"
    proc = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "export", "--arch", "tiny", "--input-size", "64", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
    assert str(out) in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "meteorfast.cli", "export", "--arch", "resnet34", "--pretrained", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert bad.returncode == 2
    assert "no ImageNet weights are shipped for resnet34" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_cli_knows_every_architecture() -> None:
    from meteorfast.cli.commands import ARCHS as CLI_ARCHS
    from meteorfast.models import ARCHS

    assert set(CLI_ARCHS) == set(ARCHS)
