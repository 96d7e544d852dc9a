// CPU Grad-CAM kernels: OpenMP over the batch, per-element math from meteorfast/math.h.
#include "meteorfast/cam.h"

#include <math.h>
#include <omp.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "meteorfast/detail/checks.h"
#include "meteorfast/math.h"

namespace {

template <typename G>
bool pool_item(const G* grad, int64_t k, int64_t hw, float* alpha) {
    bool finite = true;
    const float inv = 1.0f / (float)hw;
    for (int64_t c = 0; c < k; ++c) {
        const G* g = grad + c * hw;
        float s = 0.0f;
        for (int64_t i = 0; i < hw; ++i) s += mf::load_float(g, i);
        alpha[c] = s * inv;
        finite &= mf::is_finite(s);
    }
    return finite;
}

// cam[:] = sum_k alpha[k] * feat[k, :], then ReLU and min-max. Returns false on a non-finite sum.
template <typename F>
bool cam_item(const F* feat, const float* alpha, int64_t k, int64_t hw, float* cam) {
    for (int64_t i = 0; i < hw; ++i) cam[i] = 0.0f;
    for (int64_t c = 0; c < k; ++c) {
        const F* f = feat + c * hw;
        const float a = alpha[c];
        for (int64_t i = 0; i < hw; ++i) cam[i] += a * mf::load_float(f, i);
    }
    bool finite = true;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < hw; ++i) {
        finite &= mf::is_finite(cam[i]);
        const float v = mf::relu(cam[i]);
        cam[i] = v;
        lo = i == 0 || v < lo ? v : lo;
        hi = i == 0 || v > hi ? v : hi;
    }
    for (int64_t i = 0; i < hw; ++i) cam[i] = mf::minmax_scale(cam[i], lo, hi);
    return finite;
}

template <typename G, typename F>
bool grad_cam_item(const G* grad, const F* feat, int64_t k, int64_t hw, float* alpha, float* cam) {
    const bool ok = pool_item(grad, k, hw, alpha);
    return cam_item(feat, alpha, k, hw, cam) && ok;
}

// Dispatches a per-item body over the (grad, feat) dtype pair.
template <typename Body>
bool with_dtypes(int grad_dtype, int feat_dtype, const void* grad, const void* feat, Body body) {
    if (grad_dtype == MF_FLOAT32 && feat_dtype == MF_FLOAT32)
        return body(static_cast<const float*>(grad), static_cast<const float*>(feat));
    if (grad_dtype == MF_FLOAT16 && feat_dtype == MF_FLOAT32)
        return body(static_cast<const uint16_t*>(grad), static_cast<const float*>(feat));
    if (grad_dtype == MF_FLOAT32 && feat_dtype == MF_FLOAT16)
        return body(static_cast<const float*>(grad), static_cast<const uint16_t*>(feat));
    return body(static_cast<const uint16_t*>(grad), static_cast<const uint16_t*>(feat));
}

// Returns false when the map holds NaN or Inf (lo and hi are then meaningless). Written as a SIMD reduction.
bool minmax(const float* p, int64_t count, float* lo, float* hi) {
    float a = INFINITY, b = -INFINITY;
    unsigned int bad = 0;
#pragma omp simd reduction(min : a) reduction(max : b) reduction(| : bad)
    for (int64_t i = 0; i < count; ++i) {
        const float v = p[i];
        bad |= mf::is_finite(v) ? 0u : 1u;
        a = v < a ? v : a;
        b = v > b ? v : b;
    }
    *lo = a;
    *hi = b;
    return bad == 0;
}

// cv2 INTER_LINEAR taps of one axis, computed once per call rather than per pixel.
struct Taps {
    std::vector<int> lo;
    std::vector<float> w1;
    Taps(int src, int dst) : lo((size_t)dst), w1((size_t)dst) {
        for (int d = 0; d < dst; ++d) mf::linear_tap(d, src, dst, &lo[(size_t)d], &w1[(size_t)d]);
    }
};

// Fused argmax: the CAM's rows are resampled horizontally once (hz, h x W), then each fine row is blended,
// scaled and scanned. The per-element operations are those of mf::fused_at, in the same order, so the result is
// bit-identical to it; only the loop structure differs, so that the compiler can vectorise the row.
int64_t fused_argmax(const float* cam, int h, int w, const float* fmap, int H, int W, float lo, float hi,
                     const Taps& rows, const Taps& cols, float* hz, float* row, float* best_out) {
    for (int y = 0; y < h; ++y) {
        for (int c = 0; c < W; ++c) hz[y * W + c] = mf::blend_row(cam, w, y, cols.lo[(size_t)c], cols.w1[(size_t)c]);
    }
    float best = -INFINITY;
    int64_t best_idx = 0;
    for (int r = 0; r < H; ++r) {
        const int y0 = rows.lo[(size_t)r];
        const int y1 = y0 + 1 < h ? y0 + 1 : y0;
        const float fy = rows.w1[(size_t)r];
        const float* top = hz + y0 * W;
        const float* bot = hz + y1 * W;
        const float* f = fmap + (int64_t)r * W;
        float m = -INFINITY;
#pragma omp simd reduction(max : m)
        for (int c = 0; c < W; ++c) {
            row[c] = mf::blend_col(top[c], bot[c], fy) * mf::minmax_scale(f[c], lo, hi);
            m = row[c] > m ? row[c] : m;
        }
        if (m > best) {
            best = m;
            int c = 0;
            while (row[c] != m) ++c;
            best_idx = (int64_t)r * W + c;
        }
    }
    *best_out = best;
    return best_idx;
}

struct Scratch {
    std::vector<float> hz, row;
};

bool localize_item(const float* cam, int h, int w, const float* fmap, int H, int W, const float* geom, double in_h,
                   double in_w, int mode, int radius, const Taps& rows, const Taps& cols, Scratch& scratch, float* x,
                   float* y, float* peak) {
    float clo, chi, lo, hi;
    if (!minmax(cam, (int64_t)h * w, &clo, &chi) || !minmax(fmap, (int64_t)H * W, &lo, &hi)) return false;
    for (int g = 0; g < 4; ++g) {
        if (!mf::is_finite(geom[g])) return false;
    }
    float u, v;
    if (mode == MF_LOCALIZE_PAPER) {
        int r, c;
        mf::paper_locate(cam, h, w, fmap, H, W, lo, hi, &r, &c, peak);
        u = (float)c + 0.5f;
        v = (float)r + 0.5f;
    } else {
        scratch.hz.resize((size_t)h * W);
        scratch.row.resize((size_t)W);
        const int64_t best =
            fused_argmax(cam, h, w, fmap, H, W, lo, hi, rows, cols, scratch.hz.data(), scratch.row.data(), peak);
        mf::fused_centroid(cam, h, w, fmap, H, W, lo, hi, (int)(best / W), (int)(best % W), radius, &u, &v);
    }
    mf::to_frame(u, v, H, W, in_h, in_w, geom, x, y);
    return true;
}

}  // namespace

void mf_set_num_threads(int threads) {
    if (threads < 1) throw std::invalid_argument("threads: expected >= 1, got " + std::to_string(threads));
    omp_set_num_threads(threads);
}

int mf_get_num_threads(void) { return omp_get_max_threads(); }

int64_t mf_cpu_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, float* alpha) {
    mf::detail::check_dims("pool_gradients", n, k, hw);
    mf::detail::check_dtype("pool_gradients", grad_dtype);
    int64_t bad = -1;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const bool ok = grad_dtype == MF_FLOAT32
                            ? pool_item(static_cast<const float*>(grad) + i * k * hw, k, hw, alpha + i * k)
                            : pool_item(static_cast<const uint16_t*>(grad) + i * k * hw, k, hw, alpha + i * k);
        if (!ok) {
#pragma omp critical(mf_bad)
            bad = bad < 0 || i < bad ? i : bad;
        }
    }
    return bad;
}

int64_t mf_cpu_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k, int64_t hw,
                         float* cam) {
    mf::detail::check_dims("weighted_cam", n, k, hw);
    mf::detail::check_dtype("weighted_cam", feat_dtype);
    int64_t bad = -1;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        bool ok = true;
        for (int64_t c = 0; c < k; ++c) ok &= mf::is_finite(alpha[i * k + c]);
        ok = (feat_dtype == MF_FLOAT32
                  ? cam_item(static_cast<const float*>(feat) + i * k * hw, alpha + i * k, k, hw, cam + i * hw)
                  : cam_item(static_cast<const uint16_t*>(feat) + i * k * hw, alpha + i * k, k, hw, cam + i * hw)) &&
             ok;
        if (!ok) {
#pragma omp critical(mf_bad)
            bad = bad < 0 || i < bad ? i : bad;
        }
    }
    return bad;
}

int64_t mf_cpu_grad_cam(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n, int64_t k,
                     int64_t hw, float* alpha, float* cam) {
    mf::detail::check_dims("grad_cam", n, k, hw);
    mf::detail::check_dtype("grad_cam", grad_dtype);
    mf::detail::check_dtype("grad_cam", feat_dtype);
    int64_t bad = -1;
#pragma omp parallel
    {
        std::vector<float> scratch(alpha ? 0 : (size_t)k);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            float* a = alpha ? alpha + i * k : scratch.data();
            const bool ok = with_dtypes(grad_dtype, feat_dtype, grad, feat, [&](auto g, auto f) {
                return grad_cam_item(g + i * k * hw, f + i * k * hw, k, hw, a, cam + i * hw);
            });
            if (!ok) {
#pragma omp critical(mf_bad)
                bad = bad < 0 || i < bad ? i : bad;
            }
        }
    }
    return bad;
}

int64_t mf_cpu_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1,
                     const float* geom, double in_h, double in_w, int mode, int radius, float* x, float* y,
                     float* peak) {
    mf::detail::check_localize_args(n, h, w, h1, w1, in_h, in_w, mode, radius);
    const Taps rows((int)h, (int)h1), cols((int)w, (int)w1);
    int64_t bad = -1;
#pragma omp parallel
    {
        Scratch scratch;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            if (!localize_item(cam + i * h * w, (int)h, (int)w, fmap + i * h1 * w1, (int)h1, (int)w1, geom + 4 * i,
                               in_h, in_w, mode, radius, rows, cols, scratch, x + i, y + i, peak + i)) {
#pragma omp critical(mf_bad)
                bad = bad < 0 || i < bad ? i : bad;
            }
        }
    }
    return bad;
}

int64_t mf_cpu_postprocess(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n, int64_t k,
                        int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1, const float* geom,
                        double in_h, double in_w, int mode, int radius, float* cam, float* x, float* y, float* peak) {
    mf::detail::check_dims("postprocess", n, k, h * w);
    mf::detail::check_dtype("postprocess", grad_dtype);
    mf::detail::check_dtype("postprocess", feat_dtype);
    mf::detail::check_localize_args(n, h, w, h1, w1, in_h, in_w, mode, radius);
    const int64_t hw = h * w;
    const Taps rows((int)h, (int)h1), cols((int)w, (int)w1);
    int64_t bad = -1;
#pragma omp parallel
    {
        std::vector<float> alpha((size_t)k);
        Scratch scratch;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            bool ok = with_dtypes(grad_dtype, feat_dtype, grad, feat, [&](auto g, auto f) {
                return grad_cam_item(g + i * k * hw, f + i * k * hw, k, hw, alpha.data(), cam + i * hw);
            });
            ok = ok && localize_item(cam + i * hw, (int)h, (int)w, fmap + i * h1 * w1, (int)h1, (int)w1, geom + 4 * i,
                                     in_h, in_w, mode, radius, rows, cols, scratch, x + i, y + i, peak + i);
            if (!ok) {
#pragma omp critical(mf_bad)
                bad = bad < 0 || i < bad ? i : bad;
            }
        }
    }
    return bad;
}
