// Shared definitions for the meteorfast kernels: the HOST_DEVICE qualifier, dtype and mode codes, and the
// stream type. Nothing here needs the CUDA headers, so the CPU build never sees them.
#pragma once

#include <stdint.h>

#ifndef HOST_DEVICE
#ifdef __CUDACC__
#define HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HOST_DEVICE inline
#endif
#endif

// Layout-compatible with cudaStream_t (`typedef struct CUstream_st *cudaStream_t`), so a stream handle from
// pycuda, TensorRT or the runtime can be passed without this header including cuda_runtime.h.
struct CUstream_st;
typedef struct CUstream_st* mf_stream_t;

// Element types accepted for float tensors coming out of an engine (FP32 or FP16 builds).
enum mf_dtype { MF_FLOAT32 = 0, MF_FLOAT16 = 1 };

// Localisation modes (see localize.h).
enum mf_localize_mode { MF_LOCALIZE_PAPER = 0, MF_LOCALIZE_FUSED = 1 };

// Status bits a CUDA kernel ORs into its device status word; the CPU kernels throw instead.
enum mf_status { MF_OK = 0, MF_NONFINITE = 1 };

// pytorch-grad-cam's epsilon in `cam / (max + eps)`; the fine map is normalised with the same value.
#define MF_CAM_EPS 1e-7f

// Frame indices in the stacking accumulators are uint16, so a window holds at most this many frames.
#define MF_STACK_MAX_FRAMES 65535
