# Stub for the compiled meteorfast._native.cpu (Cython). float16 arrays are passed viewed as uint16.

import numpy as np
import numpy.typing as npt

STACK_MAX_FRAMES: int

_F = npt.NDArray[np.float32]
_G = npt.NDArray[np.float32] | npt.NDArray[np.uint16]

def set_num_threads(threads: int) -> None: ...
def get_num_threads() -> int: ...
def pool_gradients(grad: _G, alpha: _F) -> int: ...
def weighted_cam(feat: _G, alpha: _F, cam: _F) -> int: ...
def grad_cam(grad: _G, feat: _G, alpha: _F, cam: _F) -> int: ...
def localize(
    cam: _F, fmap: _F, geom: _F, in_h: float, in_w: float, mode: int, radius: int, x: _F, y: _F, peak: _F
) -> int: ...
def postprocess(
    grad: _G,
    feat: _G,
    fmap: _F,
    geom: _F,
    in_h: float,
    in_w: float,
    mode: int,
    radius: int,
    cam: _F,
    x: _F,
    y: _F,
    peak: _F,
) -> int: ...
def stack_add_u8(
    frame: npt.NDArray[np.uint8],
    t: int,
    mx: npt.NDArray[np.uint8],
    amax: npt.NDArray[np.uint16],
    total: npt.NDArray[np.uint32],
    sumsq: npt.NDArray[np.uint32],
) -> None: ...
def stack_add_u16(
    frame: npt.NDArray[np.uint16],
    t: int,
    mx: npt.NDArray[np.uint16],
    amax: npt.NDArray[np.uint16],
    total: npt.NDArray[np.uint64],
    sumsq: npt.NDArray[np.uint64],
) -> None: ...
def stack_finalize_u8(
    mx: npt.NDArray[np.uint8],
    total: npt.NDArray[np.uint32],
    sumsq: npt.NDArray[np.uint32],
    frames: int,
    mean: _F,
    stdev: _F,
    cand: npt.NDArray[np.uint8],
) -> None: ...
def stack_finalize_u16(
    mx: npt.NDArray[np.uint16],
    total: npt.NDArray[np.uint64],
    sumsq: npt.NDArray[np.uint64],
    frames: int,
    mean: _F,
    stdev: _F,
    cand: npt.NDArray[np.uint16],
) -> None: ...
