// ops_nn.cpp: ATen's neural-network operators (convolution, normalisation, pooling,
// activations, dropout, softmax) as the core's functional.h computes them for the
// native layers.
#include "../autograd.h"
#include "../errors.h"
#include "../functional.h"
#include "ops.h"

namespace nnscope::script {

namespace {

using K = Value::Kind;

Value T(Tensor t) {
    return Value::tensor(std::move(t));
}

std::array<int64_t, 2> pair(const Value& v, const char* what) {
    std::vector<int64_t> x = to_ints(v, 2, what);
    return {x[0], x[1]};
}

// stride=[] in a pooling schema means "the kernel size": {0, 0} tells functional.h so.
std::array<int64_t, 2> pool_stride(const Value& v) {
    if (v.is_none() || (v.is_sequence() && v.list->empty())) return {0, 0};
    return pair(v, "stride");
}

Value in_place(const Value& self, const Tensor& result) {
    Tensor t = self.t;
    t.copy_(result);
    return self;
}

Value conv(const Tensor& x, const Tensor& w, const Tensor& b, const Value& stride, const Value& padding,
           const Value& dilation, int64_t groups) {
    const int64_t spatial = w.dim() - 2;
    if (spatial != 2 && spatial != 1)
        throw NotImplementedError("convolution with " + std::to_string(spatial) + " spatial dims is not supported yet");
    const size_t n = size_t(spatial);
    std::vector<int64_t> st = to_ints(stride, n, "stride"), dil = to_ints(dilation, n, "dilation");
    std::vector<int64_t> pad;
    if (padding.kind == K::Str) { // "valid" or "same" (stride 1)
        if (padding.s == "valid") pad.assign(n, 0);
        else if (padding.s == "same") {
            for (size_t k = 0; k < n; ++k) {
                const int64_t total = dil[k] * (w.size(int64_t(k) + 2) - 1);
                if (total % 2 != 0) throw NotImplementedError("padding='same' with an even kernel is not supported yet");
                pad.push_back(total / 2);
            }
        } else {
            throw ValueError("Invalid padding string '" + padding.s + "'");
        }
    } else {
        pad = to_ints(padding, n, "padding");
    }
    if (spatial == 1) { // conv1d as conv2d over a height of 1
        Tensor y = F::conv2d(x.unsqueeze(-2), w.unsqueeze(-2), b, {1, st[0]}, {0, pad[0]}, {1, dil[0]}, groups);
        return T(y.squeeze(-2));
    }
    return T(F::conv2d(x, w, b, {st[0], st[1]}, {pad[0], pad[1]}, {dil[0], dil[1]}, groups));
}

Value batch_norm(ValueList& a, OpContext&) {
    // batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
    const Tensor& x = to_tensor(a[0], "input");
    if (x.dim() < 2) throw ValueError("batch_norm: expected at least 2D input (got " + std::to_string(x.dim()) + "D input)");
    Tensor rm = to_optional_tensor(a[3], "running_mean"), rv = to_optional_tensor(a[4], "running_var");
    return T(F::batch_norm(x, rm, rv, Tensor(), to_optional_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias"),
                           to_bool(a[5], "training"), to_double(a[6], "momentum"), to_double(a[7], "eps")));
}

Value dropout(ValueList& a, OpContext& ctx, bool in_place_op) {
    const Tensor& x = to_tensor(a[0], "input");
    const double p = to_double(a[1], "p");
    if (p < 0 || p > 1) throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
    Tensor y = F::dropout(x, p, to_bool(a[2], "train"), *ctx.generator);
    return in_place_op ? in_place(a[0], y) : T(y);
}

} // namespace

#define OP(...) [](ValueList& a, OpContext& ctx) -> Value { (void)ctx; __VA_ARGS__ }

void register_nn_ops() {
    auto aten = [](const char* schema, OpFn fn, const char* maps_to) { register_op("aten", schema, fn, maps_to); };

    aten("linear(input, weight, bias=None)", OP(
        return T(F::linear(to_tensor(a[0], "input"), to_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias")));), "F::linear");
    aten("conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)", OP(
        return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                    to_int(a[6], "groups"));), "F::conv2d (im2col + GEMM)");
    aten("conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)", OP(
        return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                    to_int(a[6], "groups"));), "F::conv2d over a height of 1");
    aten("_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, "
         "benchmark=False, deterministic=False, cudnn_enabled=True, allow_tf32=True)", OP(
        if (to_bool(a[6], "transposed")) throw NotImplementedError("transposed convolution is not supported yet");
        return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                    to_int(a[8], "groups"));), "F::conv2d (traced models' convolution)");
    aten("batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)", batch_norm,
         "F::batch_norm (updates running statistics in training)");
    aten("layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True)", OP(
        return T(F::layer_norm(to_tensor(a[0], "input"), to_ints(a[1], "normalized_shape"), to_optional_tensor(a[2], "weight"),
                               to_optional_tensor(a[3], "bias"), to_double(a[4], "eps")));), "F::layer_norm");
    aten("group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True)", OP(
        return T(F::group_norm(to_tensor(a[0], "input"), to_int(a[1], "num_groups"), to_optional_tensor(a[2], "weight"),
                               to_optional_tensor(a[3], "bias"), to_double(a[4], "eps")));), "F::group_norm");
    aten("max_pool2d(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)", OP(
        return T(F::max_pool2d(to_tensor(a[0], "self"), pair(a[1], "kernel_size"), pool_stride(a[2]), pair(a[3], "padding"),
                               pair(a[4], "dilation"), to_bool(a[5], "ceil_mode")));), "F::max_pool2d");
    aten("avg_pool2d(self, kernel_size, stride=[], padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)", OP(
        std::optional<int64_t> div;
        if (!a[6].is_none()) div = to_int(a[6], "divisor_override");
        return T(F::avg_pool2d(to_tensor(a[0], "self"), pair(a[1], "kernel_size"), pool_stride(a[2]), pair(a[3], "padding"),
                               to_bool(a[4], "ceil_mode"), to_bool(a[5], "count_include_pad"), div));), "F::avg_pool2d");
    aten("adaptive_avg_pool2d(self, output_size)", OP(
        const Tensor& x = to_tensor(a[0], "self");
        std::vector<int64_t> out = to_ints(a[1], 2, "output_size");
        return T(F::adaptive_avg_pool2d(x, {out[0], out[1]}));), "F::adaptive_avg_pool2d");
    aten("hardtanh(self, min_val=-1.0, max_val=1.0)", OP(
        return T(F::clamp(to_tensor(a[0], "self"), to_double(a[1], "min_val"), to_double(a[2], "max_val")));), "F::clamp");
    aten("hardtanh_(self, min_val=-1.0, max_val=1.0)", OP(
        return in_place(a[0], F::clamp(to_tensor(a[0], "self"), to_double(a[1], "min_val"), to_double(a[2], "max_val")));), "F::clamp, in place");
    aten("relu6(self)", OP(return T(F::clamp(to_tensor(a[0], "self"), 0.0, 6.0));), "F::clamp");
    aten("hardswish(self)", OP(return T(F::hardswish(to_tensor(a[0], "self")));), "F::hardswish");
    aten("hardswish_(self)", OP(return in_place(a[0], F::hardswish(to_tensor(a[0], "self")));), "F::hardswish, in place");
    aten("hardsigmoid(self)", OP(return T(F::hardsigmoid(to_tensor(a[0], "self")));), "F::hardsigmoid");
    aten("hardsigmoid_(self)", OP(return in_place(a[0], F::hardsigmoid(to_tensor(a[0], "self")));), "F::hardsigmoid, in place");
    aten("silu(self)", OP(return T(F::silu(to_tensor(a[0], "self")));), "F::silu");
    aten("silu_(self)", OP(return in_place(a[0], F::silu(to_tensor(a[0], "self")));), "F::silu, in place");
    aten("gelu(self, approximate=\"none\")", OP(
        const bool tanh = a[1].kind == K::Str && a[1].s == "tanh";
        return T(F::gelu(to_tensor(a[0], "self"), tanh));), "F::gelu");
    aten("dropout(input, p, train)", OP(return dropout(a, ctx, false);), "F::dropout (nnscope's own seeded masks)");
    aten("dropout_(input, p, train)", OP(return dropout(a, ctx, true);), "F::dropout, in place");
    aten("bernoulli_(self, p=0.5, generator=None)", OP(
        // Stochastic depth's mask: nnscope's own seeded generator, not PyTorch's stream.
        Tensor t = to_tensor(a[0], "self");
        const double p = to_double(a[1], "p");
        if (p < 0 || p > 1) throw Error("bernoulli_ expects p to be in [0, 1], but got p=" + std::to_string(p));
        std::vector<double> v = rand(t.shape(), *ctx.generator).to_doubles();
        for (double& x : v) x = x < p ? 1.0 : 0.0;
        t.copy_(from_doubles(v, t.shape(), TensorOptions(t.dtype()).with_device(t.device())));
        return a[0];), "uniform samples from nnscope's seeded generator");
    aten("softmax(self, dim, dtype=None)", OP(
        Tensor x = to_tensor(a[0], "self");
        if (!a[2].is_none()) x = x.to(to_dtype(a[2], "dtype"));
        return T(F::softmax(x, to_int(a[1], "dim")));), "F::softmax");
    aten("log_softmax(self, dim, dtype=None)", OP(
        Tensor x = to_tensor(a[0], "self");
        if (!a[2].is_none()) x = x.to(to_dtype(a[2], "dtype"));
        return T(F::log_softmax(x, to_int(a[1], "dim")));), "F::log_softmax");
    aten("embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)", OP(
        const int64_t p = to_int(a[2], "padding_idx");
        return T(F::embedding(to_tensor(a[1], "indices"), to_tensor(a[0], "weight"),
                              p < 0 ? std::nullopt : std::optional<int64_t>(p)));), "F::embedding");
    aten("constant_pad_nd(self, pad, value=0)", OP(
        return T(F::constant_pad(to_tensor(a[0], "self"), to_ints(a[1], "pad"), to_double(a[2], "value")));), "F::constant_pad");
    aten("pad(input, pad, mode=\"constant\", value=None)", OP(
        if (a[2].kind != K::Str || a[2].s != "constant")
            throw NotImplementedError("pad mode '" + str(a[2]) + "' is not supported yet");
        return T(F::constant_pad(to_tensor(a[0], "input"), to_ints(a[1], "pad"), a[3].is_none() ? 0.0 : to_double(a[3], "value")));), "F::constant_pad");
}

} // namespace nnscope::script
