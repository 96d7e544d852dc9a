// Streaming frame stacking (RMS FF style). Frames are added one at a time into preallocated accumulators, so a
// window never holds more than one frame in memory. Any frame shape works: the kernels see npix elements.
//
// Accumulators (zeroed by the caller before frame 0):
//   max    [npix] uint8 / uint16     amax [npix] uint16 (index of the first frame that reached max)
//   sum    [npix] uint32 / uint64    sumsq [npix] uint32 / uint64
// Finalize, for frames >= 2 (mean and std over the other frames - 1, see math.h):
//   mean, stdev [npix] float32       cand [npix] uint8 / uint16 = max - mean, rounded half up
//
// uint32 accumulators hold 255^2 * 65535, so the uint8 path is exact for every window up to MF_STACK_MAX_FRAMES.
#pragma once

#include <stdint.h>

#include "meteorfast/common.h"

void mf_cpu_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax, uint32_t* sum,
                         uint32_t* sumsq);
void mf_cpu_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax, uint64_t* sum,
                          uint64_t* sumsq);
void mf_cpu_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                              int frames, float* mean, float* stdev, uint8_t* cand);
void mf_cpu_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq, int64_t npix,
                               int frames, float* mean, float* stdev, uint16_t* cand);

void mf_cuda_stack_add_u8(const uint8_t* frame, int64_t npix, int t, uint8_t* max, uint16_t* amax, uint32_t* sum,
                          uint32_t* sumsq, mf_stream_t stream);
void mf_cuda_stack_add_u16(const uint16_t* frame, int64_t npix, int t, uint16_t* max, uint16_t* amax, uint64_t* sum,
                           uint64_t* sumsq, mf_stream_t stream);
void mf_cuda_stack_finalize_u8(const uint8_t* max, const uint32_t* sum, const uint32_t* sumsq, int64_t npix,
                               int frames, float* mean, float* stdev, uint8_t* cand, mf_stream_t stream);
void mf_cuda_stack_finalize_u16(const uint16_t* max, const uint64_t* sum, const uint64_t* sumsq, int64_t npix,
                                int frames, float* mean, float* stdev, uint16_t* cand, mf_stream_t stream);
