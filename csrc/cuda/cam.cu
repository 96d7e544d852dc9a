// CUDA Grad-CAM kernels. Device pointers in, device pointers out, on the caller's stream; nothing here
// synchronises. Per-element math comes from meteorfast/math.h, shared with the CPU build.
#include <cuda_runtime.h>

#include "check.cuh"
#include "meteorfast/cam.h"
#include "meteorfast/detail/checks.h"
#include "meteorfast/math.h"

namespace {

constexpr unsigned int kThreads = 256;
constexpr unsigned int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
    for (int off = kWarp / 2; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

// One warp per (item, channel) pair.
template <typename G>
__global__ void pool_kernel(const G* __restrict__ grad, int64_t pairs, int64_t hw, float* __restrict__ alpha,
                            int* status) {
    const int64_t warps_per_grid = (int64_t)gridDim.x * (blockDim.x / kWarp);
    const unsigned int lane = threadIdx.x % kWarp;
    for (int64_t p = (int64_t)blockIdx.x * (blockDim.x / kWarp) + threadIdx.x / kWarp; p < pairs;
         p += warps_per_grid) {
        const G* g = grad + p * hw;
        float s = 0.0f;
        for (int64_t i = lane; i < hw; i += kWarp) s += mf::load_float(g, i);
        s = warp_sum(s);
        if (lane == 0) {
            alpha[p] = s * (1.0f / (float)hw);  // the CPU kernel's expression, for the same rounding
            if (!mf::is_finite(s)) atomicOr(status, MF_NONFINITE);
        }
    }
}

// Block-wide min and max of one value per thread; every thread gets the result.
__device__ void block_minmax(float v_lo, float v_hi, float* lo, float* hi) {
    __shared__ float s_lo[kThreads];
    __shared__ float s_hi[kThreads];
    s_lo[threadIdx.x] = v_lo;
    s_hi[threadIdx.x] = v_hi;
    __syncthreads();
    for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            s_lo[threadIdx.x] = fminf(s_lo[threadIdx.x], s_lo[threadIdx.x + half]);
            s_hi[threadIdx.x] = fmaxf(s_hi[threadIdx.x], s_hi[threadIdx.x + half]);
        }
        __syncthreads();
    }
    *lo = s_lo[0];
    *hi = s_hi[0];
    __syncthreads();
}

// One block per item: weighted sum over channels per pixel, ReLU, then the item's min-max scaling.
template <typename F>
__global__ void cam_kernel(const F* __restrict__ feat, const float* __restrict__ alpha, int64_t k, int64_t hw,
                           float* __restrict__ cam, int* status) {
    const int64_t n = blockIdx.x;
    const F* f = feat + n * k * hw;
    const float* a = alpha + n * k;
    float* out = cam + n * hw;
    float lo = INFINITY, hi = -INFINITY;
    bool finite = true;
    for (int64_t p = threadIdx.x; p < hw; p += blockDim.x) {
        float acc = 0.0f;
        for (int64_t c = 0; c < k; ++c) acc += a[c] * mf::load_float(f, c * hw + p);
        finite = finite && mf::is_finite(acc);
        const float v = mf::relu(acc);
        out[p] = v;
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    if (!finite) atomicOr(status, MF_NONFINITE);
    block_minmax(lo, hi, &lo, &hi);
    for (int64_t p = threadIdx.x; p < hw; p += blockDim.x) out[p] = mf::minmax_scale(out[p], lo, hi);
}

// One block per item. The min/max of the fine map and the fused argmax are block reductions; the small
// sequential parts (paper ROI search, centroid window) run on thread 0 with the shared HOST_DEVICE code.
__global__ void localize_kernel(const float* __restrict__ cam, int h, int w, const float* __restrict__ fmap, int H,
                                int W, const float* __restrict__ geom, double in_h, double in_w, int mode, int radius,
                                float* x, float* y, float* peak, int* status) {
    __shared__ float s_val[kThreads];
    __shared__ int64_t s_idx[kThreads];
    __shared__ int s_bad;
    const int64_t n = blockIdx.x;
    const float* c_item = cam + n * h * w;
    const float* f_item = fmap + n * (int64_t)H * W;
    if (threadIdx.x == 0) s_bad = 0;
    __syncthreads();

    float lo = INFINITY, hi = -INFINITY;
    bool finite = true;
    for (int64_t i = threadIdx.x; i < (int64_t)H * W; i += blockDim.x) {
        const float v = f_item[i];
        finite = finite && mf::is_finite(v);
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    for (int64_t i = threadIdx.x; i < (int64_t)h * w; i += blockDim.x) finite = finite && mf::is_finite(c_item[i]);
    if (threadIdx.x < 4) finite = finite && mf::is_finite(geom[4 * n + threadIdx.x]);
    if (!finite) atomicOr(&s_bad, 1);
    block_minmax(lo, hi, &lo, &hi);
    if (s_bad) {
        if (threadIdx.x == 0) atomicOr(status, MF_NONFINITE);
        return;
    }

    float u = 0.0f, v = 0.0f;
    if (mode == MF_LOCALIZE_PAPER) {
        if (threadIdx.x == 0) {
            int r, c;
            mf::paper_locate(c_item, h, w, f_item, H, W, lo, hi, &r, &c, &peak[n]);
            u = (float)c + 0.5f;
            v = (float)r + 0.5f;
        }
    } else {
        float best_v = -INFINITY;
        int64_t best = INT64_MAX;
        for (int64_t i = threadIdx.x; i < (int64_t)H * W; i += blockDim.x) {
            const float val = mf::fused_at(c_item, h, w, f_item, H, W, lo, hi, (int)(i / W), (int)(i % W));
            if (mf::better(val, i, best_v, best)) {
                best_v = val;
                best = i;
            }
        }
        s_val[threadIdx.x] = best_v;
        s_idx[threadIdx.x] = best;
        __syncthreads();
        for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
            if (threadIdx.x < half &&
                mf::better(s_val[threadIdx.x + half], s_idx[threadIdx.x + half], s_val[threadIdx.x],
                           s_idx[threadIdx.x])) {
                s_val[threadIdx.x] = s_val[threadIdx.x + half];
                s_idx[threadIdx.x] = s_idx[threadIdx.x + half];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            peak[n] = s_val[0];
            mf::fused_centroid(c_item, h, w, f_item, H, W, lo, hi, (int)(s_idx[0] / W), (int)(s_idx[0] % W), radius,
                               &u, &v);
        }
    }
    if (threadIdx.x == 0) mf::to_frame(u, v, H, W, in_h, in_w, geom + 4 * n, &x[n], &y[n]);
}

cudaStream_t as_stream(mf_stream_t s) { return reinterpret_cast<cudaStream_t>(s); }

}  // namespace

void mf_cuda_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, float* alpha,
                            int* status, mf_stream_t stream) {
    mf::detail::check_dims("pool_gradients", n, k, hw);
    mf::detail::check_dtype("pool_gradients", grad_dtype);
    if (n == 0) return;
    const int64_t pairs = n * k;
    const unsigned int blocks = mf::cuda::blocks_for(pairs, kThreads / kWarp);
    if (grad_dtype == MF_FLOAT32) {
        pool_kernel<<<blocks, kThreads, 0, as_stream(stream)>>>(static_cast<const float*>(grad), pairs, hw, alpha,
                                                                status);
    } else {
        pool_kernel<<<blocks, kThreads, 0, as_stream(stream)>>>(static_cast<const uint16_t*>(grad), pairs, hw,
                                                                alpha, status);
    }
    MF_CUDA_CHECK_LAUNCH();
}

void mf_cuda_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k, int64_t hw,
                          float* cam, int* status, mf_stream_t stream) {
    mf::detail::check_dims("weighted_cam", n, k, hw);
    mf::detail::check_dtype("weighted_cam", feat_dtype);
    if (n == 0) return;
    if (n > INT32_MAX) throw std::invalid_argument("weighted_cam: expected N <= 2^31-1, got " + std::to_string(n));
    if (feat_dtype == MF_FLOAT32) {
        cam_kernel<<<(unsigned int)n, kThreads, 0, as_stream(stream)>>>(static_cast<const float*>(feat), alpha, k,
                                                                        hw, cam, status);
    } else {
        cam_kernel<<<(unsigned int)n, kThreads, 0, as_stream(stream)>>>(static_cast<const uint16_t*>(feat), alpha,
                                                                        k, hw, cam, status);
    }
    MF_CUDA_CHECK_LAUNCH();
}

void mf_cuda_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1,
                      const float* geom, double in_h, double in_w, int mode, int radius, float* x, float* y,
                      float* peak, int* status, mf_stream_t stream) {
    mf::detail::check_localize_args(n, h, w, h1, w1, in_h, in_w, mode, radius);
    if (n == 0) return;
    if (n > INT32_MAX) throw std::invalid_argument("localize: expected N <= 2^31-1, got " + std::to_string(n));
    localize_kernel<<<(unsigned int)n, kThreads, 0, as_stream(stream)>>>(cam, (int)h, (int)w, fmap, (int)h1, (int)w1,
                                                                          geom, in_h, in_w, mode, radius, x, y, peak,
                                                                          status);
    MF_CUDA_CHECK_LAUNCH();
}
