// activations.cpp: the activation rows (see activations.h).
#include "activations.h"

#include "errors.h"
#include "functional.h"
#include "layers/repr.h"

namespace nnscope {

namespace {

Tensor elu(const Tensor& x, const std::vector<double>& a) {
    if (a[1] != 1.0 || a[2] != 1.0)
        throw NotImplementedError(
            "elu with scale or input_scale (SELU, CELU) is not supported yet");
    return F::elu(x, a[0]);
}

std::string hardtanh_bounds(const std::vector<double>& a) {
    return a[1] <= a[0] ? "max_val must be greater than min_val" : "";
}

} // namespace

const std::vector<Activation>& activations() {
    using A = const std::vector<double>&;
    static const std::vector<Activation> rows = {
        {"ReLU6", "relu6", {}, 0, false, [](const Tensor& x, A) { return F::clamp(x, 0.0, 6.0); }},
        {"LeakyReLU",
         "leaky_relu",
         {{"negative_slope", 0.01}},
         1,
         true,
         [](const Tensor& x, A a) { return F::leaky_relu(x, a[0]); }},
        {"ELU", "elu", {{"alpha", 1.0}, {"scale", 1.0}, {"input_scale", 1.0}}, 1, true, elu},
        {"SiLU", "silu", {}, 0, true, [](const Tensor& x, A) { return F::silu(x); }},
        {"Mish", "mish", {}, 0, true, [](const Tensor& x, A) { return F::mish(x); }},
        {"Hardswish", "hardswish", {}, 0, true, [](const Tensor& x, A) { return F::hardswish(x); }},
        {"Hardsigmoid",
         "hardsigmoid",
         {},
         0,
         true,
         [](const Tensor& x, A) { return F::hardsigmoid(x); }},
        {"Hardtanh",
         "hardtanh",
         {{"min_val", -1.0}, {"max_val", 1.0}},
         2,
         true,
         [](const Tensor& x, A a) { return F::clamp(x, a[0], a[1]); },
         hardtanh_bounds},
    };
    return rows;
}

std::string activation_repr(const Activation& act, const std::vector<double>& a) {
    std::string out;
    for (size_t k = 0; k < act.module_args; ++k)
        out += (k ? ", " : "") + std::string(act.args[k].name) + "=" + py_float(a[k]);
    return out;
}

} // namespace nnscope
