// fusion.h: where a method's top-level statements call a Conv2d, then a BatchNorm2d on its
// result, then perhaps a ReLU on that (torchvision's models and nn.Sequential read so once
// scripted), found once per method from the code alone. The interpreter runs such a span
// as one convolution with the BatchNorm folded in (F::conv_bn_eval) when the modules turn
// out to be those layers, BatchNorm is in eval mode and grad mode is off; otherwise it runs
// the statements as written. The intermediate results must not be read after the span.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ast.h"

namespace nnscope::script {

struct ConvBnPlan {
    size_t conv_call = 0;        // statement `O = (conv).forward(X, )`
    size_t bn_call = 0;          // statement `P = (bn).forward(O, )`
    size_t relu_call = 0;        // statement `Q = (relu).forward(P, )`, or 0 for none
    std::vector<size_t> fetches; // attribute fetches between them (`bn1 = self.bn1`), run first
    const Expr* conv = nullptr;
    const Expr* bn = nullptr;
    const Expr* relu = nullptr;
    const Expr* input = nullptr;
    std::string bn_result, relu_result; // P and Q
};

// The plans of a function body, by the index of their conv call.
std::unordered_map<size_t, ConvBnPlan> plan_conv_bn(const Block& body);

} // namespace nnscope::script
