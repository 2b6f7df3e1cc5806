// state_diff.h: what differs between two state dicts: keys on one side only, shape and
// dtype mismatches, and the largest absolute difference of each common key. Shared by
// `nnscope-cli diff` and the window's diff view.
#pragma once

#include <string>
#include <vector>

#include "module.h"

namespace nnscope {

struct StateDiff {
    struct Mismatch {
        std::string name, what, a, b; // what: "shape" or "dtype"
    };
    struct Common {
        std::string name;
        double max_abs_diff = 0; // NaN where the values disagree by NaN
    };
    std::vector<std::string> only_a, only_b;
    std::vector<Mismatch> mismatches;
    std::vector<Common> common; // keys with equal shapes, in A's order
    int differences = 0;
};

StateDiff diff_state_dicts(const StateDict& a, const StateDict& b);

} // namespace nnscope
