// state_diff.cpp: key-by-key comparison; NaN in the same place on both sides is equal.
#include "state_diff.h"

#include <cmath>

namespace nnscope {

StateDiff diff_state_dicts(const StateDict& sa, const StateDict& sb) {
    StateDiff d;
    for (const auto& [key, ta] : sa.tensors) {
        const Tensor* tb = sb.tensors.find(key);
        if (!tb) {
            d.only_a.push_back(key);
            ++d.differences;
            continue;
        }
        if (ta.shape() != tb->shape()) {
            d.mismatches.push_back({key, "shape", shape_str(ta.shape()), shape_str(tb->shape())});
            ++d.differences;
            continue;
        }
        if (ta.dtype() != tb->dtype()) {
            d.mismatches.push_back({key, "dtype", std::string(dtype_name(ta.dtype())),
                                    std::string(dtype_name(tb->dtype()))});
            ++d.differences;
        }
        std::vector<double> va = ta.to_doubles(), vb = tb->to_doubles();
        double max_diff = 0;
        bool nan = false;
        for (size_t i = 0; i < va.size(); ++i) {
            if (std::isnan(va[i]) && std::isnan(vb[i])) continue;
            if (va[i] == vb[i]) continue; // also equal infinities
            double diff = std::fabs(va[i] - vb[i]);
            if (std::isnan(diff))
                nan = true;
            else
                max_diff = std::max(max_diff, diff);
        }
        if (nan || max_diff > 0) ++d.differences;
        d.common.push_back({key, nan ? std::nan("") : max_diff});
    }
    for (const auto& [key, tb] : sb.tensors)
        if (!sa.tensors.contains(key)) {
            d.only_b.push_back(key);
            ++d.differences;
        }
    return d;
}

} // namespace nnscope
