"""Verifier graphs as files: a graph with a :class:`~meteorfast.verify.VerifySpec` stored (:func:`write_spec`), and
several verifiers merged into one graph (:func:`merge`, ``meteorfast merge-verifiers``). Needs ``onnx``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meteorfast.errors import InputError
from meteorfast.verify import VERIFY_KEY, VerifySpec, read_spec


def write_spec(src: str | Path, dst: str | Path, spec: VerifySpec) -> Path:
    """Copy the ONNX graph ``src`` to ``dst`` with ``spec`` stored under :data:`VERIFY_KEY` (needs ``onnx``)."""
    from meteorfast.calibration import copy_with_metadata

    return copy_with_metadata(src, dst, lambda _: {VERIFY_KEY: spec.to_json()}, "verifier")


MEMBERS_KEY = "meteorfast.verify.members"


def merge(paths: Sequence[str | Path], dst: str | Path, first_weight: float = 0.0) -> Path:
    """Write to ``dst`` one verifier graph made of the verifier graphs ``paths`` (two or more, trained behind the
    same first look, with the same band, modes and channels; needs ``onnx``).

    Its input ``frames`` (uint8 ``[N, C, H, W]``) is a crop of the largest members' size, ``H = max h``, ``W = max
    w``; each member sees the centre ``h x w`` of it, which is the member's own crop around the same point except
    within ``H / 2`` or ``W / 2`` of the frame's edge, where the larger crop is moved inside the frame and the
    member's view with it. Its ``prob`` (float32 ``[N]``) is the mean of the members'. Its spec is theirs with
    ``first_weight``; no threshold is stored (``meteorfast calibrate --verifier`` sets one), and the members' sizes
    and weights' sha256 are kept under :data:`MEMBERS_KEY`.
    """
    try:
        import onnx
        from onnx import TensorProto, helper
        from onnx.compose import add_prefix
        from onnx.utils import Extractor
    except ImportError as err:
        from meteorfast.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f'merge-verifiers: building the graph needs onnx ({err}); pip install "meteorfast[train]"'
        ) from err
    from meteorfast.io import atomic_write_bytes

    if len(paths) < 2:
        raise InputError(f"merge-verifiers: expected two or more verifier graphs, got {len(paths)}")
    models: list[Any] = []
    specs: list[VerifySpec] = []
    sizes, metas, opsets = [], [], []
    for path in paths:
        if Path(path).suffix.lower() != ".onnx" or not Path(path).is_file():
            raise InputError(f"merge-verifiers: expected an existing verifier .onnx, got {str(path)!r}")
        model = onnx.load(str(path))
        meta = {p.key: p.value for p in model.metadata_props}
        spec = read_spec(meta)
        inputs = {i.name: i for i in model.graph.input}
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs["frames"].type.tensor_type.shape.dim] \
            if "frames" in inputs else []  # fmt: skip
        if spec is None or len(dims) != 4 or None in dims[1:] or "prob" not in {o.name for o in model.graph.output}:
            raise InputError(
                f"merge-verifiers: expected a verifier graph (input 'frames' of a fixed size, output 'prob', "
                f"{VERIFY_KEY} in its metadata), got {str(path)!r} with inputs {sorted(inputs)} and "
                f"{'no' if spec is None else 'a'} {VERIFY_KEY}; train one with `meteorfast train --verifier-for MODEL`"
            )
        opsets.append({o.domain: o.version for o in model.opset_import})
        if opsets[-1] != opsets[0]:
            raise InputError(
                f"merge-verifiers: expected one ONNX opset, got {opsets[-1]} for {str(path)!r} and {opsets[0]} for "
                f"{str(paths[0])!r}; export them with one meteorfast version"
            )
        models.append(model)
        specs.append(spec)
        metas.append(meta)
        sizes.append((int(dims[1]), int(dims[2]), int(dims[3])))  # type: ignore[arg-type]
    first = specs[0]
    for path, spec, size in zip(paths, specs, sizes, strict=True):
        if (spec.low, spec.high, spec.modes, spec.first_look) != (first.low, first.high, first.modes, first.first_look):
            raise InputError(
                f"merge-verifiers: expected verifiers with one band, modes and first look, got [{first.low}, "
                f"{first.high}) {list(first.modes)} for {str(paths[0])!r} and [{spec.low}, {spec.high}) "
                f"{list(spec.modes)} for {str(path)!r} (first looks {first.first_look[:12]}, "
                f"{spec.first_look[:12]}); merge verifiers trained behind the same model"
            )
        if size[0] != sizes[0][0]:
            raise InputError(
                f"merge-verifiers: expected one channel count, got {sizes[0][0]} and {size[0]} ({str(path)!r})"
            )
    height, width = max(s[1] for s in sizes), max(s[2] for s in sizes)
    nodes, inits, probs = [], [], []
    for i, (model, (_, h, w)) in enumerate(zip(models, sizes, strict=True)):
        sub = add_prefix(Extractor(model).extract_model(["frames"], ["prob"]), f"m{i}/")
        top, left = (height - h) // 2, (width - w) // 2
        inits += [
            helper.make_tensor(f"m{i}/starts", TensorProto.INT64, [2], [top, left]),
            helper.make_tensor(f"m{i}/ends", TensorProto.INT64, [2], [top + h, left + w]),
            helper.make_tensor(f"m{i}/axes", TensorProto.INT64, [2], [2, 3]),
            helper.make_tensor(f"m{i}/flat", TensorProto.INT64, [1], [-1]),
        ]
        nodes.append(
            helper.make_node("Slice", ["frames", f"m{i}/starts", f"m{i}/ends", f"m{i}/axes"], [f"m{i}/frames"])
        )
        nodes += list(sub.graph.node)
        inits += list(sub.graph.initializer)
        nodes.append(helper.make_node("Reshape", [f"m{i}/prob", f"m{i}/flat"], [f"m{i}/p"]))
        probs.append(f"m{i}/p")
    inits.append(helper.make_tensor("inv_members", TensorProto.FLOAT, [], [1 / len(models)]))
    nodes += [
        helper.make_node("Sum", probs, ["prob_sum"]),
        helper.make_node("Mul", ["prob_sum", "inv_members"], ["prob"]),
    ]
    graph = helper.make_graph(
        nodes, "meteorfast_verifiers",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["N", sizes[0][0], height, width])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N"])], inits,
    )  # fmt: skip
    merged = helper.make_model(graph, opset_imports=list(models[0].opset_import))
    merged.ir_version = models[0].ir_version
    spec = VerifySpec(first.low, first.high, first.modes, first.first_look, float(first_weight))
    members = [{"path": Path(p).name, "size": [h, w], "weights_sha256": meta.get("meteorfast.weights_sha256", "")}
               for p, meta, (_, h, w) in zip(paths, metas, sizes, strict=True)]  # fmt: skip
    entries = {VERIFY_KEY: spec.to_json(), MEMBERS_KEY: json.dumps(members)}
    if "meteorfast.input" in metas[0]:  # the first member's input, at the merged crop's size
        entries["meteorfast.input"] = json.dumps({**json.loads(metas[0]["meteorfast.input"]), "height": height,
                                                  "width": width})  # fmt: skip
    helper.set_model_props(merged, entries)
    onnx.checker.check_model(merged)
    return atomic_write_bytes(dst, merged.SerializeToString())


__all__ = ["MEMBERS_KEY", "merge", "write_spec"]
