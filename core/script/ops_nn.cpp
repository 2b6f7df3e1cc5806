// ops_nn.cpp: ATen's neural-network operators (convolution, normalisation, pooling,
// activations, dropout, softmax) as the core's functional.h computes them for the
// native layers.
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "activations.h"
#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "layers/repr.h"
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

int64_t pool_stride_1d(const Value& v) {
    if (v.is_none() || (v.is_sequence() && v.list->empty())) return 0;
    return to_ints(v, 1, "stride")[0];
}

// An in-place activation (hardtanh_, leaky_relu_, dropout_, ...): f(self) written into self.
// Under autograd f reads a copy, so what its backward saved is not the value written over
// (PyTorch's kernels save their results instead; the gradients are the same).
template <class Fn> Value in_place(const Value& self, Fn f) {
    Tensor t = to_tensor(self, "self");
    const Tensor result = f(autograd::should_record({&t}) ? t.clone() : t);
    t.copy_(result);
    return self;
}

Value conv(const Tensor& x, const Tensor& w, const Tensor& b, const Value& stride,
           const Value& padding, const Value& dilation, int64_t groups) {
    const int64_t spatial = w.dim() - 2;
    if (spatial != 2 && spatial != 1)
        throw NotImplementedError("convolution with " + std::to_string(spatial) +
                                  " spatial dims is not supported yet");
    const size_t n = size_t(spatial);
    std::vector<int64_t> st = to_ints(stride, n, "stride"), dil = to_ints(dilation, n, "dilation");
    std::vector<int64_t> pad;
    if (padding.kind == K::Str) { // "valid" or "same" (stride 1)
        if (padding.s == "valid")
            pad.assign(n, 0);
        else if (padding.s == "same") {
            for (size_t k = 0; k < n; ++k) {
                const int64_t total = dil[k] * (w.size(int64_t(k) + 2) - 1);
                if (total % 2 != 0)
                    throw NotImplementedError(
                        "padding='same' with an even kernel is not supported yet");
                pad.push_back(total / 2);
            }
        } else {
            throw ValueError("Invalid padding string '" + padding.s + "'");
        }
    } else {
        pad = to_ints(padding, n, "padding");
    }
    if (spatial == 1) return T(F::conv1d(x, w, b, st[0], pad[0], dil[0], groups));
    return T(F::conv2d(x, w, b, {st[0], st[1]}, {pad[0], pad[1]}, {dil[0], dil[1]}, groups));
}

Value conv_transposed(const Tensor& x, const Tensor& w, const Tensor& b, const Value& stride,
                      const Value& padding, const Value& output_padding, int64_t groups,
                      const Value& dilation) {
    if (w.dim() != 4)
        throw NotImplementedError("transposed convolution with " + std::to_string(w.dim() - 2) +
                                  " spatial dims is not supported yet");
    return T(F::conv_transpose2d(x, w, b, pair(stride, "stride"), pair(padding, "padding"),
                                 pair(output_padding, "output_padding"), groups,
                                 pair(dilation, "dilation")));
}

Value batch_norm(ValueList& a, OpContext&) {
    // batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
    const Tensor& x = to_tensor(a[0], "input");
    if (x.dim() < 2)
        throw ValueError("batch_norm: expected at least 2D input (got " + std::to_string(x.dim()) +
                         "D input)");
    Tensor rm = to_optional_tensor(a[3], "running_mean"),
           rv = to_optional_tensor(a[4], "running_var");
    return T(F::batch_norm(x, rm, rv, Tensor(), to_optional_tensor(a[1], "weight"),
                           to_optional_tensor(a[2], "bias"), to_bool(a[5], "training"),
                           to_double(a[6], "momentum"), to_double(a[7], "eps")));
}

Value dropout(ValueList& a, OpContext& ctx, bool in_place_op) {
    const Tensor& x = to_tensor(a[0], "input");
    const double p = to_double(a[1], "p");
    if (p < 0 || p > 1)
        throw ValueError("dropout probability has to be between 0 and 1, but got " +
                         std::to_string(p));
    const bool train = to_bool(a[2], "train");
    if (in_place_op)
        return in_place(a[0],
                        [&](const Tensor& t) { return F::dropout(t, p, train, *ctx.generator); });
    return T(F::dropout(x, p, train, *ctx.generator));
}

std::vector<Tensor> tensor_list(const Value& v, const char* what) {
    if (!v.is_sequence())
        throw TypeError(std::string(what) + ": expected a list of tensors, got " + type_name(v));
    std::vector<Tensor> out;
    for (const auto& x : *v.list) out.push_back(to_tensor(x, what));
    return out;
}

// aten::lstm / gru / rnn_tanh / rnn_relu: F::recurrent.
Value recurrent(F::Cell cell, ValueList& a, OpContext& ctx) {
    const Tensor& x = to_tensor(a[0], "input");
    std::vector<Tensor> hx = cell == F::Cell::LSTM ? tensor_list(a[1], "hx")
                                                   : std::vector<Tensor>{to_tensor(a[1], "hx")};
    F::RecurrentOptions o;
    o.has_biases = to_bool(a[3], "has_biases");
    o.num_layers = to_int(a[4], "num_layers");
    o.dropout = to_double(a[5], "dropout");
    o.train = to_bool(a[6], "train");
    o.bidirectional = to_bool(a[7], "bidirectional");
    o.batch_first = to_bool(a[8], "batch_first");
    std::vector<Tensor> out =
        F::recurrent(cell, x, hx, tensor_list(a[2], "params"), o, *ctx.generator);
    std::vector<Value> items;
    for (auto& t : out) items.push_back(T(std::move(t)));
    return Value::tuple(std::move(items));
}

// aten::_native_multi_head_attention, the fast path of nn.MultiheadAttention.
Value native_mha(ValueList& a, OpContext&) {
    auto [out, weights] = F::packed_attention(
        to_tensor(a[0], "query"), to_tensor(a[1], "key"), to_tensor(a[2], "value"),
        to_int(a[3], "embed_dim"), to_int(a[4], "num_head"), to_tensor(a[5], "qkv_weight"),
        to_optional_tensor(a[6], "qkv_bias"), to_tensor(a[7], "proj_weight"),
        to_optional_tensor(a[8], "proj_bias"), to_optional_tensor(a[9], "mask"),
        a[12].is_none() ? -1 : to_int(a[12], "mask_type"));
    if (!to_bool(a[10], "need_weights")) return Value::tuple({T(out), Value::none()});
    if (to_bool(a[11], "average_attn_weights")) weights = weights.mean({1});
    return Value::tuple({T(out), T(weights)});
}

// aten::_transformer_encoder_layer_fwd, nn.TransformerEncoderLayer's fast path (eval mode).
Value encoder_layer(ValueList& a, OpContext&) {
    const Tensor& src = to_tensor(a[0], "src");
    const int64_t e = to_int(a[1], "embed_dim");
    const bool gelu = to_bool(a[7], "use_gelu"), norm_first = to_bool(a[8], "norm_first");
    const double eps = to_double(a[9], "eps");
    auto norm = [&](const Tensor& x, int k) {
        return F::layer_norm(x, {e}, to_tensor(a[size_t(10 + 2 * k)], "norm_weight"),
                             to_tensor(a[size_t(11 + 2 * k)], "norm_bias"), eps);
    };
    auto attn = [&](const Tensor& x) {
        return F::packed_attention(
                   x, x, x, e, to_int(a[2], "num_heads"), to_tensor(a[3], "qkv_weight"),
                   to_optional_tensor(a[4], "qkv_bias"), to_tensor(a[5], "proj_weight"),
                   to_optional_tensor(a[6], "proj_bias"), to_optional_tensor(a[18], "mask"),
                   a[19].is_none() ? -1 : to_int(a[19], "mask_type"))
            .first;
    };
    auto ffn = [&](const Tensor& x) {
        Tensor h =
            F::linear(x, to_tensor(a[14], "ffn_weight_1"), to_optional_tensor(a[15], "ffn_bias_1"));
        h = gelu ? F::gelu(h, false) : h.relu();
        return F::linear(h, to_tensor(a[16], "ffn_weight_2"),
                         to_optional_tensor(a[17], "ffn_bias_2"));
    };
    Tensor x = src;
    if (norm_first) {
        x = x.add(attn(norm(x, 0)));
        x = x.add(ffn(norm(x, 1)));
    } else {
        x = norm(x.add(attn(x)), 0);
        x = norm(x.add(ffn(x)), 1);
    }
    return T(x);
}

// aten::instance_norm: F::instance_norm, as nn.InstanceNorm1d/2d.
Value instance_norm(ValueList& a, OpContext&) {
    return T(F::instance_norm(to_tensor(a[0], "input"), to_optional_tensor(a[3], "running_mean"),
                              to_optional_tensor(a[4], "running_var"),
                              to_optional_tensor(a[1], "weight"), to_optional_tensor(a[2], "bias"),
                              to_bool(a[5], "use_input_stats"), to_double(a[6], "momentum"),
                              to_double(a[7], "eps")));
}

// --- the activation table's operators (activations.h): aten::NAME and aten::NAME_ per row --

constexpr size_t k_max_activations = 16; // rows an operator function is instantiated for

template <size_t Row> Value activation_call(ValueList& a, bool in_place_op) {
    const Activation& act = activations()[Row];
    std::vector<double> args;
    for (size_t k = 0; k < act.args.size(); ++k)
        args.push_back(to_double(a[k + 1], act.args[k].name));
    if (in_place_op) return in_place(a[0], [&](const Tensor& t) { return act.fn(t, args); });
    return T(act.fn(to_tensor(a[0], "self"), args));
}
template <size_t Row> Value activation_op(ValueList& a, OpContext&) {
    return activation_call<Row>(a, false);
}
template <size_t Row> Value activation_op_(ValueList& a, OpContext&) {
    return activation_call<Row>(a, true);
}

template <size_t... Rows> void register_activations(std::index_sequence<Rows...>) {
    static constexpr OpFn out_of_place[] = {activation_op<Rows>...};
    static constexpr OpFn in_place_ops[] = {activation_op_<Rows>...};
    const auto& rows = activations();
    if (rows.size() > sizeof...(Rows))
        throw std::logic_error("activations.h has more rows than k_max_activations");
    for (size_t r = 0; r < rows.size(); ++r) {
        const Activation& act = rows[r];
        std::string params = "self";
        for (const auto& arg : act.args)
            params += std::string(", ") + arg.name + "=" + py_float(arg.dflt);
        const std::string maps_to = std::string("the activation table: ") + act.module;
        register_op("aten", (std::string(act.aten) + "(" + params + ")").c_str(), out_of_place[r],
                    maps_to.c_str());
        if (act.in_place)
            register_op("aten", (std::string(act.aten) + "_(" + params + ")").c_str(),
                        in_place_ops[r], (maps_to + ", in place").c_str());
    }
}

} // namespace

#define OP(...)                                                                                    \
    [](ValueList& a, OpContext& ctx) -> Value {                                                    \
        (void)ctx;                                                                                 \
        __VA_ARGS__                                                                                \
    }

void register_nn_ops() {
    auto aten = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("aten", schema, fn, maps_to);
    };
    register_activations(std::make_index_sequence<k_max_activations>());

    aten("linear(input, weight, bias=None)",
         OP(return T(F::linear(to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                               to_optional_tensor(a[2], "bias")));),
         "F::linear");
    aten("conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)",
         OP(return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                        to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                        to_int(a[6], "groups"));),
         "F::conv2d (im2col + GEMM)");
    aten("conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)",
         OP(return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                        to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                        to_int(a[6], "groups"));),
         "F::conv2d over a height of 1");
    aten("_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, "
         "groups, "
         "benchmark=False, deterministic=False, cudnn_enabled=True, allow_tf32=True)",
         OP(if (to_bool(a[6], "transposed")) return conv_transposed(
                to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                to_optional_tensor(a[2], "bias"), a[3], a[4], a[7], to_int(a[8], "groups"), a[5]);
            return conv(to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                        to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                        to_int(a[8], "groups"));),
         "F::conv2d (traced models' convolution)");
    aten("batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, "
         "cudnn_enabled)",
         batch_norm, "F::batch_norm (updates running statistics in training)");
    aten(
        "layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True)",
        OP(return T(F::layer_norm(to_tensor(a[0], "input"), to_ints(a[1], "normalized_shape"),
                                  to_optional_tensor(a[2], "weight"),
                                  to_optional_tensor(a[3], "bias"), to_double(a[4], "eps")));),
        "F::layer_norm");
    aten("group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True)",
         OP(return T(F::group_norm(to_tensor(a[0], "input"), to_int(a[1], "num_groups"),
                                   to_optional_tensor(a[2], "weight"),
                                   to_optional_tensor(a[3], "bias"), to_double(a[4], "eps")));),
         "F::group_norm");
    aten("max_pool2d(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)",
         OP(return T(F::max_pool2d(to_tensor(a[0], "self"), pair(a[1], "kernel_size"),
                                   pool_stride(a[2]), pair(a[3], "padding"), pair(a[4], "dilation"),
                                   to_bool(a[5], "ceil_mode")));),
         "F::max_pool2d");
    aten("max_pool2d_with_indices(self, kernel_size, stride=[], padding=0, dilation=1, "
         "ceil_mode=False)",
         OP(auto [y, idx] = F::max_pool2d_with_indices(
                to_tensor(a[0], "self"), pair(a[1], "kernel_size"), pool_stride(a[2]),
                pair(a[3], "padding"), pair(a[4], "dilation"), to_bool(a[5], "ceil_mode"));
            return Value::tuple({T(y), T(idx)});),
         "F::max_pool2d_with_indices");
    aten("adaptive_max_pool2d(self, output_size)",
         OP(std::vector<int64_t> out = to_ints(a[1], 2, "output_size");
            auto [y, idx] =
                F::adaptive_max_pool2d_with_indices(to_tensor(a[0], "self"), {out[0], out[1]});
            return Value::tuple({T(y), T(idx)});),
         "F::adaptive_max_pool2d_with_indices");
    aten("lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)",
         OP(std::vector<Tensor> hx = tensor_list(a[1], "hx");
            if (hx.size() != 2) throw Error("lstm_cell: hx must be (h, c)");
            auto [h, c] =
                F::lstm_cell(to_tensor(a[0], "input"), hx[0], hx[1], to_tensor(a[2], "w_ih"),
                             to_tensor(a[3], "w_hh"), to_optional_tensor(a[4], "b_ih"),
                             to_optional_tensor(a[5], "b_hh"));
            return Value::tuple({T(h), T(c)});),
         "F::lstm_cell");
    aten("gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)",
         OP(return T(F::gru_cell(to_tensor(a[0], "input"), to_tensor(a[1], "hx"),
                                 to_tensor(a[2], "w_ih"), to_tensor(a[3], "w_hh"),
                                 to_optional_tensor(a[4], "b_ih"),
                                 to_optional_tensor(a[5], "b_hh")));),
         "F::gru_cell");
    aten("rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)",
         OP(return T(F::rnn_cell(to_tensor(a[0], "input"), to_tensor(a[1], "hx"),
                                 to_tensor(a[2], "w_ih"), to_tensor(a[3], "w_hh"),
                                 to_optional_tensor(a[4], "b_ih"), to_optional_tensor(a[5], "b_hh"),
                                 false));),
         "F::rnn_cell (tanh)");
    aten("rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)",
         OP(return T(F::rnn_cell(to_tensor(a[0], "input"), to_tensor(a[1], "hx"),
                                 to_tensor(a[2], "w_ih"), to_tensor(a[3], "w_hh"),
                                 to_optional_tensor(a[4], "b_ih"), to_optional_tensor(a[5], "b_hh"),
                                 true));),
         "F::rnn_cell (relu)");
    aten("avg_pool2d(self, kernel_size, stride=[], padding=0, ceil_mode=False, "
         "count_include_pad=True, divisor_override=None)",
         OP(std::optional<int64_t> div; if (!a[6].is_none()) div = to_int(a[6], "divisor_override");
            return T(F::avg_pool2d(to_tensor(a[0], "self"), pair(a[1], "kernel_size"),
                                   pool_stride(a[2]), pair(a[3], "padding"),
                                   to_bool(a[4], "ceil_mode"), to_bool(a[5], "count_include_pad"),
                                   div));),
         "F::avg_pool2d");
    aten("adaptive_avg_pool2d(self, output_size)",
         OP(const Tensor& x = to_tensor(a[0], "self");
            std::vector<int64_t> out = to_ints(a[1], 2, "output_size");
            return T(F::adaptive_avg_pool2d(x, {out[0], out[1]}));),
         "F::adaptive_avg_pool2d");
    aten("conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, "
         "groups=1, dilation=1)",
         OP(return conv_transposed(to_tensor(a[0], "input"), to_tensor(a[1], "weight"),
                                   to_optional_tensor(a[2], "bias"), a[3], a[4], a[5],
                                   to_int(a[6], "groups"), a[7]);),
         "F::conv_transpose2d (a convolution's input gradient)");
    aten("softplus(self, beta=1, threshold=20)",
         OP(return T(F::softplus(to_tensor(a[0], "self"), to_double(a[1], "beta"),
                                 to_double(a[2], "threshold")));),
         "F::softplus");
    aten("prelu(self, weight)",
         OP(return T(F::prelu(to_tensor(a[0], "self"), to_tensor(a[1], "weight")));), "F::prelu");
    aten("max_pool1d(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)",
         OP(const int64_t k = to_ints(a[1], 1, "kernel_size")[0];
            const int64_t st = pool_stride_1d(a[2]);
            return T(F::max_pool1d(to_tensor(a[0], "self"), k, st, to_ints(a[3], 1, "padding")[0],
                                   to_ints(a[4], 1, "dilation")[0], to_bool(a[5], "ceil_mode")));),
         "F::max_pool1d (max_pool2d over a height of 1)");
    aten("avg_pool1d(self, kernel_size, stride=[], padding=0, ceil_mode=False, "
         "count_include_pad=True)",
         OP(const int64_t k = to_ints(a[1], 1, "kernel_size")[0];
            const int64_t st = pool_stride_1d(a[2]); return T(
                F::avg_pool1d(to_tensor(a[0], "self"), k, st, to_ints(a[3], 1, "padding")[0],
                              to_bool(a[4], "ceil_mode"), to_bool(a[5], "count_include_pad")));),
         "F::avg_pool1d (avg_pool2d over a height of 1)");
    aten("adaptive_avg_pool1d(self, output_size)",
         OP(return T(F::adaptive_avg_pool1d(to_tensor(a[0], "self"),
                                            to_ints(a[1], 1, "output_size")[0]));),
         "F::adaptive_avg_pool1d");
    aten("gelu(self, approximate=\"none\")",
         OP(const bool tanh = a[1].kind == K::Str && a[1].s == "tanh";
            return T(F::gelu(to_tensor(a[0], "self"), tanh));),
         "F::gelu");
    aten("dropout(input, p, train)", OP(return dropout(a, ctx, false);),
         "F::dropout (nnscope's own seeded masks)");
    aten("dropout_(input, p, train)", OP(return dropout(a, ctx, true);), "F::dropout, in place");
    aten("bernoulli_(self, p=0.5, generator=None)",
         OP(
             // Stochastic depth's mask: nnscope's own seeded generator, not PyTorch's stream.
             Tensor t = to_tensor(a[0], "self"); const double p = to_double(a[1], "p");
             if (p < 0 || p > 1) throw Error("bernoulli_ expects p to be in [0, 1], but got p=" +
                                             std::to_string(p));
             std::vector<double> v = rand(t.shape(), *ctx.generator).to_doubles();
             for (double& x : v) x = x < p ? 1.0 : 0.0;
             t.copy_(from_doubles(v, t.shape(), TensorOptions(t.dtype()).with_device(t.device())));
             return a[0];),
         "uniform samples from nnscope's seeded generator");
    aten("lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, "
         "batch_first)",
         OP(return recurrent(F::Cell::LSTM, a, ctx);),
         "F::lstm_cell per step, layer and direction");
    aten("gru(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, "
         "batch_first)",
         OP(return recurrent(F::Cell::GRU, a, ctx);), "F::gru_cell per step, layer and direction");
    aten("rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, "
         "batch_first)",
         OP(return recurrent(F::Cell::Tanh, a, ctx);),
         "F::rnn_cell (tanh) per step, layer and direction");
    aten("rnn_relu(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, "
         "batch_first)",
         OP(return recurrent(F::Cell::Relu, a, ctx);),
         "F::rnn_cell (relu) per step, layer and direction");
    aten("_native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight, "
         "qkv_bias, proj_weight, "
         "proj_bias, mask=None, need_weights=True, average_attn_weights=True, mask_type=None)",
         native_mha, "F::linear, F::attention (batched GEMMs, softmax)");
    aten("_transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias, "
         "proj_weight, proj_bias, "
         "use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, "
         "ffn_weight_1, ffn_bias_1, "
         "ffn_weight_2, ffn_bias_2, mask=None, mask_type=None)",
         encoder_layer, "F::layer_norm, attention, F::linear, F::gelu or relu");
    aten("instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, "
         "eps, cudnn_enabled)",
         instance_norm, "F::batch_norm over (1, N*C, ...)");
    aten("scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, "
         "is_causal=False, "
         "scale=None, enable_gqa=False)",
         OP(
             Tensor q = to_tensor(a[0], "query"); const Tensor& k = to_tensor(a[1], "key");
             const Tensor& v = to_tensor(a[2], "value");
             Tensor mask = to_optional_tensor(a[3], "attn_mask");
             if (mask.defined() &&
                 mask.dtype() == DType::Bool) { // SDPA's boolean mask: true = attend
                 NoGradGuard g;
                 mask = mask.to(DType::Float32).neg().add(Scalar(1.0)).to(DType::Bool);
             } if (to_bool(a[5], "is_causal")) {
                 const int64_t l = q.size(-2), s_len = k.size(-2);
                 std::vector<double> m(size_t(l * s_len));
                 for (int64_t i = 0; i < l; ++i)
                     for (int64_t j = 0; j < s_len; ++j)
                         m[size_t(i * s_len + j)] = j > i ? 1.0 : 0.0;
                 mask = from_doubles(m, {l, s_len},
                                     TensorOptions(DType::Bool).with_device(q.device()));
             } if (!a[6].is_none()) // F::attention divides by sqrt(D): fold the given scale into q
             q = q.mul(Scalar(to_double(a[6], "scale") * std::sqrt(double(q.size(-1)))));
             Tensor scores_out; auto [out, weights] = F::attention(q, k, v, mask);
             const double p = to_double(a[4], "dropout_p");
             if (p > 0) out = F::batched_matmul(F::dropout(weights, p, true, *ctx.generator), v);
             return T(out);),
         "F::attention (+ causal mask, scale, dropout)");
    aten("softmax(self, dim, dtype=None)",
         OP(Tensor x = to_tensor(a[0], "self");
            if (!a[2].is_none()) x = x.to(to_dtype(a[2], "dtype"));
            return T(F::softmax(x, to_int(a[1], "dim")));),
         "F::softmax");
    aten("log_softmax(self, dim, dtype=None)",
         OP(Tensor x = to_tensor(a[0], "self");
            if (!a[2].is_none()) x = x.to(to_dtype(a[2], "dtype"));
            return T(F::log_softmax(x, to_int(a[1], "dim")));),
         "F::log_softmax");
    aten("embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)",
         OP(const int64_t p = to_int(a[2], "padding_idx");
            return T(F::embedding(to_tensor(a[1], "indices"), to_tensor(a[0], "weight"),
                                  p < 0 ? std::nullopt : std::optional<int64_t>(p)));),
         "F::embedding");
    aten("constant_pad_nd(self, pad, value=0)",
         OP(return T(F::constant_pad(to_tensor(a[0], "self"), to_ints(a[1], "pad"),
                                     to_double(a[2], "value")));),
         "F::constant_pad");
    aten("pad(input, pad, mode=\"constant\", value=None)",
         OP(if (a[2].kind != K::Str || a[2].s != "constant") throw NotImplementedError(
                "pad mode '" + str(a[2]) + "' is not supported yet");
            return T(F::constant_pad(to_tensor(a[0], "input"), to_ints(a[1], "pad"),
                                     a[3].is_none() ? 0.0 : to_double(a[3], "value")));),
         "F::constant_pad");
}

} // namespace nnscope::script
