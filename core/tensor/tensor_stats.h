// tensor_stats.h: the summary numbers the inspector shows for a tensor.
//
// NaN and Inf are counted, and min/max/mean/std/norm are taken over the finite elements
// only, so one bad value does not hide the rest; empty tensors give count 0 and NaNs.
#pragma once

#include <cstdint>

#include "tensor.h"

namespace nnscope {

struct TensorStats {
    int64_t count = 0;  // all elements
    int64_t finite = 0; // elements the statistics cover
    int64_t nan = 0, inf = 0;
    double min = 0, max = 0, mean = 0, std = 0, norm = 0; // std unbiased, as torch.std
    bool of_magnitudes = false;                           // a complex tensor's: over |z|
};

TensorStats tensor_stats(const Tensor& t);
// The values statistics and histograms are made of: the widened elements, or a complex
// tensor's magnitudes |z|.
std::vector<double> stat_values(const Tensor& t);

} // namespace nnscope
