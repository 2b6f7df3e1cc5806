// tensor_format.h: PyTorch's tensor repr, reproduced character for character.
//
// Works on plain values so it does not depend on where the tensor lives: the caller
// gathers the elements (row-major) and the flags, this file does the text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtype.h"

namespace nnscope {

struct ReprInput {
    std::vector<int64_t> shape; // () for a scalar
    DType dtype = DType::Float32;
    std::vector<double> values;          // row-major, one per element (floating and bool dtypes)
    std::vector<int64_t> int_values;     // row-major, one per element (integral dtypes)
    std::vector<uint64_t> uint64_values; // uint64 tensors instead (values past INT64_MAX)
    std::vector<double> imag_values;     // complex dtypes: the imaginary parts (values: the real)
    std::string device = "cpu";          // "cpu", "cuda:0", ...
    bool requires_grad = false;
    bool is_parameter = false; // "Parameter containing:\n" prefix
};

// The text of Python's `repr(t)` for a tensor (or nn.Parameter) with these properties.
std::string format_repr(const ReprInput& in);

} // namespace nnscope
