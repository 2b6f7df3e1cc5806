// activations.h: one row per elementwise activation with hyper-parameters or an in-place
// ATen twin: PyTorch's module class, ATen's operator and its arguments (with defaults), how
// many of those the module takes as hyper-parameters, and the function. layers/registry.cpp
// builds the modules from these rows and script/ops_nn.cpp registers aten::NAME and, where
// ATen has it, aten::NAME_ from them: adding an activation is adding its row.
#pragma once

#include <string>
#include <vector>

#include "tensor.h"

namespace nnscope {

struct ActivationArg {
    const char* name; // ATen's argument name, and the module's hyper-parameter of that name
    double dflt;
};

struct Activation {
    const char* module; // "LeakyReLU": torch.nn's class
    const char* aten;   // "leaky_relu": aten::leaky_relu, and aten::leaky_relu_ when in_place
    std::vector<ActivationArg> args; // after self, in ATen's order
    size_t module_args;              // the first this many are the module's hyper-parameters
    bool in_place;                   // ATen has NAME_ (nn's inplace=True calls it)
    // The output for x; `a` holds every argument (defaults filled in). Throws for values
    // nnscope does not implement (ELU's scale).
    Tensor (*fn)(const Tensor& x, const std::vector<double>& a);
    // What is wrong with a module's hyper-parameters, "" when nothing: Hardtanh's bounds.
    std::string (*check)(const std::vector<double>& a) = nullptr;
};

const std::vector<Activation>& activations();

// The module's extra_repr: its hyper-parameters as PyTorch prints them ("negative_slope=0.01").
std::string activation_repr(const Activation& act, const std::vector<double>& a);

} // namespace nnscope
