// Per-element math shared by the CPU (cpu/*.cpp) and CUDA (cuda/*.cu) kernels. Written once, so the two builds
// cannot drift apart; meteorfast/cam/reference.py states the same rules in NumPy and is the test oracle.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "meteorfast/common.h"

namespace mf {

HOST_DEVICE float bits_to_float(uint32_t bits) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(bits);
#else
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

HOST_DEVICE uint32_t float_to_bits(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
#endif
}

// Bit test rather than isfinite(): it stays correct under -ffast-math, which would let the compiler assume no
// NaN exists and drop the check.
HOST_DEVICE bool is_finite(float f) { return (float_to_bits(f) & 0x7f800000u) != 0x7f800000u; }

// IEEE binary16 -> binary32, exact for every input (subnormals, infinities and NaN included).
HOST_DEVICE float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        // Zero or subnormal: mant * 2^-24, exactly representable in float.
        const float mag = (float)mant * 5.9604644775390625e-08f;
        return bits_to_float(float_to_bits(mag) | sign);
    }
    if (exp == 31) return bits_to_float(sign | 0x7f800000u | (mant << 13));
    return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

template <typename T>
HOST_DEVICE float load_float(const T* p, int64_t i);

template <>
HOST_DEVICE float load_float<float>(const float* p, int64_t i) {
    return p[i];
}

template <>
HOST_DEVICE float load_float<uint16_t>(const uint16_t* p, int64_t i) {
    return half_to_float(p[i]);
}

HOST_DEVICE float relu(float v) { return v > 0.0f ? v : 0.0f; }

// pytorch-grad-cam's scaling: (v - min) / ((max - min) + eps). An all-zero or constant map becomes all zeros.
HOST_DEVICE float minmax_scale(float v, float lo, float hi) { return (v - lo) / ((hi - lo) + MF_CAM_EPS); }

// One tap pair of cv2.resize INTER_LINEAR (float path): destination index d of a dst_size axis, sampled from a
// src_size axis. Writes the lower source index and the weight of the upper one. The coordinate is computed in
// double and rounded to float, and borders clamp, exactly as OpenCV's resize.cpp does.
HOST_DEVICE void linear_tap(int d, int src_size, int dst_size, int* s0, float* w1) {
    const double scale = (double)src_size / (double)dst_size;
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    if (s < 0) {
        s = 0;
        f = 0.0f;
    }
    if (s >= src_size - 1) {
        s = src_size - 1;
        f = 0.0f;
    }
    *s0 = s;
    *w1 = f;
}

// One horizontal tap pair applied to row y of a row-major [h, w] map.
HOST_DEVICE float blend_row(const float* map, int w, int y, int x0, float fx) {
    const int x1 = x0 + 1 < w ? x0 + 1 : x0;
    return map[y * w + x0] * (1.0f - fx) + map[y * w + x1] * fx;
}

// The vertical blend of two horizontally resampled rows.
HOST_DEVICE float blend_col(float top, float bot, float fy) { return top * (1.0f - fy) + bot * fy; }

// Bilinear sample of a row-major [h, w] map at destination cell (r, c) of an [H, W] grid: horizontal pass on the
// two source rows first, then the vertical blend, in OpenCV's order of operations.
HOST_DEVICE float upsample_at(const float* map, int h, int w, int H, int W, int r, int c) {
    int y0, x0;
    float fy, fx;
    linear_tap(r, h, H, &y0, &fy);
    linear_tap(c, w, W, &x0, &fx);
    const int y1 = y0 + 1 < h ? y0 + 1 : y0;
    return blend_col(blend_row(map, w, y0, x0, fx), blend_row(map, w, y1, x0, fx), fy);
}

// Rows (or columns) of an n_fine grid that lie under coarse cell i of an n_coarse grid: [lo, hi). Integer
// division partitions the fine grid; when the fine grid is smaller than the coarse one each cell still gets one.
HOST_DEVICE void block_under(int i, int n_coarse, int n_fine, int* lo, int* hi) {
    int a = (int)(((int64_t)i * n_fine) / n_coarse);
    int b = (int)(((int64_t)(i + 1) * n_fine) / n_coarse);
    if (a > n_fine - 1) a = n_fine - 1;
    if (b <= a) b = a + 1;
    *lo = a;
    *hi = b;
}

// Running argmax with the documented tie rule: the first (lowest flat index) maximum wins, as np.argmax.
HOST_DEVICE bool better(float v, int64_t idx, float best_v, int64_t best_idx) {
    return v > best_v || (v == best_v && idx < best_idx);
}

// ---- Localisation, per item. `cam` is one item's [h, w] map, `fmap` its [H, W] fine map, (lo, hi) the fine
// map's minimum and maximum. Positions are continuous fine-grid coordinates: cell (r, c) has centre
// (c + 0.5, r + 0.5).

// The fused map: the CAM, bilinearly upsampled to the fine grid, times the min-max-scaled fine map.
HOST_DEVICE float fused_at(const float* cam, int h, int w, const float* fmap, int H, int W, float lo, float hi, int r,
                           int c) {
    return upsample_at(cam, h, w, H, W, r, c) * minmax_scale(fmap[r * W + c], lo, hi);
}

// Intensity-weighted centroid of the fused map in the (2 radius + 1)^2 window around (r0, c0), clipped to the
// grid. Negative weights count as zero; an all-zero window gives the cell centre.
HOST_DEVICE void fused_centroid(const float* cam, int h, int w, const float* fmap, int H, int W, float lo, float hi,
                                int r0, int c0, int radius, float* u, float* v) {
    double sw = 0.0, su = 0.0, sv = 0.0;
    const int ra = r0 - radius < 0 ? 0 : r0 - radius;
    const int rb = r0 + radius > H - 1 ? H - 1 : r0 + radius;
    const int ca = c0 - radius < 0 ? 0 : c0 - radius;
    const int cb = c0 + radius > W - 1 ? W - 1 : c0 + radius;
    for (int r = ra; r <= rb; ++r) {
        for (int c = ca; c <= cb; ++c) {
            const float wgt = relu(fused_at(cam, h, w, fmap, H, W, lo, hi, r, c));
            sw += wgt;
            su += wgt * (c + 0.5);
            sv += wgt * (r + 0.5);
        }
    }
    if (sw > 0.0) {
        *u = (float)(su / sw);
        *v = (float)(sv / sw);
    } else {
        *u = (float)c0 + 0.5f;
        *v = (float)r0 + 0.5f;
    }
}

// The paper's rule: the argmax cell of the CAM is the region of interest, and the argmax of the fine map inside
// the block under that cell is the meteor. Writes the chosen fine cell and peak = cam[roi] * scaled fmap there.
HOST_DEVICE void paper_locate(const float* cam, int h, int w, const float* fmap, int H, int W, float lo, float hi,
                              int* r_out, int* c_out, float* peak) {
    int64_t best = 0;
    float best_v = cam[0];
    for (int64_t i = 1; i < (int64_t)h * w; ++i) {
        if (better(cam[i], i, best_v, best)) {
            best_v = cam[i];
            best = i;
        }
    }
    int r0, r1, c0, c1;
    block_under((int)(best / w), h, H, &r0, &r1);
    block_under((int)(best % w), w, W, &c0, &c1);
    int64_t fbest = (int64_t)r0 * W + c0;
    float fbest_v = fmap[fbest];
    for (int r = r0; r < r1; ++r) {
        for (int c = c0; c < c1; ++c) {
            const int64_t i = (int64_t)r * W + c;
            if (better(fmap[i], i, fbest_v, fbest)) {
                fbest_v = fmap[i];
                fbest = i;
            }
        }
    }
    *r_out = (int)(fbest / W);
    *c_out = (int)(fbest % W);
    *peak = best_v * minmax_scale(fbest_v, lo, hi);
}

// Fine-grid coordinates -> original-frame pixels: to model-input pixels by the fine cell size, then the item's
// geometry (scale_x, scale_y, offset_x, offset_y).
HOST_DEVICE void to_frame(float u, float v, int H, int W, double in_h, double in_w, const float* geom, float* x,
                          float* y) {
    const double xi = (double)u * (in_w / (double)W);
    const double yi = (double)v * (in_h / (double)H);
    *x = (float)(xi * geom[0] + geom[2]);
    *y = (float)(yi * geom[1] + geom[3]);
}

// Stacking (RMS FF style). The accumulators start at zero; frame t updates them in place. The strict '>' keeps
// the earliest frame that reached the maximum. The stores are unconditional selects, not a branch, so the CPU
// loop over pixels vectorises (a compiler may not invent a store a branch skips).
template <typename T, typename Acc>
HOST_DEVICE void stack_update(T v, uint16_t t, T* mx, uint16_t* amx, Acc* sum, Acc* sumsq) {
    const T m = *mx;
    const bool up = v > m;
    *mx = up ? v : m;
    *amx = up ? t : *amx;
    *sum += (Acc)v;
    *sumsq += (Acc)v * (Acc)v;
}

// mean and std are over the other n = frames - 1 frames (the maximum left out, as RMS does), population std,
// in double. The candidate is max - mean rounded half up, in exact integer arithmetic; it never exceeds max,
// so it always fits the input type.
template <typename T, typename Acc>
HOST_DEVICE void stack_finalize(T mx, Acc sum, Acc sumsq, uint32_t frames, float* mean, float* stdev, T* cand) {
    const Acc n = (Acc)(frames - 1);
    const Acc s_rest = sum - (Acc)mx;
    const Acc q_rest = sumsq - (Acc)mx * (Acc)mx;
    const double m = (double)s_rest / (double)n;
    double var = (double)q_rest / (double)n - m * m;
    if (var < 0.0) var = 0.0;
    *mean = (float)m;
    *stdev = (float)sqrt(var);
    const Acc num = (Acc)mx * n - s_rest;
    *cand = (T)((num + n / 2) / n);
}

}  // namespace mf
