// examples.h: the built-in example models (resources/examples/*.json, compiled in).
#pragma once

#include <string>
#include <vector>

namespace nnscope {

struct Example {
    std::string name; // file stem, e.g. "mlp-batchnorm"
    std::string json; // the spec text
};

// In name order; "mlp-batchnorm" is the default example.
const std::vector<Example>& builtin_examples();
inline constexpr const char* k_default_example = "mlp-batchnorm";

} // namespace nnscope
