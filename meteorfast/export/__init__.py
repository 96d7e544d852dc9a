"""torch -> ONNX with the Grad-CAM outputs inside the graph (needs the ``[train]`` extra).

The graph takes ``frames``: uint8 ``[N, C, H, W]`` (NCHW, raw 0-255 pixels, C = 1 for grey; N is dynamic) and
returns, by name:

=============  ========================  =========================================================================
``logits``     float32 ``[N, classes]``  class scores; class 1 is "meteor"
``prob``       float32 ``[N]``           softmax probability of "meteor"
``features``   float32 ``[N, K, h, w]``  A, the output of the model's ``cam_layer`` (last conv block)
``grad``       float32 ``[N, K, h, w]``  d logit_meteor / dA, exact (the head's vector-Jacobian product)
``cam_weights`` float32 ``[N, K]``       ``grad`` averaged over positions: Grad-CAM's channel weights
``conv1_map``  float32 ``[N, 1, H1, W1]`` channel mean of the stem's output, after its activation function (and
                                         for ResNet after the max-pool, as the paper takes it), on the frame's
                                         border pixels repeated outwards (``MeteorNet.fine_map``)
=============  ========================  =========================================================================

``metadata_props`` record the architecture, head, classes, input geometry and normalisation, the CAM layer, the
fine-map stride, the meteorfast version and the weights' sha256 (see :func:`export_onnx`).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meteorfast.errors import ExportError

OUTPUTS = ("logits", "prob", "features", "grad", "cam_weights", "conv1_map")
INPUT = "frames"
OPSET = 18


def cam_graph(model: Any, target: int = 1) -> Any:
    """Wrap a :class:`~meteorfast.models.MeteorNet` as the exported graph: ``frames -> OUTPUTS`` (a tuple)."""
    import torch
    from torch import nn

    from meteorfast.export.gradcam import HeadGradient

    class CamGraph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.head_grad = HeadGradient(model.head, target)

        def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
            features, fine = self.model.forward_features(frames)
            logits, grad, weights = self.head_grad(features)
            prob = torch.softmax(logits, dim=1)[:, target]
            conv1_map = self.model.fine_map(frames, (int(fine.shape[2]), int(fine.shape[3])))
            return logits, prob, features, grad, weights, conv1_map

    return CamGraph().eval()


def metadata(
    model: Any, input_size: Sequence[int], fine_size: Sequence[int], feature_size: Sequence[int]
) -> dict[str, str]:
    """The ``metadata_props`` written into the graph (all values strings; JSON where structured)."""
    from meteorfast import __version__
    from meteorfast.models import CLASS_NAMES

    return {
        "meteorfast.version": __version__,
        "meteorfast.arch": model.arch,
        "meteorfast.head": model.head_name,
        "meteorfast.class_names": json.dumps(list(CLASS_NAMES[: model.num_classes])),
        "meteorfast.meteor_class": "1",
        "meteorfast.input": json.dumps(
            {
                "name": INPUT,
                "dtype": "uint8",
                "layout": "NCHW",
                "channels": model.in_chans,
                "height": int(input_size[0]),
                "width": int(input_size[1]),
                "range": [0, 255],
            }
        ),
        "meteorfast.normalization": json.dumps(
            {"mean": list(model.mean), "std": list(model.std), "inside_graph": True}
        ),
        "meteorfast.outputs": json.dumps(list(OUTPUTS)),
        "meteorfast.cam_layer": json.dumps(
            {"features": model.features, "height": int(feature_size[0]), "width": int(feature_size[1])}
        ),
        "meteorfast.conv1": json.dumps(
            {
                "height": int(fine_size[0]),
                "width": int(fine_size[1]),
                "stride_y": input_size[0] / fine_size[0],
                "stride_x": input_size[1] / fine_size[1],
                "taken_after": model.fine_after,
            }
        ),
        "meteorfast.weights_sha256": model.weights_sha256(),
    }


def export_onnx(
    model: Any,
    path: str | Path,
    input_size: Sequence[int] = (224, 224),
    *,
    target: int = 1,
    opset: int = OPSET,
) -> Path:
    """Export ``model`` (a :class:`~meteorfast.models.MeteorNet`) to ``path`` with the Grad-CAM outputs.

    The file is written whole or not at all. Returns the path.
    """
    import torch

    from meteorfast.io import atomic_write_bytes

    if opset < 17:
        raise ExportError(f"export: expected opset >= 17, got {opset}")
    if len(input_size) != 2 or min(input_size) < 16:
        raise ExportError(f"export: expected input_size (height, width) of at least 16 px, got {tuple(input_size)}")
    graph = cam_graph(model.eval(), target)
    h, w = int(input_size[0]), int(input_size[1])
    dummy = torch.randint(0, 256, (2, model.in_chans, h, w), dtype=torch.uint8)
    with torch.no_grad():
        _, _, features, _, _, fine = graph(dummy)
    batch = torch.export.Dim("N", min=1, max=4096)
    # The exporter logs notes on operators it skips (torchvision's, unused here) and torch's own deprecations;
    # they say nothing about this graph, so they are kept off the user's terminal. Errors still raise.
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            program = torch.onnx.export(
                graph,
                (dummy,),
                dynamo=True,
                input_names=[INPUT],
                output_names=list(OUTPUTS),
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                optimize=True,
                verbose=False,
            )
    except ImportError as err:
        raise ExportError(
            f'export: the ONNX exporter needs onnx and onnxscript ({err}); pip install "meteorfast[train]"'
        ) from err
    finally:
        onnx_log.setLevel(level)
    if program is None:
        raise ExportError("export: torch.onnx.export returned no program; expected an ONNXProgram with dynamo=True")
    proto = program.model_proto
    props = metadata(model, (h, w), tuple(fine.shape[2:]), tuple(features.shape[2:]))
    from onnx.helper import set_model_props  # importable here: the exporter above needs onnx

    set_model_props(proto, props)
    return atomic_write_bytes(path, proto.SerializeToString())


__all__ = ["INPUT", "OPSET", "OUTPUTS", "cam_graph", "export_onnx", "metadata"]
