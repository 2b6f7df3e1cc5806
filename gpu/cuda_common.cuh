// cuda_common.cuh: error checking for CUDA and cuBLAS calls. Every failed call becomes a
// nnscope::DeviceError naming the call, the file and the line. CUDA keeps the last error of
// a failed call (a failed cudaMalloc, a bad launch) and reports it again from the next
// healthy call: CUDA_CHECK reads it back (cudaGetLastError) before throwing, so one failure
// is reported once. Sticky errors (a kernel's illegal address) stay until the process ends,
// as CUDA has it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "errors.h"

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess) {                                                                 \
            (void)cudaGetLastError();                                                              \
            throw ::nnscope::DeviceError(std::string(#call) +                                      \
                                         " failed: " + cudaGetErrorString(err_) +                  \
                                         " (" __FILE__ ":" + std::to_string(__LINE__) + ")");      \
        }                                                                                          \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                          \
            throw ::nnscope::DeviceError(std::string(#call) +                                      \
                                         " failed: " + cublasGetStatusString(st_) +                \
                                         " (" __FILE__ ":" + std::to_string(__LINE__) + ")");      \
    } while (0)
