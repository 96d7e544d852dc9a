# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, embedsignature=True
"""Native CUDA kernels, linked against the static CUDA runtime so this module imports without a driver.

Two levels:

* ``*_ptr`` functions take raw device pointers (ints) and a stream handle (int, 0 for the legacy default
  stream). They launch and return at once: they never synchronise. Inference backends call these on their own
  output buffers, then read the status word after their own synchronisation.
* ``*_host`` functions take NumPy arrays, copy them to the device, run, copy back and synchronise their private
  stream. They exist for parity tests and tools, not for the hot path.

Every call first checks that a device is present and raises meteorfast.errors.DeviceError naming the reason
(for example "CUDA driver version is insufficient for CUDA runtime version" when no driver is installed).
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

import numpy as np

from meteorfast.errors import DeviceError

from meteorfast._native.kernels cimport *


def device_count():
    """Return ``(count, reason)``: the usable CUDA devices, and why there are none when count is 0."""
    cdef char reason[512]
    reason[0] = 0
    cdef int count = mf_cuda_device_count(reason, sizeof(reason))
    return count, (reason.decode("utf-8", "replace") if count == 0 else "")


def runtime_version():
    """CUDA runtime version the module was built with, as an int (13000 for 13.0)."""
    return mf_cuda_runtime_version()


def built_archs():
    """SM architectures the module carries SASS for, e.g. (75, 80, 86, 89, 90)."""
    return tuple(int(a) for a in mf_cuda_built_archs().decode().split(";") if a)


def require_device():
    count, reason = device_count()
    if count == 0:
        raise DeviceError(
            f"expected a CUDA device, found none ({reason}); run on a machine with an NVIDIA GPU and driver, "
            "or pass NumPy arrays to meteorfast.cam to use the CPU kernels"
        )


cdef inline mf_stream_t _stream(size_t handle) noexcept nogil:
    return <mf_stream_t>handle


# ---- raw device pointers, no synchronisation ----

def stream_wait(size_t waiter, size_t producer):
    """Make stream ``waiter`` wait on the device for the work queued so far on ``producer`` (host does not block)."""
    with nogil:
        mf_cuda_stream_wait(_stream(waiter), _stream(producer))


def pool_gradients_ptr(size_t grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, size_t alpha, size_t status,
                       size_t stream=0):
    with nogil:
        mf_cuda_pool_gradients(<const void*>grad, grad_dtype, n, k, hw, <float*>alpha, <int*>status, _stream(stream))


def weighted_cam_ptr(size_t feat, int feat_dtype, size_t alpha, int64_t n, int64_t k, int64_t hw, size_t cam,
                     size_t status, size_t stream=0):
    with nogil:
        mf_cuda_weighted_cam(<const void*>feat, feat_dtype, <const float*>alpha, n, k, hw, <float*>cam,
                             <int*>status, _stream(stream))


def localize_ptr(size_t cam, int64_t n, int64_t h, int64_t w, size_t fmap, int64_t h1, int64_t w1, size_t geom,
                 double in_h, double in_w, int mode, int radius, size_t x, size_t y, size_t peak, size_t status,
                 size_t stream=0):
    with nogil:
        mf_cuda_localize(<const float*>cam, n, h, w, <const float*>fmap, h1, w1, <const float*>geom, in_h, in_w,
                         mode, radius, <float*>x, <float*>y, <float*>peak, <int*>status, _stream(stream))


def stack_add_ptr(size_t frame, int bits, int64_t npix, int t, size_t mx, size_t amax, size_t total, size_t sumsq,
                  size_t stream=0):
    if bits == 8:
        with nogil:
            mf_cuda_stack_add_u8(<const uint8_t*>frame, npix, t, <uint8_t*>mx, <uint16_t*>amax, <uint32_t*>total,
                                 <uint32_t*>sumsq, _stream(stream))
    elif bits == 16:
        with nogil:
            mf_cuda_stack_add_u16(<const uint16_t*>frame, npix, t, <uint16_t*>mx, <uint16_t*>amax,
                                  <uint64_t*>total, <uint64_t*>sumsq, _stream(stream))
    else:
        raise ValueError(f"stack_add_ptr: expected bits 8 or 16, got {bits}")


def stack_finalize_ptr(size_t mx, size_t total, size_t sumsq, int bits, int64_t npix, int frames, size_t mean,
                       size_t stdev, size_t cand, size_t stream=0):
    if bits == 8:
        with nogil:
            mf_cuda_stack_finalize_u8(<const uint8_t*>mx, <const uint32_t*>total, <const uint32_t*>sumsq, npix,
                                      frames, <float*>mean, <float*>stdev, <uint8_t*>cand, _stream(stream))
    elif bits == 16:
        with nogil:
            mf_cuda_stack_finalize_u16(<const uint16_t*>mx, <const uint64_t*>total, <const uint64_t*>sumsq, npix,
                                       frames, <float*>mean, <float*>stdev, <uint16_t*>cand, _stream(stream))
    else:
        raise ValueError(f"stack_finalize_ptr: expected bits 8 or 16, got {bits}")


# ---- host convenience: copy in, run, copy out, synchronise ----

cdef class _DeviceBuffer:
    """A device allocation freed with its owner."""
    cdef void* ptr
    cdef readonly size_t nbytes

    def __cinit__(self, size_t nbytes):
        self.ptr = mf_cuda_malloc(nbytes)
        self.nbytes = nbytes

    def __dealloc__(self):
        if self.ptr != NULL:
            try:
                mf_cuda_free(self.ptr)
            except RuntimeError:
                # Freeing after a device fault fails again with the fault's error, which was already raised.
                pass
            self.ptr = NULL

    @property
    def address(self):
        return <size_t>self.ptr


cdef class _Stream:
    cdef mf_stream_t handle

    def __cinit__(self):
        self.handle = mf_cuda_stream_create()

    def __dealloc__(self):
        if self.handle != NULL:
            try:
                mf_cuda_stream_destroy(self.handle)
            except RuntimeError:
                pass
            self.handle = NULL

    @property
    def address(self):
        return <size_t>self.handle

    def synchronize(self):
        with nogil:
            mf_cuda_stream_synchronize(self.handle)


def _upload(arr, _Stream stream):
    a = np.ascontiguousarray(arr)
    buf = _DeviceBuffer(a.nbytes)
    cdef const unsigned char[::1] view = a.reshape(-1).view(np.uint8)
    if a.nbytes:
        mf_cuda_copy_h2d_async(buf.ptr, &view[0], a.nbytes, stream.handle)
    return buf, a


def _download(_DeviceBuffer buf, out, _Stream stream):
    cdef unsigned char[::1] view = out.reshape(-1).view(np.uint8)
    if out.nbytes:
        mf_cuda_copy_d2h_async(&view[0], buf.ptr, out.nbytes, stream.handle)


def _status(_Stream stream):
    status = _DeviceBuffer(4)
    mf_cuda_memset_async(status.ptr, 0, 4, stream.handle)
    return status


def postprocess_host(grad, feat, fmap, geom, double in_h, double in_w, int mode, int radius):
    """grad, feat: float32/float16 [N,K,h,w]; fmap float32 [N,H1,W1]; geom float32 [N,4].

    Returns ``(alpha float32[N,K], cam float32[N,h,w], x, y, peak float32[N], status int)``.
    """
    require_device()
    n, k, h, w = feat.shape
    s = _Stream()
    g_dev, g = _upload(grad, s)
    f_dev, f = _upload(feat, s)
    m_dev, m = _upload(np.asarray(fmap, np.float32), s)
    geo_dev, _ = _upload(np.asarray(geom, np.float32), s)
    st = _status(s)
    alpha = np.empty((n, k), np.float32)
    cam = np.empty((n, h, w), np.float32)
    x = np.empty(n, np.float32)
    y = np.empty(n, np.float32)
    peak = np.empty(n, np.float32)
    a_dev, c_dev = _DeviceBuffer(alpha.nbytes), _DeviceBuffer(cam.nbytes)
    x_dev, y_dev, p_dev = _DeviceBuffer(x.nbytes), _DeviceBuffer(y.nbytes), _DeviceBuffer(peak.nbytes)
    gcode = MF_FLOAT16 if g.dtype == np.float16 else MF_FLOAT32
    fcode = MF_FLOAT16 if f.dtype == np.float16 else MF_FLOAT32
    pool_gradients_ptr(g_dev.address, gcode, n, k, h * w, a_dev.address, st.address, s.address)
    weighted_cam_ptr(f_dev.address, fcode, a_dev.address, n, k, h * w, c_dev.address, st.address, s.address)
    localize_ptr(c_dev.address, n, h, w, m_dev.address, m.shape[1], m.shape[2], geo_dev.address, in_h, in_w, mode,
                 radius, x_dev.address, y_dev.address, p_dev.address, st.address, s.address)
    status = np.zeros(1, np.int32)
    for buf, out in ((a_dev, alpha), (c_dev, cam), (x_dev, x), (y_dev, y), (p_dev, peak), (st, status)):
        _download(buf, out, s)
    s.synchronize()
    return alpha, cam, x, y, peak, int(status[0])


def stack_host(frames):
    """frames: uint8/uint16 [T,...]. Returns ``(max, argmax uint16, mean float32, std float32, candidate)``."""
    require_device()
    a = np.ascontiguousarray(frames)
    bits = 8 if a.dtype == np.uint8 else 16
    acc = np.uint32 if bits == 8 else np.uint64
    t_count = a.shape[0]
    shape = a.shape[1:]
    npix = int(np.prod(shape))
    s = _Stream()
    mx = _DeviceBuffer(npix * a.itemsize)
    amax = _DeviceBuffer(npix * 2)
    total = _DeviceBuffer(npix * np.dtype(acc).itemsize)
    sumsq = _DeviceBuffer(npix * np.dtype(acc).itemsize)
    for buf in (mx, amax, total, sumsq):
        mf_cuda_memset_async((<_DeviceBuffer>buf).ptr, 0, (<_DeviceBuffer>buf).nbytes, s.handle)
    keep = []
    for t in range(t_count):
        f_dev, f = _upload(a[t], s)
        keep.append(f_dev)
        stack_add_ptr(f_dev.address, bits, npix, t, mx.address, amax.address, total.address, sumsq.address,
                      s.address)
    mean_dev = _DeviceBuffer(npix * 4)
    std_dev = _DeviceBuffer(npix * 4)
    cand_dev = _DeviceBuffer(npix * a.itemsize)
    stack_finalize_ptr(mx.address, total.address, sumsq.address, bits, npix, t_count, mean_dev.address,
                       std_dev.address, cand_dev.address, s.address)
    out_max = np.empty(shape, a.dtype)
    out_amax = np.empty(shape, np.uint16)
    out_mean = np.empty(shape, np.float32)
    out_std = np.empty(shape, np.float32)
    out_cand = np.empty(shape, a.dtype)
    for buf, out in ((mx, out_max), (amax, out_amax), (mean_dev, out_mean), (std_dev, out_std),
                     (cand_dev, out_cand)):
        _download(buf, out, s)
    s.synchronize()
    return out_max, out_amax, out_mean, out_std, out_cand
