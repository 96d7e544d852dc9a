# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, embedsignature=True
"""Native CPU kernels (OpenMP). Low level: meteorfast.cam validates shapes and dtypes, allocates the outputs and
turns the returned index of a non-finite item into NonFiniteError. float16 arrays arrive viewed as uint16.

Every function releases the GIL while the kernel runs.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from meteorfast._native.kernels cimport *

STACK_MAX_FRAMES = MF_STACK_MAX_FRAMES

ctypedef fused grad_t:
    float
    uint16_t

ctypedef fused feat_t:
    float
    uint16_t


cdef inline int _code_grad(grad_t* p) noexcept nogil:
    return MF_FLOAT32 if grad_t is float else MF_FLOAT16


cdef inline int _code_feat(feat_t* p) noexcept nogil:
    return MF_FLOAT32 if feat_t is float else MF_FLOAT16


def set_num_threads(int threads):
    mf_set_num_threads(threads)


def get_num_threads():
    return mf_get_num_threads()


def pool_gradients(const grad_t[:, :, :, ::1] grad, float[:, ::1] alpha):
    cdef int64_t n = grad.shape[0], k = grad.shape[1], hw = grad.shape[2] * grad.shape[3], bad
    if n == 0:
        return -1
    with nogil:
        bad = mf_cpu_pool_gradients(&grad[0, 0, 0, 0], _code_grad(<grad_t*>NULL), n, k, hw, &alpha[0, 0])
    return bad


def weighted_cam(const feat_t[:, :, :, ::1] feat, const float[:, ::1] alpha, float[:, :, ::1] cam):
    cdef int64_t n = feat.shape[0], k = feat.shape[1], hw = feat.shape[2] * feat.shape[3], bad
    if n == 0:
        return -1
    with nogil:
        bad = mf_cpu_weighted_cam(&feat[0, 0, 0, 0], _code_feat(<feat_t*>NULL), &alpha[0, 0], n, k, hw,
                                  &cam[0, 0, 0])
    return bad


def grad_cam(const grad_t[:, :, :, ::1] grad, const feat_t[:, :, :, ::1] feat, float[:, ::1] alpha,
             float[:, :, ::1] cam):
    cdef int64_t n = feat.shape[0], k = feat.shape[1], hw = feat.shape[2] * feat.shape[3], bad
    if n == 0:
        return -1
    with nogil:
        bad = mf_cpu_grad_cam(&grad[0, 0, 0, 0], _code_grad(<grad_t*>NULL), &feat[0, 0, 0, 0],
                              _code_feat(<feat_t*>NULL), n, k, hw, &alpha[0, 0], &cam[0, 0, 0])
    return bad


def localize(const float[:, :, ::1] cam, const float[:, :, ::1] fmap, const float[:, ::1] geom, double in_h,
             double in_w, int mode, int radius, float[::1] x, float[::1] y, float[::1] peak):
    cdef int64_t n = cam.shape[0], bad
    if n == 0:
        return -1
    with nogil:
        bad = mf_cpu_localize(&cam[0, 0, 0], n, cam.shape[1], cam.shape[2], &fmap[0, 0, 0], fmap.shape[1],
                              fmap.shape[2], &geom[0, 0], in_h, in_w, mode, radius, &x[0], &y[0], &peak[0])
    return bad


def postprocess(const grad_t[:, :, :, ::1] grad, const feat_t[:, :, :, ::1] feat, const float[:, :, ::1] fmap,
                const float[:, ::1] geom, double in_h, double in_w, int mode, int radius, float[:, :, ::1] cam,
                float[::1] x, float[::1] y, float[::1] peak):
    cdef int64_t n = feat.shape[0], bad
    if n == 0:
        return -1
    with nogil:
        bad = mf_cpu_postprocess(&grad[0, 0, 0, 0], _code_grad(<grad_t*>NULL), &feat[0, 0, 0, 0],
                                 _code_feat(<feat_t*>NULL), n, feat.shape[1], feat.shape[2], feat.shape[3],
                                 &fmap[0, 0, 0], fmap.shape[1], fmap.shape[2], &geom[0, 0], in_h, in_w, mode,
                                 radius, &cam[0, 0, 0], &x[0], &y[0], &peak[0])
    return bad


def stack_add_u8(const uint8_t[::1] frame, int t, uint8_t[::1] mx, uint16_t[::1] amax, uint32_t[::1] total,
                 uint32_t[::1] sumsq):
    if frame.shape[0] == 0:
        return
    with nogil:
        mf_cpu_stack_add_u8(&frame[0], frame.shape[0], t, &mx[0], &amax[0], &total[0], &sumsq[0])


def stack_add_u16(const uint16_t[::1] frame, int t, uint16_t[::1] mx, uint16_t[::1] amax, uint64_t[::1] total,
                  uint64_t[::1] sumsq):
    if frame.shape[0] == 0:
        return
    with nogil:
        mf_cpu_stack_add_u16(&frame[0], frame.shape[0], t, &mx[0], &amax[0], &total[0], &sumsq[0])


def stack_finalize_u8(const uint8_t[::1] mx, const uint32_t[::1] total, const uint32_t[::1] sumsq, int frames,
                      float[::1] mean, float[::1] stdev, uint8_t[::1] cand):
    if mx.shape[0] == 0:
        return
    with nogil:
        mf_cpu_stack_finalize_u8(&mx[0], &total[0], &sumsq[0], mx.shape[0], frames, &mean[0], &stdev[0], &cand[0])


def stack_finalize_u16(const uint16_t[::1] mx, const uint64_t[::1] total, const uint64_t[::1] sumsq, int frames,
                       float[::1] mean, float[::1] stdev, uint16_t[::1] cand):
    if mx.shape[0] == 0:
        return
    with nogil:
        mf_cpu_stack_finalize_u16(&mx[0], &total[0], &sumsq[0], mx.shape[0], frames, &mean[0], &stdev[0], &cand[0])
