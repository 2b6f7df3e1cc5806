// repr.h: hyper-parameters as PyTorch's extra_repr prints them (Python's bool, float and
// tuple reprs).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nnscope {

inline std::string py_bool(bool b) {
    return b ? "True" : "False";
}
inline std::string py_float(double v) {
    // Python's repr of a float for hyper-parameters (1e-05, 0.1).
    char buf[32];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    if (auto e = s.find('e'); e != std::string::npos) {
        // C prints 1e-05 the same way Python does; keep as is.
        return s;
    }
    if (s.find('.') == std::string::npos && s.find("inf") == std::string::npos &&
        s.find("nan") == std::string::npos)
        s += ".0";
    return s;
}
inline std::string pair_str(const std::array<int64_t, 2>& p) {
    return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}
} // namespace nnscope
