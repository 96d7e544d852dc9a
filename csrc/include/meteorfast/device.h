// Host-side CUDA helpers for the Python bindings: device discovery, buffers and copies. Every function throws
// std::runtime_error (with the CUDA error name, file and line) on failure; none of the copies synchronises.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "meteorfast/common.h"

// Number of usable CUDA devices. On 0, writes why into reason (NUL-terminated, at most reason_len bytes):
// the runtime's own words, e.g. "CUDA driver version is insufficient for CUDA runtime version".
int mf_cuda_device_count(char* reason, int reason_len);

// CUDA runtime version this module was built with (e.g. 13000) and the SM architectures it carries SASS for,
// as a ';'-separated list (e.g. "75;80;86;89;90").
int mf_cuda_runtime_version(void);
const char* mf_cuda_built_archs(void);

void* mf_cuda_malloc(size_t bytes);
void mf_cuda_free(void* ptr);
void mf_cuda_memset_async(void* dst, int value, size_t bytes, mf_stream_t stream);
void mf_cuda_copy_h2d_async(void* dst, const void* src, size_t bytes, mf_stream_t stream);
void mf_cuda_copy_d2h_async(void* dst, const void* src, size_t bytes, mf_stream_t stream);
// Make `waiter` wait (on the device, not the host) for the work queued so far on `producer`.
void mf_cuda_stream_wait(mf_stream_t waiter, mf_stream_t producer);
mf_stream_t mf_cuda_stream_create(void);
void mf_cuda_stream_destroy(mf_stream_t stream);
void mf_cuda_stream_synchronize(mf_stream_t stream);
