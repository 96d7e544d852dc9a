// Grad-CAM post-processing kernels: gradient pooling, the CAM itself, and localisation with the first-layer map.
// Each kernel is declared once here, for the CPU build and the CUDA build. The CPU entry points take host
// pointers, throw std::invalid_argument on bad arguments, and return -1, or the lowest batch index whose input
// holds NaN or Inf (its outputs are then undefined). The CUDA
// entry points take device pointers and a stream, never synchronise, throw std::runtime_error on a CUDA error
// (file and line included), and report NaN/Inf by OR-ing MF_NONFINITE into the device word *status.
//
// Shapes are row-major and contiguous:
//   grad, feat  [N, K, H, W]  float32 or float16 (dtype code per array)
//   alpha       [N, K]        float32  alpha[n,k] = mean_{i,j} grad[n,k,i,j]
//   cam         [N, H, W]     float32  relu(sum_k alpha[n,k] * feat[n,k,i,j]), then per item (v-min)/((max-min)+1e-7)
//   fmap        [N, H1, W1]   float32  channel mean of the first-layer activation
//   geom        [N, 4]        float32  (scale_x, scale_y, offset_x, offset_y): x_frame = x_input * scale_x + offset_x
//   x, y, peak  [N]           float32
#pragma once

#include <stdint.h>

#include "meteorfast/common.h"

// ---- CPU (OpenMP over the batch) ----
int64_t mf_cpu_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, float* alpha);

int64_t mf_cpu_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k, int64_t hw,
                         float* cam);

// pool_gradients then weighted_cam in one pass per item; alpha may be NULL when the caller does not want it.
int64_t mf_cpu_grad_cam(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n, int64_t k,
                     int64_t hw, float* alpha, float* cam);

// Localisation. mode is MF_LOCALIZE_PAPER or MF_LOCALIZE_FUSED; radius is the centroid half-window of the fused
// mode (1 gives 3x3). (in_h, in_w) is the model input size, so one fmap cell spans in_w / w1 input pixels.
int64_t mf_cpu_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1,
                     const float* geom, double in_h, double in_w, int mode, int radius, float* x, float* y,
                     float* peak);

// grad_cam then localize, item by item, so each item's tensors are touched while they are in cache.
int64_t mf_cpu_postprocess(const void* grad, int grad_dtype, const void* feat, int feat_dtype, int64_t n, int64_t k,
                        int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1, const float* geom,
                        double in_h, double in_w, int mode, int radius, float* cam, float* x, float* y, float* peak);

void mf_set_num_threads(int threads);
int mf_get_num_threads(void);

// ---- CUDA ----
void mf_cuda_pool_gradients(const void* grad, int grad_dtype, int64_t n, int64_t k, int64_t hw, float* alpha,
                            int* status, mf_stream_t stream);

void mf_cuda_weighted_cam(const void* feat, int feat_dtype, const float* alpha, int64_t n, int64_t k, int64_t hw,
                          float* cam, int* status, mf_stream_t stream);

void mf_cuda_localize(const float* cam, int64_t n, int64_t h, int64_t w, const float* fmap, int64_t h1, int64_t w1,
                      const float* geom, double in_h, double in_w, int mode, int radius, float* x, float* y,
                      float* peak, int* status, mf_stream_t stream);
