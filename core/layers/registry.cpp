// registry.cpp: the layer table (see registry.h): each layer's hyper-parameters, read in
// PyTorch's argument order (so a spec's first missing one is the one reported), and its
// extra_repr as PyTorch prints it.
#include "registry.h"

#include <cstdio>

#include "layers.h"

namespace nnscope {

namespace {

using Op = Stateless::Op;

ModulePtr linear(const std::string&, LayerArgs& a) {
    const int64_t in = a.integer("in_features"), out = a.integer("out_features");
    const bool bias = a.has_bias();
    a.check_size({in, out});
    return std::make_shared<Linear>(in, out, bias, a.gen);
}

ModulePtr conv2d(const std::string&, LayerArgs& a) {
    const int64_t in = a.integer("in_channels"), out = a.integer("out_channels");
    const auto kernel = a.pair("kernel_size", std::nullopt), stride = a.pair("stride", 1);
    const auto padding = a.pair("padding", 0), dilation = a.pair("dilation", 1);
    const int64_t groups = a.integer("groups", 1);
    const bool bias = a.has_bias();
    if (a.text("padding_mode", "zeros") != "zeros") a.fail("only padding_mode 'zeros' is supported");
    if (groups <= 0) a.fail("groups must be a positive integer");
    a.check_size({out, in / groups, kernel[0], kernel[1]});
    return std::make_shared<Conv2d>(in, out, kernel, stride, padding, dilation, groups, bias, a.gen);
}

ModulePtr batch_norm(const std::string& name, LayerArgs& a) {
    const std::optional<double> momentum = a.optional_number("momentum", 0.1);
    const int64_t n = a.integer("num_features");
    const double eps = a.number("eps", 1e-5);
    const bool affine = a.boolean("affine", true);
    const bool track = a.boolean("track_running_stats", true);
    a.check_size({n});
    return std::make_shared<BatchNorm>(name, n, eps, momentum, affine, track);
}

ModulePtr layer_norm(const std::string&, LayerArgs& a) {
    Shape shape = a.shape("normalized_shape");
    const double eps = a.number("eps", 1e-5);
    const bool affine = a.boolean("elementwise_affine", true);
    a.check_size(shape);
    return std::make_shared<LayerNorm>(shape, eps, affine);
}

ModulePtr embedding(const std::string&, LayerArgs& a) {
    const int64_t num = a.integer("num_embeddings"), dim = a.integer("embedding_dim");
    const std::optional<int64_t> pad = a.optional_integer("padding_idx");
    if (a.optional_number("max_norm", std::nullopt)) a.fail("max_norm is not supported");
    a.check_size({num, dim});
    return std::make_shared<Embedding>(num, dim, pad, a.gen);
}

ModulePtr simple(const std::string& name, LayerArgs&) {
    const Op op = name == "ReLU" ? Op::ReLU : name == "Sigmoid" ? Op::Sigmoid : name == "Tanh" ? Op::Tanh : Op::Identity;
    return std::make_shared<Stateless>(op, name);
}

ModulePtr gelu(const std::string& name, LayerArgs& a) {
    const std::string approx = a.text("approximate", "none");
    if (approx != "none" && approx != "tanh") a.fail("'approximate' must be \"none\" or \"tanh\"");
    auto s = std::make_shared<Stateless>(Op::GELU, name, "approximate='" + approx + "'");
    s->tanh_approximation = approx == "tanh";
    return s;
}

ModulePtr flatten(const std::string& name, LayerArgs& a) {
    const int64_t start = a.integer("start_dim", 1), end = a.integer("end_dim", -1);
    auto s = std::make_shared<Stateless>(Op::Flatten, name,
                                         "start_dim=" + std::to_string(start) + ", end_dim=" + std::to_string(end));
    s->start_dim = start;
    s->end_dim = end;
    return s;
}

ModulePtr dropout(const std::string& name, LayerArgs& a) {
    const double p = a.number("p", 0.5);
    if (p < 0 || p > 1) a.fail("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
    char buf[64];
    std::snprintf(buf, sizeof buf, "p=%g, inplace=False", p);
    auto s = std::make_shared<Stateless>(Op::Dropout, name, buf);
    s->p = p;
    const int64_t seed = a.integer("seed", 0); // nnscope's own: Dropout's masks, seedable
    if (seed < 0) a.fail("'seed' must be a non-negative integer");
    s->gen.manual_seed(uint64_t(seed));
    return s;
}

ModulePtr softmax(const std::string& name, LayerArgs& a) {
    const std::optional<int64_t> dim = a.optional_integer("dim");
    auto s = std::make_shared<Stateless>(name == "Softmax" ? Op::Softmax : Op::LogSoftmax, name,
                                         "dim=" + (dim ? std::to_string(*dim) : std::string("None")));
    s->dim = dim;
    return s;
}

ModulePtr running_average(const std::string&, LayerArgs&) {
    return std::make_shared<RunningAverage>();
}
ModulePtr exponential_moving_average(const std::string&, LayerArgs& a) {
    return std::make_shared<ExponentialMovingAverage>(a.number("initial_value", 0.0));
}
ModulePtr accumulator(const std::string&, LayerArgs& a) {
    return std::make_shared<Accumulator>(a.integer("size", 10));
}
ModulePtr plain_attribute_model(const std::string&, LayerArgs& a) {
    return std::make_shared<PlainAttributeModel>(a.gen);
}

} // namespace

const std::vector<LayerType>& layer_types() {
    static const std::vector<LayerType> table = {
        {"Linear", {"in_features", "out_features", "bias"}, linear},
        {"Conv2d", {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"}, conv2d},
        {"BatchNorm1d", {"num_features", "eps", "momentum", "affine", "track_running_stats"}, batch_norm},
        {"BatchNorm2d", {"num_features", "eps", "momentum", "affine", "track_running_stats"}, batch_norm},
        {"LayerNorm", {"normalized_shape", "eps", "elementwise_affine"}, layer_norm},
        {"Embedding", {"num_embeddings", "embedding_dim", "padding_idx"}, embedding},
        {"Dropout", {"p", "seed"}, dropout},
        {"Flatten", {"start_dim", "end_dim"}, flatten},
        {"ReLU", {}, simple},
        {"Sigmoid", {}, simple},
        {"Tanh", {}, simple},
        {"GELU", {"approximate"}, gelu},
        {"Softmax", {"dim"}, softmax},
        {"LogSoftmax", {"dim"}, softmax},
        {"Identity", {}, simple},
        {"RunningAverage", {}, running_average, false},
        {"ExponentialMovingAverage", {"initial_value"}, exponential_moving_average, false},
        {"Accumulator", {"size"}, accumulator, false},
        {"PlainAttributeModel", {}, plain_attribute_model, false},
    };
    return table;
}

const LayerType* find_layer_type(std::string_view name) {
    for (const auto& t : layer_types())
        if (name == t.name) return &t;
    return nullptr;
}

} // namespace nnscope
