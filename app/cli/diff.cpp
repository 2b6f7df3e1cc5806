// diff.cpp: `nnscope-cli diff A B`: keys only in A or B, shape and dtype mismatches, and the
// largest absolute difference of each common key (core/workspace/state_diff.h).
#include <cmath>
#include <iostream>

#include "common.h"
#include "state_diff.h"

namespace nnscope::cli {

int cmd_diff(Args args) {
    size_t next = 0;
    Document a = open_source(args, next, "A");
    Document b = open_source(args, next, "B");
    if (next < args.positional.size()) throw UsageError("diff takes two files");
    const StateDiff d = diff_state_dicts(a.root->state_dict(), b.root->state_dict());
    if (args.json) {
        json mismatches = json::array(), common = json::array();
        for (const auto& m : d.mismatches)
            mismatches.push_back({{"name", m.name}, {"what", m.what}, {"a", m.a}, {"b", m.b}});
        for (const auto& c : d.common)
            common.push_back({{"name", c.name},
                              {"max_abs_diff",
                               std::isnan(c.max_abs_diff) ? json("nan") : json(c.max_abs_diff)}});
        json j = {{"a", a.path},
                  {"b", b.path},
                  {"only_in_a", d.only_a},
                  {"only_in_b", d.only_b},
                  {"mismatches", mismatches},
                  {"common", common},
                  {"differences", d.differences}};
        std::cout << j.dump(2) << "\n";
        return k_exit_ok;
    }
    std::cout << "--- " << a.path << "\n+++ " << b.path << "\n";
    for (const auto& k : d.only_a) std::cout << "only in A:  " << k << "\n";
    for (const auto& k : d.only_b) std::cout << "only in B:  " << k << "\n";
    for (const auto& m : d.mismatches)
        std::cout << m.what << " differs: " << m.name << "  " << m.a << " vs " << m.b << "\n";
    for (const auto& c : d.common) {
        std::cout << "common:     " << c.name << "  max abs diff ";
        if (std::isnan(c.max_abs_diff))
            std::cout << "nan\n";
        else
            std::cout << c.max_abs_diff << "\n";
    }
    std::cout << (d.differences ? std::to_string(d.differences) + " difference(s)"
                                : std::string("identical"))
              << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
