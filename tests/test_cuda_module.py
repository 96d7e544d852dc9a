"""The CUDA module: built, importable without a driver, carrying every requested architecture, refusing clearly
when no device exists; and, on a GPU, equal to the CPU kernels (those tests are marked ``gpu`` and skip here)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import meteorfast.cam as mc
from meteorfast import config
from meteorfast.cam import reference as ref
from meteorfast.errors import DeviceError, InputError, NonFiniteError


def nvcc_present() -> bool:
    return shutil.which(os.environ.get("METEORFAST_NVCC") or "nvcc") is not None


KERNELS = ("pool_kernel", "cam_kernel", "localize_kernel", "add_kernel", "finalize_kernel")


def cuda_module() -> Any:
    try:
        return importlib.import_module("meteorfast._native.cuda")
    except ImportError as err:
        if nvcc_present() and os.environ.get("METEORFAST_CUDA", "auto") != "0":
            pytest.fail(f"nvcc is on PATH, so the CUDA module must have been built and import: {err}")
        pytest.skip(f"CUDA module not built here ({err}); install with nvcc on PATH to build it")


def has_device() -> bool:
    return bool(cuda_module().device_count()[0])


def require_gpu() -> None:
    count, reason = cuda_module().device_count()
    if count == 0:
        pytest.skip(f"no CUDA device: {reason}")


def cuobjdump() -> str:
    found = shutil.which("cuobjdump")
    if found:
        return found
    try:
        import nvidia
    except ImportError:
        pytest.skip("cuobjdump not found: install nvidia-cuda-cuobjdump (part of the [test] extra)")
    for base in nvidia.__path__:
        for candidate in Path(base).glob("*/bin/cuobjdump"):
            return str(candidate)
    pytest.skip("cuobjdump not found in the nvidia-cuda-cuobjdump package")


def test_cuda_module_built_when_nvcc_present() -> None:
    cuda = cuda_module()
    info = mc.native_info()
    assert info.cuda_built
    assert info.cuda_archs == tuple(cuda.built_archs())
    assert info.cuda_runtime.count(".") == 1


def test_built_archs_follow_the_build_config() -> None:
    cuda = cuda_module()
    expected = config.build_config().cuda_archs  # what setup.py was told, unless the env changed since
    assert tuple(cuda.built_archs()) == expected
    assert min(expected) >= config.MIN_CUDA_ARCH


def test_every_arch_carries_every_kernel() -> None:
    cuda = cuda_module()
    lib = cuda.__file__
    tool = cuobjdump()
    elf = subprocess.run([tool, "--list-elf", lib], capture_output=True, text=True, check=True).stdout
    elf_archs = {int(a) for a in re.findall(r"\.sm_(\d+)\.cubin", elf)}
    assert elf_archs == set(cuda.built_archs())
    ptx = subprocess.run([tool, "--list-ptx", lib], capture_output=True, text=True, check=True).stdout
    assert {int(a) for a in re.findall(r"\.sm_(\d+)\.ptx", ptx)} == {max(cuda.built_archs())}
    usage = subprocess.run([tool, "--dump-resource-usage", lib], capture_output=True, text=True, check=True).stdout
    per_arch: dict[int, set[str]] = {}
    arch = None
    for line in usage.splitlines():
        m = re.search(r"arch = sm_(\d+)", line)
        if m:
            arch = int(m.group(1))
            per_arch.setdefault(arch, set())
        elif arch is not None and "Function" in line:
            per_arch[arch].update(k for k in KERNELS if k in line)
    assert set(per_arch) == set(cuda.built_archs())
    for a, found in per_arch.items():
        assert found == set(KERNELS), f"sm_{a} lacks {set(KERNELS) - found}"


def test_cuda_module_does_not_need_libcudart_shared() -> None:
    lib = cuda_module().__file__
    if shutil.which("ldd") is None:
        pytest.skip("ldd not available")
    deps = subprocess.run(["ldd", lib], capture_output=True, text=True, check=True).stdout
    assert "libcudart" not in deps
    assert "libcuda.so" not in deps


def test_calls_without_a_device_raise_a_clear_error(rng: np.random.Generator) -> None:
    cuda = cuda_module()
    if has_device():
        pytest.skip("a CUDA device is present; this checks the refusal without one")
    count, reason = cuda.device_count()
    assert count == 0
    assert reason
    feat = np.ones((2, 4, 7, 7), np.float32)
    with pytest.raises(DeviceError, match=r"expected a CUDA device, found none \(.+\); run on a machine with"):
        cuda.postprocess_host(feat, feat, np.ones((2, 56, 56), np.float32), np.ones((2, 4), np.float32), 224, 224, 1, 1)
    with pytest.raises(DeviceError, match="expected a CUDA device"):
        cuda.stack_host(np.zeros((3, 4, 4), np.uint8))
    info = mc.native_info()
    assert not info.cuda_device
    assert reason in info.reason


class FakeDeviceBuffer:
    """Only an address and a shape: enough to reach the CUDA dispatch, never dereferenced without a device."""

    def __init__(self, shape: tuple[int, ...], dtype: type = np.float32) -> None:
        self.__cuda_array_interface__ = {
            "shape": shape, "typestr": np.dtype(dtype).str, "data": (0xDEAD0000, False), "version": 3, "strides": None,
        }  # fmt: skip


def test_facade_dispatches_device_buffers_to_cuda() -> None:
    cuda_module()
    n, k = 2, 8
    feat = FakeDeviceBuffer((n, k, 7, 7))
    out = mc.DeviceOutputs(
        status=FakeDeviceBuffer((1,), np.int32), alpha=FakeDeviceBuffer((n, k)), cam=FakeDeviceBuffer((n, 7, 7)),
        x=FakeDeviceBuffer((n,)), y=FakeDeviceBuffer((n,)), peak=FakeDeviceBuffer((n,)),
    )  # fmt: skip
    with pytest.raises(InputError, match="device buffers in need device buffers out"):
        mc.grad_cam(feat, feat)  # type: ignore[call-overload]
    with pytest.raises(InputError, match=r"out.cam: expected shape \(2, 7, 7\)"):
        mc.grad_cam(
            feat, feat, out=mc.DeviceOutputs(status=out.status, alpha=out.alpha, cam=FakeDeviceBuffer((2, 7, 6)))
        )
    with pytest.raises(InputError, match="expected dtype float32 or float16, got int32"):
        mc.grad_cam(FakeDeviceBuffer((n, k, 7, 7), np.int32), feat, out=out)
    if has_device():
        pytest.skip("a CUDA device is present; the fake addresses must not reach a launch")
    with pytest.raises(DeviceError, match="expected a CUDA device"):
        mc.postprocess(
            feat, feat, FakeDeviceBuffer((n, 56, 56)), input_size=(224, 224), geometry=FakeDeviceBuffer((n, 4)), out=out
        )


# ---- on a GPU ----


@pytest.mark.gpu
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gpu_postprocess_matches_cpu(rng: np.random.Generator, mode: int, dtype: type) -> None:
    require_gpu()
    cuda = cuda_module()
    for n, k, h, w, big_h, big_w in [(64, 1280, 7, 7, 112, 112), (3, 17, 5, 9, 50, 37), (1, 1, 1, 1, 1, 1)]:
        feat = np.maximum(rng.standard_normal((n, k, h, w)), 0).astype(dtype)
        grad = (rng.standard_normal((n, k, h, w)) * 1e-3).astype(dtype)
        fmap = rng.random((n, big_h, big_w)).astype(np.float32)
        geo = np.tile(np.array([2.0, 2.0, 5.0, 7.0], np.float32), (n, 1))
        alpha, cam, x, y, peak, status = cuda.postprocess_host(grad, feat, fmap, geo, 224.0, 224.0, mode, 1)
        assert status == 0
        np.testing.assert_allclose(alpha, ref.pool_gradients(grad), rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(cam, ref.grad_cam(feat, grad), atol=2e-5)
        # Localise the GPU's own CAM on the CPU, so the comparison isolates the localisation kernel.
        want = ref.localize(cam, fmap, geo, (224, 224), "paper" if mode == 0 else "fused", 1)
        np.testing.assert_allclose(x, want.x, atol=1e-3)
        np.testing.assert_allclose(y, want.y, atol=1e-3)
        np.testing.assert_allclose(peak, want.peak, rtol=1e-6)


@pytest.mark.gpu
def test_gpu_nonfinite_sets_the_status_bit(rng: np.random.Generator) -> None:
    require_gpu()
    cuda = cuda_module()
    feat = np.ones((2, 4, 7, 7), np.float32)
    grad = np.ones((2, 4, 7, 7), np.float32)
    grad[1, 2, 3, 3] = np.inf
    *_, status = cuda.postprocess_host(
        grad, feat, np.ones((2, 56, 56), np.float32), np.ones((2, 4), np.float32), 224, 224, 1, 1
    )
    from meteorfast.cam.device import check_status

    with pytest.raises(NonFiniteError, match="NaN or Inf"):
        check_status(status)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gpu_stacking_matches_cpu(rng: np.random.Generator, dtype: type) -> None:
    require_gpu()
    cuda = cuda_module()
    frames = rng.integers(0, np.iinfo(dtype).max, (25, 720, 1280), dtype=dtype, endpoint=True)
    mx, amax, mean, std, cand = cuda.stack_host(frames)
    want = ref.stack(frames)
    np.testing.assert_array_equal(mx, want.max)
    np.testing.assert_array_equal(amax, want.argmax)
    np.testing.assert_array_equal(cand, want.candidate)
    np.testing.assert_allclose(mean, want.mean, rtol=1e-7)
    np.testing.assert_allclose(std, want.std, rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_gpu_facade_with_pycuda_buffers(rng: np.random.Generator) -> None:
    require_gpu()
    pycuda_autoinit = pytest.importorskip("pycuda.autoinit", reason="pycuda not installed (the [tensorrt] extra)")
    assert pycuda_autoinit is not None
    import pycuda.driver as drv
    import pycuda.gpuarray as gpuarray

    n, k = 8, 64
    feat = np.maximum(rng.standard_normal((n, k, 7, 7)), 0).astype(np.float32)
    grad = (rng.standard_normal((n, k, 7, 7)) * 1e-3).astype(np.float32)
    fmap = rng.random((n, 56, 56)).astype(np.float32)
    geo = np.tile(np.array([1, 1, 0, 0], np.float32), (n, 1))
    stream = drv.Stream()
    out = mc.DeviceOutputs(
        status=gpuarray.zeros(1, np.int32), alpha=gpuarray.empty((n, k), np.float32),
        cam=gpuarray.empty((n, 7, 7), np.float32), x=gpuarray.empty(n, np.float32), y=gpuarray.empty(n, np.float32),
        peak=gpuarray.empty(n, np.float32),
    )  # fmt: skip
    mc.postprocess(
        gpuarray.to_gpu(feat), gpuarray.to_gpu(grad), gpuarray.to_gpu(fmap), input_size=(224, 224),
        geometry=gpuarray.to_gpu(geo), out=out, stream=stream.handle,
    )  # fmt: skip
    stream.synchronize()
    want = mc.postprocess(feat, grad, fmap, input_size=(224, 224))
    assert int(out.status.get()[0]) == 0
    np.testing.assert_allclose(out.cam.get(), want.cam, atol=2e-5)
    np.testing.assert_allclose(out.x.get(), want.x, atol=1e-3)
    np.testing.assert_allclose(out.y.get(), want.y, atol=1e-3)


def test_status_buffer_must_hold_one_word() -> None:
    cuda_module()
    n, k = 2, 8
    feat = FakeDeviceBuffer((n, k, 7, 7))
    out = mc.DeviceOutputs(status=FakeDeviceBuffer((0,), np.int32), alpha=FakeDeviceBuffer((n, k)),
                           cam=FakeDeviceBuffer((n, 7, 7)))  # fmt: skip
    with pytest.raises(InputError, match=r"out.status: expected shape \(1,\), got \(0,\)"):
        mc.grad_cam(feat, feat, out=out)
