// Argument checks shared by the CPU and CUDA entry points (host code only). Each throws std::invalid_argument
// with what was expected and what came; the Cython layer turns that into meteorfast.errors.InputError.
#pragma once

#include <stdint.h>

#include <stdexcept>
#include <string>

#include "meteorfast/common.h"

namespace mf {
namespace detail {

inline void check_dims(const char* what, int64_t n, int64_t k, int64_t hw) {
    if (n < 0 || k < 1 || hw < 1) {
        throw std::invalid_argument(std::string(what) + ": expected N >= 0, K >= 1 and H*W >= 1, got N=" +
                                    std::to_string(n) + ", K=" + std::to_string(k) + ", H*W=" + std::to_string(hw));
    }
}

inline void check_dtype(const char* what, int dtype) {
    if (dtype != MF_FLOAT32 && dtype != MF_FLOAT16) {
        throw std::invalid_argument(std::string(what) + ": expected dtype code 0 (float32) or 1 (float16), got " +
                                    std::to_string(dtype));
    }
}

inline void check_localize_args(int64_t n, int64_t h, int64_t w, int64_t h1, int64_t w1, double in_h, double in_w,
                                int mode, int radius) {
    if (n < 0 || h < 1 || w < 1 || h1 < 1 || w1 < 1 || h * w > INT32_MAX || h1 * w1 > INT32_MAX) {
        throw std::invalid_argument("localize: expected N >= 0 and positive map sizes, got N=" + std::to_string(n) +
                                    ", cam " + std::to_string(h) + "x" + std::to_string(w) + ", fmap " +
                                    std::to_string(h1) + "x" + std::to_string(w1));
    }
    if (!(in_h > 0.0) || !(in_w > 0.0)) {
        throw std::invalid_argument("localize: expected a positive model input size, got " + std::to_string(in_h) +
                                    "x" + std::to_string(in_w));
    }
    if (mode != MF_LOCALIZE_PAPER && mode != MF_LOCALIZE_FUSED) {
        throw std::invalid_argument("localize: expected mode 0 (paper) or 1 (fused), got " + std::to_string(mode));
    }
    if (radius < 0) {
        throw std::invalid_argument("localize: expected a centroid radius >= 0, got " + std::to_string(radius));
    }
}

inline void check_add(int64_t npix, int t) {
    if (npix < 0) throw std::invalid_argument("stack_add: expected npix >= 0, got " + std::to_string(npix));
    if (t < 0 || t >= MF_STACK_MAX_FRAMES) {
        throw std::invalid_argument("stack_add: expected a frame index in [0, " +
                                    std::to_string(MF_STACK_MAX_FRAMES) + "), got " + std::to_string(t) +
                                    "; finalize and reset the window before it grows that long");
    }
}

inline void check_finalize(int64_t npix, int frames) {
    if (npix < 0) throw std::invalid_argument("stack_finalize: expected npix >= 0, got " + std::to_string(npix));
    if (frames < 2 || frames > MF_STACK_MAX_FRAMES) {
        throw std::invalid_argument("stack_finalize: expected between 2 and " + std::to_string(MF_STACK_MAX_FRAMES) +
                                    " frames (mean and std leave the maximum out), got " + std::to_string(frames));
    }
}

}  // namespace detail
}  // namespace mf
