// Host-side CUDA helpers (see meteorfast/device.h).
#include <cuda_runtime.h>
#include <string.h>

#include "check.cuh"
#include "meteorfast/device.h"

#ifndef MF_CUDA_ARCHS
#error "setup.py defines MF_CUDA_ARCHS to the architectures it passes to nvcc"
#endif

namespace {
cudaStream_t as_stream(mf_stream_t s) { return reinterpret_cast<cudaStream_t>(s); }
}  // namespace

int mf_cuda_device_count(char* reason, int reason_len) {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        // Reading the (non-sticky) error resets it, so later calls report their own failures.
        (void)cudaGetLastError();
        count = 0;
        if (reason && reason_len > 0) {
            strncpy(reason, cudaGetErrorString(err), (size_t)reason_len - 1);
            reason[reason_len - 1] = '\0';
        }
    } else if (count == 0 && reason && reason_len > 0) {
        strncpy(reason, "the CUDA runtime found no device", (size_t)reason_len - 1);
        reason[reason_len - 1] = '\0';
    }
    return count;
}

int mf_cuda_runtime_version(void) { return CUDART_VERSION; }

const char* mf_cuda_built_archs(void) { return MF_CUDA_ARCHS; }

void* mf_cuda_malloc(size_t bytes) {
    void* ptr = nullptr;
    MF_CUDA_CHECK(cudaMalloc(&ptr, bytes < 1 ? 1 : bytes));
    return ptr;
}

void mf_cuda_free(void* ptr) { MF_CUDA_CHECK(cudaFree(ptr)); }

void mf_cuda_memset_async(void* dst, int value, size_t bytes, mf_stream_t stream) {
    MF_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, as_stream(stream)));
}

void mf_cuda_copy_h2d_async(void* dst, const void* src, size_t bytes, mf_stream_t stream) {
    MF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)));
}

void mf_cuda_copy_d2h_async(void* dst, const void* src, size_t bytes, mf_stream_t stream) {
    MF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)));
}

void mf_cuda_stream_wait(mf_stream_t waiter, mf_stream_t producer) {
    if (waiter == producer) return;
    cudaEvent_t ev = nullptr;
    MF_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    const cudaError_t rec = cudaEventRecord(ev, as_stream(producer));
    const cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(as_stream(waiter), ev, 0) : rec;
    // An event destroyed while a wait on it is pending is released once the wait completes.
    MF_CUDA_CHECK(cudaEventDestroy(ev));
    MF_CUDA_CHECK(wait);
}

mf_stream_t mf_cuda_stream_create(void) {
    cudaStream_t s = nullptr;
    MF_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return reinterpret_cast<mf_stream_t>(s);
}

void mf_cuda_stream_destroy(mf_stream_t stream) { MF_CUDA_CHECK(cudaStreamDestroy(as_stream(stream))); }

void mf_cuda_stream_synchronize(mf_stream_t stream) { MF_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream))); }
