"""ONNX Runtime on the CPU: the embedded default backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meteorfast import config
from meteorfast.backends.base import Backend, Dim, TensorSpec
from meteorfast.errors import BackendUnavailableError, InputError, MeteorfastError

if TYPE_CHECKING:
    from typing import Self

    from meteorfast.cam.reference import LocalizeMode

# ONNX Runtime names element types as strings; these are the ones meteorfast graphs use.
_ORT_TYPES: dict[str, type[np.generic]] = {
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(bool)": np.bool_,
}


def _spec(arg: Any) -> TensorSpec:
    if arg.type not in _ORT_TYPES:
        raise MeteorfastError(f"tensor {arg.name!r}: expected one of {sorted(_ORT_TYPES)}, got {arg.type}")
    shape: tuple[Dim, ...] = tuple(d if isinstance(d, int) else (d or None) for d in arg.shape)
    return TensorSpec(arg.name, np.dtype(_ORT_TYPES[arg.type]), shape)


class OnnxRuntimeBackend(Backend):
    """Runs an ``.onnx`` graph with ONNX Runtime's CPU execution provider.

    ``threads``: intra-op threads (default ``METEORFAST_THREADS``, else the CPUs this process may use).
    ``spin``: let idle threads spin; turn it off when decode threads share the cores.
    """

    name = "onnxruntime"
    suffixes = (".onnx",)

    def __init__(self, model: str | Path, *, threads: int | None = None, spin: bool = True) -> None:
        super().__init__(model)
        self.threads = threads or config.runtime_config().threads
        self.spin = spin
        self._session: Any = None

    @classmethod
    def for_detector(cls, model: Path, *, batch_size: int, localize: LocalizeMode, threads: int | None) -> Self:
        # No spinning: idle ONNX Runtime threads would spin on the cores the decode and stack threads need.
        return cls(model, threads=threads, spin=False)

    def _open_impl(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise BackendUnavailableError(f"onnxruntime not installed ({err}); pip install onnxruntime") from err
        if not self.model.is_file():
            raise InputError(f"model: expected an ONNX file, got {str(self.model)!r}, which does not exist")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        spin = "1" if self.spin else "0"
        opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
        opts.add_session_config_entry("session.inter_op.allow_spinning", spin)
        try:
            self._session = ort.InferenceSession(str(self.model), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # ORT raises its own, unexported exception types for bad graphs
            raise InputError(
                f"model {str(self.model)!r}: expected a valid ONNX graph, ONNX Runtime refused it: {err}; "
                "re-export it with `meteorfast export`"
            ) from err
        return ([_spec(a) for a in self._session.get_inputs()], [_spec(a) for a in self._session.get_outputs()])

    def _infer_impl(
        self, feeds: dict[str, npt.NDArray[np.generic]], outputs: list[str]
    ) -> dict[str, npt.NDArray[np.generic]]:
        values = self._session.run(outputs, feeds)
        return dict(zip(outputs, values, strict=True))

    def _metadata(self) -> dict[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def _close_impl(self) -> None:
        self._session = None
