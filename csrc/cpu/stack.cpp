// CPU stacking kernels: OpenMP over pixels, per-pixel math from meteorfast/math.h.
#include "meteorfast/stack.h"

#include <stdexcept>
#include <string>

#include "meteorfast/detail/checks.h"
#include "meteorfast/math.h"

namespace {

template <typename T, typename Acc>
void add(const T* __restrict__ frame, int64_t npix, int t, T* __restrict__ max, uint16_t* __restrict__ amax,
         Acc* __restrict__ sum, Acc* __restrict__ sumsq) {
    mf::detail::check_add(npix, t);
    const uint16_t tt = (uint16_t)t;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < npix; ++i) mf::stack_update(frame[i], tt, max + i, amax + i, sum + i, sumsq + i);
}

template <typename T, typename Acc>
void finalize(const T* max, const Acc* sum, const Acc* sumsq, int64_t npix, int frames, float* mean, float* stdev,
              T* cand) {
    mf::detail::check_finalize(npix, frames);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < npix; ++i) {
        mf::stack_finalize(max[i], sum[i], sumsq[i], (uint32_t)frames, mean + i, stdev + i, cand + i);
    }
}

}  // namespace

void mf_cpu_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax, uint32_t* sum,
                         uint32_t* sumsq) {
    add(frame, npix, t, max, amax, sum, sumsq);
}

void mf_cpu_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax, uint64_t* sum,
                          uint64_t* sumsq) {
    add(frame, npix, t, max, amax, sum, sumsq);
}

void mf_cpu_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                              int frames, float* mean, float* stdev, uint8_t* cand) {
    finalize(max, sum, sumsq, npix, frames, mean, stdev, cand);
}

void mf_cpu_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq, int64_t npix,
                               int frames, float* mean, float* stdev, uint16_t* cand) {
    finalize(max, sum, sumsq, npix, frames, mean, stdev, cand);
}
