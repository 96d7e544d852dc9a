"""The one base every inference runtime sits behind (after Polygraphy's runners).

Public methods check and time; subclasses fill in ``_open_impl``, ``_infer_impl`` and ``_close_impl`` only.
Inputs and outputs are keyed by tensor name: the Grad-CAM tensors (``features``, ``grad``, ``conv1_map``) are just
more names.

The detector asks every runtime the same two questions: :meth:`Backend.first_look` (the meteor probability, the
Grad-CAM map and the located point of a batch) and :meth:`Backend.probabilities` (the probability alone). The base
answers them on the host, with the native kernels over the graph's outputs; a runtime that does better overrides
them (TensorRT runs the CAM and the localisation on the device).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from meteorfast.errors import InputError, MeteorfastError

if TYPE_CHECKING:
    from typing import Self

    from meteorfast.cam.reference import LocalizeMode
    from meteorfast.results import StageTimes

#: The outputs a graph needs for the first look.
FIRST_LOOK_OUTPUTS = ("prob", "features", "cam_weights", "conv1_map")

Dim = int | str | None
"""A tensor dimension: a fixed size, or a symbolic / unknown one (dynamic batch)."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, NumPy dtype and shape of an engine input or output. Dynamic dimensions are ``str`` or ``None``."""

    name: str
    dtype: np.dtype[np.generic]
    shape: tuple[Dim, ...]

    def check(self, arr: npt.NDArray[np.generic]) -> None:
        """Raise :class:`InputError` unless ``arr`` fits this spec."""
        if arr.dtype != self.dtype:
            raise InputError(
                f"input {self.name!r}: expected dtype {self.dtype}, got {arr.dtype}; "
                f"convert with .astype(np.{self.dtype.name})"
            )
        if arr.ndim != len(self.shape) or any(
            isinstance(d, int) and d != s for d, s in zip(self.shape, arr.shape, strict=False)
        ):
            raise InputError(f"input {self.name!r}: expected shape {self.shape}, got {arr.shape}")


@dataclass(frozen=True)
class LookOutputs:
    """The first look at a batch of N model inputs: ``prob``, the located point ``x, y`` (frame pixels, through each
    input's geometry) and the fused map's ``peak``, float32 ``[N]``; ``cam``, the Grad-CAM map in [0, 1], float32
    ``[N,h,w]``; ``fine``, the first-layer map, float32 ``[N,H1,W1]``."""

    prob: npt.NDArray[np.float32]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    peak: npt.NDArray[np.float32]
    cam: npt.NDArray[np.float32]
    fine: npt.NDArray[np.float32]


class Backend(ABC):
    """A runnable engine. Use as a context manager, or call :meth:`open` and :meth:`close`."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: str | Path) -> None:
        self.model = Path(model)
        self._inputs: dict[str, TensorSpec] | None = None
        self._outputs: dict[str, TensorSpec] | None = None
        self.last_infer_ms: float = float("nan")

    # ---- lifecycle ----
    def open(self) -> Backend:
        if self._inputs is None:
            inputs, outputs = self._open_impl()
            self._inputs = {s.name: s for s in inputs}
            self._outputs = {s.name: s for s in outputs}
        return self

    def close(self) -> None:
        if self._inputs is not None:
            self._inputs = self._outputs = None
            self._close_impl()

    @property
    def is_open(self) -> bool:
        return self._inputs is not None

    def __enter__(self) -> Backend:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Returns None: an exception inside the block propagates.
        self.close()

    # ---- specs ----
    def _require_open(self) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
        if self._inputs is None or self._outputs is None:
            raise MeteorfastError(f"{self.name} backend for {self.model}: expected an open backend; call open() first")
        return self._inputs, self._outputs

    @property
    def metadata(self) -> dict[str, str]:
        """The model's ``metadata_props`` (``meteorfast.*`` keys written at export), as far as the runtime keeps
        them; empty when it does not."""
        self._require_open()
        return self._metadata()

    def _metadata(self) -> dict[str, str]:
        return {}

    @property
    def input_specs(self) -> dict[str, TensorSpec]:
        return dict(self._require_open()[0])

    @property
    def output_specs(self) -> dict[str, TensorSpec]:
        return dict(self._require_open()[1])

    # ---- inference ----
    def infer(
        self, feeds: Mapping[str, npt.ArrayLike], outputs: Sequence[str] | None = None
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Run one batch. ``feeds`` maps every input name to an array; returns the ``outputs`` named (default:
        every output) by name. The wall time of the run is kept in :attr:`last_infer_ms`.
        """
        inputs, specs_out = self._require_open()
        wanted = list(specs_out) if outputs is None else list(outputs)
        unknown = sorted(set(wanted) - set(specs_out))
        if unknown:
            raise InputError(f"{self.name} backend: expected outputs among {sorted(specs_out)}, got unknown {unknown}")
        missing = sorted(set(inputs) - set(feeds))
        extra = sorted(set(feeds) - set(inputs))
        if missing or extra:
            raise InputError(
                f"{self.name} backend: expected inputs {sorted(inputs)}, got {sorted(feeds)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")
            )
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for name, value in feeds.items():
            arr = np.ascontiguousarray(value)
            inputs[name].check(arr)
            arrays[name] = arr
        start = time.perf_counter()
        out = self._infer_impl(arrays, wanted)
        self.last_infer_ms = (time.perf_counter() - start) * 1e3
        return {name: out[name] for name in wanted}

    # ---- the detector's questions ----
    @classmethod
    def for_detector(cls, model: Path, *, batch_size: int, localize: LocalizeMode, threads: int | None) -> Self:
        """An unopened backend for ``model`` as the detector runs it (batches of up to ``batch_size``, the
        ``localize`` mode, ``threads`` CPU threads); each runtime takes the options that concern it."""
        return cls(model)

    def first_look(
        self, frames: npt.NDArray[np.uint8], geometry: npt.NDArray[np.float32], *, input_size: tuple[int, int],
        localize: LocalizeMode, times: StageTimes | None = None,
    ) -> LookOutputs:  # fmt: skip
        """The :class:`LookOutputs` at ``frames: uint8 [N,C,H,W]`` with ``geometry: float32 [N,4]`` (each input's map
        to frame pixels) for a model input of ``input_size = (H, W)``: the graph's outputs, then Grad-CAM and the
        localisation in the native kernels. Timed into ``times`` as ``infer``, ``cam`` and ``post``."""
        import meteorfast.cam as mc

        t0 = time.perf_counter()
        out = self.infer({"frames": frames}, list(FIRST_LOOK_OUTPUTS))
        t1 = time.perf_counter()
        cam = mc.grad_cam(out["features"], weights=out["cam_weights"])
        t2 = time.perf_counter()
        fine = np.asarray(out["conv1_map"], np.float32)[:, 0]
        loc = mc.localize(cam, fine, input_size=input_size, geometry=geometry, mode=localize)
        prob = np.asarray(out["prob"], np.float32).reshape(-1)
        if times is not None:
            times.add("infer", t1 - t0, len(frames))
            times.add("cam", t2 - t1, len(frames))
            times.add("post", time.perf_counter() - t2, len(frames))
        return LookOutputs(prob, loc.x, loc.y, loc.peak, cam, fine)

    def probabilities(self, frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The meteor probability of each of ``frames: uint8 [N,C,H,W]``: float32 ``[N]``."""
        return np.asarray(self.infer({"frames": frames}, ["prob"])["prob"], np.float32).reshape(-1)

    # ---- for subclasses ----
    @abstractmethod
    def _open_impl(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        """Load the model; return (input specs, output specs)."""

    @abstractmethod
    def _infer_impl(
        self, feeds: dict[str, npt.NDArray[np.generic]], outputs: list[str]
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Run validated, contiguous feeds; return at least the ``outputs`` named."""

    @abstractmethod
    def _close_impl(self) -> None:
        """Release the runtime's resources."""
