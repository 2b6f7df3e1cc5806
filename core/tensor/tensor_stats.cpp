// tensor_stats.cpp: one pass (Welford) over the widened values.
#include "tensor_stats.h"

#include <cmath>
#include <limits>

namespace nnscope {

std::vector<double> stat_values(const Tensor& t) {
    if (!dtype_is_complex(t.dtype())) return t.to_doubles();
    const std::vector<double> ri = t.to_real_imag();
    std::vector<double> out(ri.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) out[i] = std::hypot(ri[2 * i], ri[2 * i + 1]);
    return out;
}

TensorStats tensor_stats(const Tensor& t) {
    TensorStats s;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.max = s.mean = s.std = s.norm = nan; // nothing finite: nothing to say
    if (!t.defined()) return s;
    std::vector<double> v = stat_values(t);
    s.of_magnitudes = dtype_is_complex(t.dtype());
    s.count = int64_t(v.size());
    if (v.empty()) s.norm = 0; // torch.norm of an empty tensor
    double mean = 0, m2 = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
    for (double x : v) {
        if (std::isnan(x)) {
            ++s.nan;
            continue;
        }
        if (std::isinf(x)) {
            ++s.inf;
            continue;
        }
        ++s.finite;
        double d = x - mean;
        mean += d / double(s.finite);
        m2 += d * (x - mean);
        sq += x * x;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
    if (s.finite > 0) {
        s.min = lo;
        s.max = hi;
        s.mean = mean;
        s.std = s.finite > 1 ? std::sqrt(m2 / double(s.finite - 1)) : nan;
        s.norm = std::sqrt(sq);
    }
    return s;
}

} // namespace nnscope
