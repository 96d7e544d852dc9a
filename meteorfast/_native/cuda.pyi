# Stub for the compiled meteorfast._native.cuda (Cython + static cudart). Pointers and streams are ints.
import numpy as np
import numpy.typing as npt

def device_count() -> tuple[int, str]: ...
def runtime_version() -> int: ...
def built_archs() -> tuple[int, ...]: ...
def require_device() -> None: ...
def stream_wait(waiter: int, producer: int) -> None: ...
def pool_gradients_ptr(
    grad: int, grad_dtype: int, n: int, k: int, hw: int, alpha: int, status: int, stream: int = 0
) -> None: ...
def weighted_cam_ptr(
    feat: int, feat_dtype: int, alpha: int, n: int, k: int, hw: int, cam: int, status: int, stream: int = 0
) -> None: ...
def localize_ptr(
    cam: int,
    n: int,
    h: int,
    w: int,
    fmap: int,
    h1: int,
    w1: int,
    geom: int,
    in_h: float,
    in_w: float,
    mode: int,
    radius: int,
    x: int,
    y: int,
    peak: int,
    status: int,
    stream: int = 0,
) -> None: ...
def stack_add_ptr(
    frame: int, bits: int, npix: int, t: int, mx: int, amax: int, total: int, sumsq: int, stream: int = 0
) -> None: ...
def stack_finalize_ptr(
    mx: int,
    total: int,
    sumsq: int,
    bits: int,
    npix: int,
    frames: int,
    mean: int,
    stdev: int,
    cand: int,
    stream: int = 0,
) -> None: ...
def postprocess_host(
    grad: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    feat: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    fmap: npt.NDArray[np.float32],
    geom: npt.NDArray[np.float32],
    in_h: float,
    in_w: float,
    mode: int,
    radius: int,
) -> tuple[
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    int,
]: ...
def stack_host(
    frames: npt.NDArray[np.uint8] | npt.NDArray[np.uint16],
) -> tuple[
    npt.NDArray[np.generic],
    npt.NDArray[np.uint16],
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    npt.NDArray[np.generic],
]: ...
