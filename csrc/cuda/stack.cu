// CUDA stacking kernels: one thread per pixel (grid-stride), per-pixel math from meteorfast/math.h.
#include <cuda_runtime.h>

#include "check.cuh"
#include "meteorfast/detail/checks.h"
#include "meteorfast/math.h"
#include "meteorfast/stack.h"

namespace {

constexpr unsigned int kThreads = 256;

template <typename T, typename Acc>
__global__ void add_kernel(const T* __restrict__ frame, int64_t npix, uint16_t t, T* max, uint16_t* amax, Acc* sum,
                           Acc* sumsq) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < npix; i += (int64_t)gridDim.x * blockDim.x) {
        mf::stack_update(frame[i], t, max + i, amax + i, sum + i, sumsq + i);
    }
}

template <typename T, typename Acc>
__global__ void finalize_kernel(const T* __restrict__ max, const Acc* __restrict__ sum, const Acc* __restrict__ sumsq,
                                int64_t npix, uint32_t frames, float* mean, float* stdev, T* cand) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < npix; i += (int64_t)gridDim.x * blockDim.x) {
        mf::stack_finalize(max[i], sum[i], sumsq[i], frames, mean + i, stdev + i, cand + i);
    }
}

template <typename T, typename Acc>
void add(const T* frame, int64_t npix, int t, T* max, uint16_t* amax, Acc* sum, Acc* sumsq, mf_stream_t stream) {
    mf::detail::check_add(npix, t);
    if (npix == 0) return;
    add_kernel<<<mf::cuda::blocks_for(npix, kThreads), kThreads, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
        frame, npix, (uint16_t)t, max, amax, sum, sumsq);
    MF_CUDA_CHECK_LAUNCH();
}

template <typename T, typename Acc>
void finalize(const T* max, const Acc* sum, const Acc* sumsq, int64_t npix, int frames, float* mean, float* stdev,
              T* cand, mf_stream_t stream) {
    mf::detail::check_finalize(npix, frames);
    if (npix == 0) return;
    finalize_kernel<<<mf::cuda::blocks_for(npix, kThreads), kThreads, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
        max, sum, sumsq, npix, (uint32_t)frames, mean, stdev, cand);
    MF_CUDA_CHECK_LAUNCH();
}

}  // namespace

void mf_cuda_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax, uint32_t* sum,
                          uint32_t* sumsq, mf_stream_t stream) {
    add(frame, npix, t, max, amax, sum, sumsq, stream);
}

void mf_cuda_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax, uint64_t* sum,
                           uint64_t* sumsq, mf_stream_t stream) {
    add(frame, npix, t, max, amax, sum, sumsq, stream);
}

void mf_cuda_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                               int frames, float* mean, float* stdev, uint8_t* cand, mf_stream_t stream) {
    finalize(max, sum, sumsq, npix, frames, mean, stdev, cand, stream);
}

void mf_cuda_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq, int64_t npix,
                                int frames, float* mean, float* stdev, uint16_t* cand, mf_stream_t stream) {
    finalize(max, sum, sumsq, npix, frames, mean, stdev, cand, stream);
}
