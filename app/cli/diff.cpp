// diff.cpp: `nnscope-cli diff A B`: keys only in A or B, shape and dtype mismatches, and the
// largest absolute difference of each common key.
#include <cmath>
#include <iostream>

#include "common.h"

namespace nnscope::cli {

int cmd_diff(Args args) {
    size_t next = 0;
    Document a = open_source(args, next, "A");
    Document b = open_source(args, next, "B");
    if (next < args.positional.size()) throw UsageError("diff takes two files");
    StateDict sa = a.root->state_dict(), sb = b.root->state_dict();
    json only_a = json::array(), only_b = json::array(), mismatches = json::array(), common = json::array();
    int differences = 0;
    for (const auto& [key, ta] : sa.tensors) {
        const Tensor* tb = sb.tensors.find(key);
        if (!tb) {
            only_a.push_back(key);
            ++differences;
            continue;
        }
        if (ta.shape() != tb->shape()) {
            mismatches.push_back({{"name", key}, {"what", "shape"}, {"a", shape_str(ta.shape())}, {"b", shape_str(tb->shape())}});
            ++differences;
            continue;
        }
        if (ta.dtype() != tb->dtype()) {
            mismatches.push_back({{"name", key}, {"what", "dtype"}, {"a", std::string(dtype_name(ta.dtype()))},
                                  {"b", std::string(dtype_name(tb->dtype()))}});
            ++differences;
        }
        std::vector<double> va = ta.to_doubles(), vb = tb->to_doubles();
        double max_diff = 0;
        bool nan = false;
        for (size_t i = 0; i < va.size(); ++i) {
            if (std::isnan(va[i]) && std::isnan(vb[i])) continue; // NaN in both places: equal
            if (va[i] == vb[i]) continue;                           // also equal infinities
            double d = std::fabs(va[i] - vb[i]);
            if (std::isnan(d)) nan = true;
            else max_diff = std::max(max_diff, d);
        }
        if (nan || max_diff > 0) ++differences;
        common.push_back({{"name", key}, {"max_abs_diff", nan ? json("nan") : json(max_diff)}});
    }
    for (const auto& [key, tb] : sb.tensors)
        if (!sa.tensors.contains(key)) {
            only_b.push_back(key);
            ++differences;
        }
    if (args.json) {
        json j = {{"a", a.path}, {"b", b.path}, {"only_in_a", only_a}, {"only_in_b", only_b},
                  {"mismatches", mismatches}, {"common", common}, {"differences", differences}};
        std::cout << j.dump(2) << "\n";
        return k_exit_ok;
    }
    std::cout << "--- " << a.path << "\n+++ " << b.path << "\n";
    for (const auto& k : only_a) std::cout << "only in A:  " << k.get<std::string>() << "\n";
    for (const auto& k : only_b) std::cout << "only in B:  " << k.get<std::string>() << "\n";
    for (const auto& m : mismatches)
        std::cout << m["what"].get<std::string>() << " differs: " << m["name"].get<std::string>() << "  "
                  << m["a"].get<std::string>() << " vs " << m["b"].get<std::string>() << "\n";
    for (const auto& c : common) {
        std::cout << "common:     " << c["name"].get<std::string>() << "  max abs diff ";
        if (c["max_abs_diff"].is_string()) std::cout << "nan\n";
        else std::cout << c["max_abs_diff"].get<double>() << "\n";
    }
    std::cout << (differences ? std::to_string(differences) + " difference(s)" : std::string("identical")) << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
