// CUDA error checking: every runtime call and every launch goes through MF_CUDA_CHECK, which throws
// std::runtime_error naming the call, the file and the line.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace mf {
namespace cuda {

inline void check(cudaError_t err, const char* expr, const char* file, int line) {
    if (err != cudaSuccess) {
        throw std::runtime_error(std::string("CUDA error ") + std::to_string((int)err) + " (" +
                                 cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ") in " + expr + " at " +
                                 file + ":" + std::to_string(line));
    }
}

inline unsigned int blocks_for(int64_t count, unsigned int threads) {
    const int64_t b = (count + threads - 1) / threads;
    // A grid-stride loop covers the rest, so the grid need not exceed a size every sm_75+ part schedules well.
    return (unsigned int)(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

}  // namespace cuda
}  // namespace mf

#define MF_CUDA_CHECK(expr) ::mf::cuda::check((expr), #expr, __FILE__, __LINE__)

// After a launch: catches bad launch configurations at once, without synchronising.
#define MF_CUDA_CHECK_LAUNCH() MF_CUDA_CHECK(cudaGetLastError())
