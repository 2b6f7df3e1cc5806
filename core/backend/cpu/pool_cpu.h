// pool_cpu.h: max pooling's host kernels (pool_cpu.cpp): window maxima with ATen's choice of
// index, and the scatter of their gradient: the CPU backend's window_max and
// window_max_backward for float32 and float64.
#pragma once

#include <cstdint>
#include <vector>

#include "pool_windows.h"

namespace nnscope::pool_cpu {

// For `planes` contiguous planes [h, w] of x: each output (i, j)'s maximum over rows[i] x
// cols[j] into values, and into index (null: not wanted) the flat position h * w + w of the
// first maximum in scan order (rows outer), a NaN winning, as ATen picks it.
void window_max(const float* x, int64_t planes, int64_t h, int64_t w,
                const std::vector<PoolTaps>& rows, const std::vector<PoolTaps>& cols, float* values,
                int64_t* index);
void window_max(const double* x, int64_t planes, int64_t h, int64_t w,
                const std::vector<PoolTaps>& rows, const std::vector<PoolTaps>& cols,
                double* values, int64_t* index);

// gx (planes x hw, zeroed by the caller) += g at each plane's index: the maxima's gradient.
void scatter_grads(const float* g, const int64_t* index, int64_t planes, int64_t per_plane,
                   int64_t hw, float* gx);
void scatter_grads(const double* g, const int64_t* index, int64_t planes, int64_t per_plane,
                   int64_t hw, double* gx);

} // namespace nnscope::pool_cpu
