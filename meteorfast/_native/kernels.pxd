# Mirrors csrc/include/meteorfast/*.h: the one place Cython learns the kernels' signatures. Every extern is
# nogil and except +, so a C++ exception (std::invalid_argument, std::runtime_error) becomes a Python one.
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "meteorfast/common.h" nogil:
    cdef struct CUstream_st
    ctypedef CUstream_st* mf_stream_t
    cdef enum mf_dtype:
        MF_FLOAT32
        MF_FLOAT16
    cdef enum mf_localize_mode:
        MF_LOCALIZE_PAPER
        MF_LOCALIZE_FUSED
    cdef enum mf_status:
        MF_OK
        MF_NONFINITE
    int MF_STACK_MAX_FRAMES


cdef extern from "meteorfast/cam.h" nogil:
    int64_t mf_cpu_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw,
                                  float* alpha) except +
    int64_t mf_cpu_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k,
                                int64_t hw, float* cam) except +
    int64_t mf_cpu_grad_cam(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n,
                            int64_t k, int64_t hw, float* alpha, float* cam) except +
    int64_t mf_cpu_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1,
                            int64_t w1, const float* geom, double in_h, double in_w, int mode, int radius, float* x,
                            float* y, float* peak) except +
    int64_t mf_cpu_postprocess(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n,
                               int64_t k, int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1,
                               const float* geom, double in_h, double in_w, int mode, int radius, float* cam,
                               float* x, float* y, float* peak) except +
    void mf_set_num_threads(int threads) except +
    int mf_get_num_threads() except +

    void mf_cuda_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, float* alpha,
                                int* status, mf_stream_t stream) except +
    void mf_cuda_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k,
                              int64_t hw, float* cam, int* status, mf_stream_t stream) except +
    void mf_cuda_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1,
                          int64_t w1, const float* geom, double in_h, double in_w, int mode, int radius, float* x,
                          float* y, float* peak, int* status, mf_stream_t stream) except +


cdef extern from "meteorfast/stack.h" nogil:
    void mf_cpu_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax,
                             uint32_t* sum, uint32_t* sumsq) except +
    void mf_cpu_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax,
                              uint64_t* sum, uint64_t* sumsq) except +
    void mf_cpu_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                                  int frames, float* mean, float* stdev, uint8_t* cand) except +
    void mf_cpu_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq, int64_t npix,
                                   int frames, float* mean, float* stdev, uint16_t* cand) except +

    void mf_cuda_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax,
                              uint32_t* sum, uint32_t* sumsq, mf_stream_t stream) except +
    void mf_cuda_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax,
                               uint64_t* sum, uint64_t* sumsq, mf_stream_t stream) except +
    void mf_cuda_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                                   int frames, float* mean, float* stdev, uint8_t* cand,
                                   mf_stream_t stream) except +
    void mf_cuda_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq,
                                    int64_t npix, int frames, float* mean, float* stdev, uint16_t* cand,
                                    mf_stream_t stream) except +


cdef extern from "meteorfast/device.h" nogil:
    int mf_cuda_device_count(char* reason, int reason_len) except +
    int mf_cuda_runtime_version() except +
    const char* mf_cuda_built_archs() except +
    void* mf_cuda_malloc(size_t nbytes) except +
    void mf_cuda_free(void* ptr) except +
    void mf_cuda_memset_async(void* dst, int value, size_t nbytes, mf_stream_t stream) except +
    void mf_cuda_copy_h2d_async(void* dst, const void* src, size_t nbytes, mf_stream_t stream) except +
    void mf_cuda_copy_d2h_async(void* dst, const void* src, size_t nbytes, mf_stream_t stream) except +
    void mf_cuda_stream_wait(mf_stream_t waiter, mf_stream_t producer) except +
    mf_stream_t mf_cuda_stream_create() except +
    void mf_cuda_stream_destroy(mf_stream_t stream) except +
    void mf_cuda_stream_synchronize(mf_stream_t stream) except +
