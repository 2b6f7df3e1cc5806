// layers_sequence.cpp: the sequence layers (nn.LSTM/GRU/RNN, nn.MultiheadAttention, the
// Transformer encoder and decoder layers, nn.TransformerEncoder) over functional_sequence.cpp.
// Their tensors are registered in PyTorch's order; the Transformer layers compute through
// their children, so a pickled model runs with the children the file holds.
#include "layers.h"

#include <cmath>

#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "repr.h"

namespace nnscope {

namespace {
template <class T> T* child_as(const Module& m, const char* name) {
    const ModulePtr* c = m.own_children().find(name);
    return c && *c ? dynamic_cast<T*>(c->get()) : nullptr;
}
Module& need(const Module& m, const char* name) {
    const ModulePtr* c = m.own_children().find(name);
    if (!c || !*c) throw Error(m.type_name() + ": missing submodule '" + std::string(name) + "'");
    return **c;
}
bool children_runnable(const Module& m) {
    for (const auto& [name, c] : m.own_children())
        if (c && !c->runnable()) return false;
    return true;
}
} // namespace

bool ModuleList::runnable() const {
    return children_runnable(*this);
}

Recurrent::Recurrent(std::string type, int64_t in, int64_t hidden, int64_t layers, bool bias_,
                     bool batch_first_, double dropout_, bool bidirectional_, bool relu_,
                     Generator& init)
    : Module(std::move(type)), input_size(in), hidden_size(hidden), num_layers(layers), bias(bias_),
      batch_first(batch_first_), bidirectional(bidirectional_), relu(relu_), dropout(dropout_) {
    if (hidden <= 0) throw ValueError("hidden_size must be greater than zero");
    if (layers <= 0) throw ValueError("num_layers must be greater than zero");
    if (dropout < 0 || dropout > 1) throw ValueError("dropout should be a number in range [0, 1]");
    const int64_t gates = type_name() == "LSTM"  ? 4
                          : type_name() == "GRU" ? 3
                                                 : 1,
                  dirs = bidirectional ? 2 : 1;
    const double bound = 1.0 / std::sqrt(double(hidden));
    for (int64_t l = 0; l < layers; ++l)
        for (int64_t d = 0; d < dirs; ++d) {
            const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
            auto reg = [&](const std::string& name, Shape shape) {
                Tensor t = empty(shape);
                uniform_(t, -bound, bound, init);
                register_parameter(name, t);
            };
            reg("weight_ih" + sfx, {gates * hidden, l == 0 ? in : hidden * dirs});
            reg("weight_hh" + sfx, {gates * hidden, hidden});
            if (bias) {
                reg("bias_ih" + sfx, {gates * hidden});
                reg("bias_hh" + sfx, {gates * hidden});
            }
        }
}

std::string Recurrent::extra_repr() const {
    std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
    if (num_layers != 1) s += ", num_layers=" + std::to_string(num_layers);
    if (!bias) s += ", bias=False";
    if (batch_first) s += ", batch_first=True";
    if (dropout != 0) s += ", dropout=" + py_float(dropout);
    if (bidirectional) s += ", bidirectional=True";
    return s;
}

std::vector<Tensor> Recurrent::forward_all(const Tensor& x_in) {
    if (x_in.dim() != 2 && x_in.dim() != 3)
        throw ValueError(type_name() + ": Expected input to be 2D or 3D, got " +
                         std::to_string(x_in.dim()) + "D instead");
    if (x_in.size(-1) != input_size)
        throw Error("input.size(-1) must be equal to input_size. Expected " +
                    std::to_string(input_size) + ", got " + std::to_string(x_in.size(-1)));
    const bool unbatched = x_in.dim() == 2;
    const int64_t batch_dim = batch_first ? 0 : 1;
    Tensor x = unbatched ? x_in.unsqueeze(batch_dim) : x_in;
    const F::Cell cell = type_name() == "LSTM"  ? F::Cell::LSTM
                         : type_name() == "GRU" ? F::Cell::GRU
                         : relu                 ? F::Cell::Relu
                                                : F::Cell::Tanh;
    const int64_t dirs = bidirectional ? 2 : 1;
    Tensor h0 = zeros({num_layers * dirs, x.size(batch_dim), hidden_size},
                      TensorOptions(x.dtype()).with_device(x.device()));
    std::vector<Tensor> hx{h0};
    if (cell == F::Cell::LSTM) hx.push_back(h0);
    std::vector<Tensor> params;
    for (const auto& [name, p] : own_parameters())
        if (p.defined()) params.push_back(p);
    F::RecurrentOptions o;
    o.has_biases = bias;
    o.num_layers = num_layers;
    o.dropout = dropout;
    o.train = is_training();
    o.bidirectional = bidirectional;
    o.batch_first = batch_first;
    std::vector<Tensor> out = F::recurrent(cell, x, hx, params, o, gen);
    if (unbatched) {
        out[0] = out[0].squeeze(batch_dim);
        for (size_t i = 1; i < out.size(); ++i) out[i] = out[i].squeeze(1);
    }
    std::vector<Shape> shapes;
    for (const auto& t : out) shapes.push_back(t.shape());
    set_output_shapes(std::move(shapes));
    return out;
}

MultiheadAttention::MultiheadAttention(int64_t e, int64_t heads, double dropout_, bool bias,
                                       bool batch_first_, Generator& init)
    : Module("MultiheadAttention"), embed_dim(e), num_heads(heads), dropout(dropout_),
      batch_first(batch_first_) {
    if (heads <= 0 || e % heads != 0) throw ValueError("embed_dim must be divisible by num_heads");
    // in_proj_weight ~ xavier_uniform, biases zero; out_proj a Linear(E, E) with a zero bias.
    const double bound = std::sqrt(6.0 / double(e + 3 * e));
    Tensor w = empty({3 * e, e});
    uniform_(w, -bound, bound, init);
    register_parameter("in_proj_weight", w);
    register_parameter("q_proj_weight", Tensor());
    register_parameter("k_proj_weight", Tensor());
    register_parameter("v_proj_weight", Tensor());
    register_parameter("in_proj_bias", bias ? zeros({3 * e}) : Tensor());
    auto out = std::make_shared<Linear>(e, e, bias, init);
    out->set_type_name("NonDynamicallyQuantizableLinear");
    if (bias) {
        NoGradGuard no_grad;
        Tensor b = *out->own_parameters().find("bias");
        b.zero_();
    }
    register_module("out_proj", out);
}

std::vector<Tensor> MultiheadAttention::attend(const Tensor& query, const Tensor& key,
                                               const Tensor& value, bool need_weights) {
    if (query.dim() != 2 && query.dim() != 3)
        throw Error("query should be unbatched 2D or batched 3D tensor but received " +
                    std::to_string(query.dim()) + "-D query tensor");
    const bool unbatched = query.dim() == 2;
    // To batch first (B, L, E), as F::packed_attention takes it.
    auto batch_major = [&](const Tensor& t) {
        return unbatched ? t.unsqueeze(0) : batch_first ? t : t.transpose(0, 1);
    };
    Module& out_proj = need(*this, "out_proj");
    const double p = is_training() ? dropout : 0.0;
    auto [out, weights] =
        F::packed_attention(batch_major(query), batch_major(key), batch_major(value), embed_dim,
                            num_heads, own(*this, "in_proj_weight"), own(*this, "in_proj_bias"),
                            *out_proj.own_parameters().find("weight"),
                            *out_proj.own_parameters().find("bias"), Tensor(), -1, p, &gen);
    out = unbatched ? out.squeeze(0) : batch_first ? out : out.transpose(0, 1);
    if (!need_weights) return {out};
    weights = weights.mean({1}); // averaged over heads: (B, L, S)
    if (unbatched) weights = weights.squeeze(0);
    return {out, weights};
}

TransformerLayer::TransformerLayer(std::string type, int64_t d, int64_t nhead, int64_t ff, double p,
                                   bool gelu_, double eps, bool batch_first_, bool norm_first_,
                                   Generator& init)
    : Module(std::move(type)), decoder(type_name() == "TransformerDecoderLayer"), gelu(gelu_),
      norm_first(norm_first_), batch_first(batch_first_) {
    if (d <= 0) return; // a pickled layer: its children come from the file
    auto dropout = [&] {
        auto s = std::make_shared<Stateless>(Stateless::Op::Dropout, "Dropout",
                                             "p=" + py_float(p) + ", inplace=False");
        s->p = p;
        return s;
    };
    register_module("self_attn",
                    std::make_shared<MultiheadAttention>(d, nhead, p, true, batch_first, init));
    if (decoder)
        register_module("multihead_attn",
                        std::make_shared<MultiheadAttention>(d, nhead, p, true, batch_first, init));
    register_module("linear1", std::make_shared<Linear>(d, ff, true, init));
    register_module("dropout", dropout());
    register_module("linear2", std::make_shared<Linear>(ff, d, true, init));
    for (int i = 1; i <= (decoder ? 3 : 2); ++i)
        register_module("norm" + std::to_string(i),
                        std::make_shared<LayerNorm>(Shape{d}, eps, true));
    for (int i = 1; i <= (decoder ? 3 : 2); ++i)
        register_module("dropout" + std::to_string(i), dropout());
}

bool TransformerLayer::runnable() const {
    return !decoder && child_as<MultiheadAttention>(*this, "self_attn") &&
           (!decoder || child_as<MultiheadAttention>(*this, "multihead_attn")) &&
           children_runnable(*this);
}

Tensor TransformerLayer::forward(const Tensor& x) {
    if (decoder)
        throw Error("TransformerDecoderLayer needs two inputs (tgt, memory); nnscope runs it "
                    "inside a model that "
                    "passes both");
    return decode(x, Tensor());
}

Tensor TransformerLayer::decode(const Tensor& tgt, const Tensor& memory) {
    auto* self_attn = child_as<MultiheadAttention>(*this, "self_attn");
    auto* cross_attn = decoder ? child_as<MultiheadAttention>(*this, "multihead_attn") : nullptr;
    if (!self_attn || (decoder && !cross_attn))
        throw Error(type_name() + ": its attention is not a MultiheadAttention");
    auto sub = [&](const char* name, const Tensor& x) { return need(*this, name)(x); };
    const char* ff_dropout = decoder ? "dropout3" : "dropout2";
    auto sa = [&](const Tensor& x) {
        return sub("dropout1", self_attn->attend(x, x, x, false)[0]);
    };
    auto ca = [&](const Tensor& x) {
        return sub("dropout2", cross_attn->attend(x, memory, memory, false)[0]);
    };
    auto ff = [&](const Tensor& x) {
        Tensor h = sub("linear1", x);
        h = gelu ? F::gelu(h, false) : h.relu();
        return sub(ff_dropout, sub("linear2", sub("dropout", h)));
    };
    Tensor x = tgt;
    const char* last_norm = decoder ? "norm3" : "norm2";
    if (norm_first) {
        x = x.add(sa(sub("norm1", x)));
        if (decoder) x = x.add(ca(sub("norm2", x)));
        x = x.add(ff(sub(last_norm, x)));
    } else {
        x = sub("norm1", x.add(sa(x)));
        if (decoder) x = sub("norm2", x.add(ca(x)));
        x = sub(last_norm, x.add(ff(x)));
    }
    return x;
}

bool TransformerEncoder::runnable() const {
    auto* layers = child_as<ModuleList>(*this, "layers");
    return layers && layers->runnable() && children_runnable(*this);
}

Tensor TransformerEncoder::forward(const Tensor& x) {
    auto* layers = child_as<ModuleList>(*this, "layers");
    if (!layers) throw Error("TransformerEncoder: its layers are not a ModuleList");
    Tensor y = x;
    for (const auto& [name, layer] : layers->own_children())
        if (layer) y = (*layer)(y);
    if (const ModulePtr* norm = own_children().find("norm"); norm && *norm) y = (**norm)(y);
    return y;
}

} // namespace nnscope
