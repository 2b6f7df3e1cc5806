// layers.cpp: constructors (registration order = PyTorch's state-dict order) and reprs.
#include "layers.h"

#include <cmath>
#include <cstdio>

#include "errors.h"
#include "repr.h"

namespace nnscope {

namespace {
void require_positive(int64_t v, const char* what) {
    if (v <= 0)
        throw ValueError(std::string(what) + " must be a positive integer, got " +
                         std::to_string(v));
}
} // namespace

// Linear's and Conv2d's reset_parameters(): kaiming_uniform_(a=sqrt(5)) on the weight
// reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias uses the same bound.
void register_weight_and_bias(Module& m, const Shape& weight_shape, int64_t fan_in, bool bias,
                              Generator& gen) {
    double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
    Tensor w = empty(weight_shape);
    uniform_(w, -bound, bound, gen);
    m.register_parameter("weight", w);
    Tensor b;
    if (bias) {
        b = empty({weight_shape[0]});
        uniform_(b, -bound, bound, gen);
    }
    m.register_parameter("bias", b);
}

void Sequential::append(ModulePtr m, const std::string& name) {
    register_module(name.empty() ? std::to_string(own_children().size()) : name, std::move(m));
}

Linear::Linear(int64_t in, int64_t out, bool bias, Generator& gen)
    : Module("Linear"), in_features(in), out_features(out) {
    if (in < 0 || out < 0) throw Error("Trying to create tensor with negative dimension");
    register_weight_and_bias(*this, {out, in}, in, bias, gen); // (out_features, in_features)
}

std::string Linear::extra_repr() const {
    return "in_features=" + std::to_string(in_features) +
           ", out_features=" + std::to_string(out_features) +
           ", bias=" + py_bool(own_parameters().find("bias")->defined());
}

BatchNorm::BatchNorm(std::string type, int64_t n, double eps_, std::optional<double> momentum_,
                     bool affine_, bool track)
    : Module(std::move(type)), num_features(n), eps(eps_), momentum(momentum_), affine(affine_),
      track_running_stats(track), m_dims(type_name().ends_with("3d")   ? 3
                                         : type_name().ends_with("2d") ? 2
                                                                       : 1) {
    require_positive(n, "num_features");
    // _NormBase registers weight, bias, then running_mean, running_var, num_batches_tracked.
    register_parameter("weight", affine ? ones({n}) : Tensor());
    register_parameter("bias", affine ? zeros({n}) : Tensor());
    register_buffer("running_mean", track ? zeros({n}) : Tensor());
    register_buffer("running_var", track ? ones({n}) : Tensor());
    register_buffer("num_batches_tracked",
                    track ? zeros({}, TensorOptions(DType::Int64)) : Tensor());
}

std::string BatchNorm::extra_repr() const {
    return std::to_string(num_features) + ", eps=" + py_float(eps) +
           ", momentum=" + (momentum ? py_float(*momentum) : std::string("None")) +
           ", affine=" + py_bool(affine) + ", track_running_stats=" + py_bool(track_running_stats);
}

void BatchNorm::before_load(StateDict& sd, const std::string& prefix) const {
    // PyTorch's _NormBase._load_from_state_dict: checkpoints older than version 2 (and
    // state dicts without metadata) lack num_batches_tracked; it is filled, not missing.
    const int* v = sd.versions.find(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1));
    if ((v == nullptr || *v < 2) && track_running_stats) {
        const std::string key = prefix + "num_batches_tracked";
        if (!sd.tensors.contains(key)) {
            const Tensor* cur = own_buffers().find("num_batches_tracked");
            sd.tensors.set(key,
                           cur && cur->defined() ? *cur : zeros({}, TensorOptions(DType::Int64)));
        }
    }
}

LayerNorm::LayerNorm(Shape shape, double eps_, bool affine)
    : Module("LayerNorm"), normalized_shape(std::move(shape)), eps(eps_),
      elementwise_affine(affine) {
    register_parameter("weight", affine ? ones(normalized_shape) : Tensor());
    register_parameter("bias", affine ? zeros(normalized_shape) : Tensor());
}

std::string LayerNorm::extra_repr() const {
    std::string s = "(";
    for (size_t i = 0; i < normalized_shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(normalized_shape[i]);
    if (normalized_shape.size() == 1) s += ",";
    return s + "), eps=" + py_float(eps) + ", elementwise_affine=" + py_bool(elementwise_affine);
}

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> pad, Generator& gen,
                     std::optional<double> max_norm_, double norm_type_)
    : Module("Embedding"), num_embeddings(num), embedding_dim(dim), padding_idx(pad),
      max_norm(max_norm_), norm_type(norm_type_) {
    if (pad) {
        if (*pad >= num || *pad < -num)
            throw ValueError("Padding_idx must be within num_embeddings");
        if (*pad < 0) padding_idx = *pad + num;
    }
    Tensor w = empty({num, dim}); // (num_embeddings, embedding_dim) ~ N(0, 1)
    normal_(w, 0, 1, gen);
    if (padding_idx) w.select(0, *padding_idx).zero_();
    register_parameter("weight", w);
}

std::string Embedding::extra_repr() const {
    std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
    if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
    if (max_norm) s += ", max_norm=" + py_float(*max_norm);
    if (norm_type != 2.0) s += ", norm_type=" + py_float(norm_type);
    return s;
}

Conv2d::Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> k, std::array<int64_t, 2> s,
               std::array<int64_t, 2> p, std::array<int64_t, 2> d, int64_t g, bool bias,
               Generator& gen)
    : Module("Conv2d"), in_channels(in), out_channels(out), groups(g), kernel_size(k), stride(s),
      padding(p), dilation(d) {
    if (g <= 0) throw ValueError("groups must be a positive integer");
    if (in % g != 0) throw ValueError("in_channels must be divisible by groups");
    if (out % g != 0) throw ValueError("out_channels must be divisible by groups");
    // (out_channels, in_channels / groups, kH, kW)
    register_weight_and_bias(*this, {out, in / g, k[0], k[1]}, in / g * k[0] * k[1], bias, gen);
}

std::string Conv2d::extra_repr() const {
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride);
    if (padding != std::array<int64_t, 2>{0, 0}) s += ", padding=" + pair_str(padding);
    if (dilation != std::array<int64_t, 2>{1, 1}) s += ", dilation=" + pair_str(dilation);
    if (groups != 1) s += ", groups=" + std::to_string(groups);
    if (!own_parameters().find("bias")->defined()) s += ", bias=False";
    return s;
}

RunningAverage::RunningAverage() : Module("RunningAverage") {
    register_buffer("running_average", zeros({1}));
    register_buffer("count", zeros({1}));
}

ExponentialMovingAverage::ExponentialMovingAverage(double initial)
    : Module("ExponentialMovingAverage") {
    register_buffer("running_avg", full({}, Scalar(initial)));
}

PlainAttributeModel::PlainAttributeModel(Generator& gen) : Module("PlainAttributeModel") {
    // The seed's order: my_tensor, then my_buffer, then my_param, each torch.randn(1).
    set_attr("my_tensor", randn({1}, gen));
    register_buffer("my_buffer", randn({1}, gen));
    register_parameter("my_param", randn({1}, gen));
}

Accumulator::Accumulator(int64_t size) : Module("Accumulator") {
    register_buffer("count", zeros({}, TensorOptions(DType::Int64)));
    register_buffer("stats", zeros({size}));
}

} // namespace nnscope
