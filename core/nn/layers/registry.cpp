// registry.cpp: the layer table (see registry.h): each layer's hyper-parameters, read in
// PyTorch's argument order (so a spec's first missing one is the one reported), and its
// extra_repr as PyTorch prints it.
#include "registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "activations.h"
#include "errors.h"
#include "functional.h"
#include "layers.h"
#include "repr.h"

namespace nnscope {

namespace {

using Op = Stateless::Op;

ModulePtr linear(const std::string& name, LayerArgs& a) {
    const int64_t in = a.integer("in_features"), out = a.integer("out_features");
    const bool bias = a.has_bias();
    a.check_size({in, out});
    auto m = std::make_shared<Linear>(in, out, bias, a.gen);
    if (name != "Linear")
        m->set_type_name(name); // MultiheadAttention's out_proj: a Linear by another name
    return m;
}

ModulePtr conv2d(const std::string&, LayerArgs& a) {
    const int64_t in = a.integer("in_channels"), out = a.integer("out_channels");
    const auto kernel = a.pair("kernel_size", std::nullopt), stride = a.pair("stride", 1);
    const auto padding = a.pair("padding", 0), dilation = a.pair("dilation", 1);
    const int64_t groups = a.integer("groups", 1);
    const bool bias = a.has_bias();
    if (a.text("padding_mode", "zeros") != "zeros")
        a.fail("only padding_mode 'zeros' is supported");
    if (groups <= 0) a.fail("groups must be a positive integer");
    a.check_size({out, in / groups, kernel[0], kernel[1]});
    return std::make_shared<Conv2d>(in, out, kernel, stride, padding, dilation, groups, bias,
                                    a.gen);
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
    const std::optional<double> max_norm = a.optional_number("max_norm", std::nullopt);
    const double norm_type = a.number("norm_type", 2.0);
    if (a.boolean("scale_grad_by_freq", false)) a.fail("scale_grad_by_freq=True is not supported");
    if (a.boolean("sparse", false)) a.fail("sparse=True is not supported (gradients are dense)");
    a.check_size({num, dim});
    return std::make_shared<Embedding>(num, dim, pad, a.gen, max_norm, norm_type);
}

ModulePtr simple(const std::string& name, LayerArgs&) {
    const Op op = name == "ReLU"      ? Op::ReLU
                  : name == "Sigmoid" ? Op::Sigmoid
                  : name == "Tanh"    ? Op::Tanh
                                      : Op::Identity;
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
                                         "start_dim=" + std::to_string(start) +
                                             ", end_dim=" + std::to_string(end));
    s->start_dim = start;
    s->end_dim = end;
    return s;
}

ModulePtr dropout(const std::string& name, LayerArgs& a) {
    const double p = a.number("p", 0.5);
    if (p < 0 || p > 1)
        a.fail("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
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
    auto s =
        std::make_shared<Stateless>(name == "Softmax" ? Op::Softmax : Op::LogSoftmax, name,
                                    "dim=" + (dim ? std::to_string(*dim) : std::string("None")));
    s->dim = dim;
    return s;
}

// --- the layers real models add (layers_nn.cpp and FunctionLayers) ----------------------------

// An int when both sides agree (PyTorch prints what it was given: usually one int).
std::string int_or_pair(const std::array<int64_t, 2>& p) {
    return p[0] == p[1] ? std::to_string(p[0])
                        : "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}
std::string num(double v) { // Python's str of an int-valued or float hyper-parameter
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
ModulePtr fn_layer(const std::string& name, std::string extra, FunctionLayer::Fn fn) {
    return std::make_shared<FunctionLayer>(name, std::move(extra), std::move(fn));
}
void ignore_inplace(LayerArgs& a) {
    (void)a.boolean("inplace", false); // the output is the same; nnscope never writes the input
}

// An activation's layer from its row: the module's hyper-parameters, the rest of ATen's
// arguments at their defaults.
ModulePtr activation(const Activation& act, LayerArgs& a) {
    ignore_inplace(a);
    std::vector<double> args;
    for (size_t k = 0; k < act.args.size(); ++k)
        args.push_back(k < act.module_args ? a.number(act.args[k].name, act.args[k].dflt)
                                           : act.args[k].dflt);
    if (act.check)
        if (const std::string wrong = act.check(args); !wrong.empty()) a.fail(wrong);
    const auto fn = act.fn;
    return fn_layer(act.module, activation_repr(act, args),
                    [fn, args](const Tensor& x, bool) { return fn(x, args); });
}

ModulePtr softplus(const std::string& name, LayerArgs& a) {
    const double beta = a.number("beta", 1.0), threshold = a.number("threshold", 20.0);
    return fn_layer(
        name, "beta=" + num(beta) + ", threshold=" + num(threshold),
        [beta, threshold](const Tensor& x, bool) { return F::softplus(x, beta, threshold); });
}

ModulePtr prelu(const std::string&, LayerArgs& a) {
    const int64_t n = a.integer("num_parameters", 1);
    const double init =
        a.number("init", 0.25); // a constructor argument only: pickles hold the weight
    a.check_size({n});
    return std::make_shared<PReLU>(n, init);
}

ModulePtr max_pool(const std::string& name, LayerArgs& a) {
    const bool one_d = name == "MaxPool1d";
    if (one_d) {
        const int64_t k = a.single("kernel_size", std::nullopt), st = a.single("stride", 0);
        const int64_t pad = a.single("padding", 0), dil = a.single("dilation", 1);
        if (a.boolean("return_indices", false))
            a.fail("return_indices=True is not supported (the indices are a second output)");
        const bool ceil = a.boolean("ceil_mode", false);
        const int64_t stride = st == 0 ? k : st;
        return fn_layer(
            name,
            "kernel_size=" + std::to_string(k) + ", stride=" + std::to_string(stride) +
                ", padding=" + std::to_string(pad) + ", dilation=" + std::to_string(dil) +
                ", ceil_mode=" + py_bool(ceil),
            [=](const Tensor& x, bool) { return F::max_pool1d(x, k, stride, pad, dil, ceil); });
    }
    const auto k = a.pair("kernel_size", std::nullopt);
    auto st = a.pair("stride", 0);
    const auto pad = a.pair("padding", 0), dil = a.pair("dilation", 1);
    if (a.boolean("return_indices", false))
        a.fail("return_indices=True is not supported (the indices are a second output)");
    const bool ceil = a.boolean("ceil_mode", false);
    if (st[0] == 0 && st[1] == 0) st = k;
    return fn_layer(name,
                    "kernel_size=" + int_or_pair(k) + ", stride=" + int_or_pair(st) +
                        ", padding=" + int_or_pair(pad) + ", dilation=" + int_or_pair(dil) +
                        ", ceil_mode=" + py_bool(ceil),
                    [=](const Tensor& x, bool) { return F::max_pool2d(x, k, st, pad, dil, ceil); });
}

ModulePtr avg_pool(const std::string& name, LayerArgs& a) {
    if (name == "AvgPool1d") {
        const int64_t k = a.single("kernel_size", std::nullopt), st = a.single("stride", 0);
        const int64_t pad = a.single("padding", 0);
        const bool ceil = a.boolean("ceil_mode", false),
                   include = a.boolean("count_include_pad", true);
        const int64_t stride = st == 0 ? k : st;
        auto one = [](int64_t v) { return "(" + std::to_string(v) + ",)"; };
        return fn_layer(
            name, "kernel_size=" + one(k) + ", stride=" + one(stride) + ", padding=" + one(pad),
            [=](const Tensor& x, bool) { return F::avg_pool1d(x, k, stride, pad, ceil, include); });
    }
    const auto k = a.pair("kernel_size", std::nullopt);
    auto st = a.pair("stride", 0);
    const auto pad = a.pair("padding", 0);
    const bool ceil = a.boolean("ceil_mode", false), include = a.boolean("count_include_pad", true);
    const std::optional<int64_t> div = a.optional_integer("divisor_override");
    if (div && *div <= 0) a.fail("divisor must be not zero");
    if (st[0] == 0 && st[1] == 0) st = k;
    return fn_layer(
        name,
        "kernel_size=" + int_or_pair(k) + ", stride=" + int_or_pair(st) +
            ", padding=" + int_or_pair(pad),
        [=](const Tensor& x, bool) { return F::avg_pool2d(x, k, st, pad, ceil, include, div); });
}

ModulePtr adaptive_pool(const std::string& name, LayerArgs& a) {
    if (name == "AdaptiveAvgPool1d") {
        const int64_t out = a.single("output_size", std::nullopt);
        return fn_layer(name, "output_size=" + std::to_string(out),
                        [out](const Tensor& x, bool) { return F::adaptive_avg_pool1d(x, out); });
    }
    const auto out = a.pair("output_size", std::nullopt);
    if (name == "AdaptiveMaxPool2d") {
        if (a.boolean("return_indices", false))
            a.fail("return_indices=True is not supported (the indices are a second output)");
        return fn_layer(name, "output_size=" + int_or_pair(out),
                        [out](const Tensor& x, bool) { return F::adaptive_max_pool2d(x, out); });
    }
    return fn_layer(name, "output_size=" + int_or_pair(out),
                    [out](const Tensor& x, bool) { return F::adaptive_avg_pool2d(x, out); });
}

ModulePtr zero_pad(const std::string& name, LayerArgs& a) {
    Shape p = a.shape("padding");
    if (p.size() == 1) p = {p[0], p[0], p[0], p[0]};
    if (p.size() != 4)
        a.fail("'padding' must be an integer or 4 integers (left, right, top, bottom)");
    const std::vector<int64_t> pad(p.begin(), p.end());
    return fn_layer(name,
                    "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ", " +
                        std::to_string(p[2]) + ", " + std::to_string(p[3]) + ")",
                    [pad](const Tensor& x, bool) { return F::constant_pad(x, pad, 0.0); });
}

ModulePtr upsample(const std::string& name, LayerArgs& a) {
    const std::optional<int64_t> size = a.optional_integer("size");
    const std::optional<double> factor = a.optional_number("scale_factor", std::nullopt);
    const std::string mode = a.text("mode", "nearest");
    const std::optional<bool> align = a.optional_boolean("align_corners");
    const std::optional<bool> recompute = a.optional_boolean("recompute_scale_factor");
    if (size.has_value() == factor.has_value())
        a.fail("either size or scale_factor should be defined");
    if (mode != "nearest" && mode != "linear" && mode != "bilinear")
        a.fail("mode '" + mode + "' is not supported (nearest, linear and bilinear are)");
    if (mode == "nearest" && align)
        a.fail("align_corners option can only be set with the interpolating modes");
    const bool corners = align.value_or(false);
    // The source-index scale is the given factor unless recompute_scale_factor says otherwise.
    const std::optional<double> scale =
        factor && !recompute.value_or(false) ? factor : std::nullopt;
    std::string extra =
        (factor ? "scale_factor=" + py_float(*factor) : "size=" + std::to_string(*size)) +
        ", mode='" + mode + "'";
    return fn_layer(name, extra, [=](const Tensor& x, bool) {
        const int64_t spatial = x.dim() - 2;
        if (spatial < 1 || spatial > 2)
            throw NotImplementedError("Upsample of " + std::to_string(x.dim()) +
                                      "D input is not supported (3D and 4D are)");
        std::vector<int64_t> out;
        for (int64_t d = 0; d < spatial; ++d)
            out.push_back(size ? *size : int64_t(std::floor(double(x.size(2 + d)) * *factor)));
        return F::interpolate(x, out, std::vector<std::optional<double>>(size_t(spatial), scale),
                              mode, corners);
    });
}

ModulePtr group_norm(const std::string&, LayerArgs& a) {
    const int64_t groups = a.integer("num_groups"), channels = a.integer("num_channels");
    const double eps = a.number("eps", 1e-5);
    const bool affine = a.boolean("affine", true);
    if (groups <= 0 || channels % groups != 0)
        a.fail("num_channels must be divisible by num_groups");
    a.check_size({channels});
    return std::make_shared<GroupNorm>(groups, channels, eps, affine);
}

ModulePtr instance_norm(const std::string& name, LayerArgs& a) {
    const int64_t n = a.integer("num_features");
    const double eps = a.number("eps", 1e-5);
    const std::optional<double> momentum = a.optional_number("momentum", 0.1);
    const bool affine = a.boolean("affine", false);
    const bool track = a.boolean("track_running_stats", false);
    a.check_size({n});
    return std::make_shared<InstanceNorm>(name, n, eps, momentum, affine, track);
}

ModulePtr conv1d(const std::string&, LayerArgs& a) {
    const int64_t in = a.integer("in_channels"), out = a.integer("out_channels");
    const int64_t k = a.single("kernel_size", std::nullopt), stride = a.single("stride", 1);
    const int64_t padding = a.single("padding", 0), dilation = a.single("dilation", 1);
    const int64_t groups = a.integer("groups", 1);
    const bool bias = a.has_bias();
    if (a.text("padding_mode", "zeros") != "zeros")
        a.fail("only padding_mode 'zeros' is supported");
    if (groups <= 0) a.fail("groups must be a positive integer");
    a.check_size({out, in / groups, k});
    return std::make_shared<Conv1d>(in, out, k, stride, padding, dilation, groups, bias, a.gen);
}

ModulePtr conv_transpose2d(const std::string&, LayerArgs& a) {
    const int64_t in = a.integer("in_channels"), out = a.integer("out_channels");
    const auto kernel = a.pair("kernel_size", std::nullopt), stride = a.pair("stride", 1);
    const auto padding = a.pair("padding", 0), output_padding = a.pair("output_padding", 0);
    const int64_t groups = a.integer("groups", 1);
    const bool bias = a.has_bias();
    const auto dilation = a.pair("dilation", 1);
    if (a.text("padding_mode", "zeros") != "zeros")
        a.fail("only padding_mode 'zeros' is supported");
    if (groups <= 0) a.fail("groups must be a positive integer");
    a.check_size({in, out / groups, kernel[0], kernel[1]});
    return std::make_shared<ConvTranspose2d>(in, out, kernel, stride, padding, output_padding,
                                             groups, bias, dilation, a.gen);
}

// --- sequence layers (layers_sequence.cpp) ---------------------------------------------------

ModulePtr recurrent(const std::string& name, LayerArgs& a) {
    const int64_t in = a.integer("input_size"), hidden = a.integer("hidden_size");
    const int64_t layers = a.integer("num_layers", 1);
    const bool bias = a.boolean("bias", true), batch_first = a.boolean("batch_first", false);
    const double dropout = a.number("dropout", 0.0);
    const bool bidirectional = a.boolean("bidirectional", false);
    const bool relu = name == "RNN" && a.text("nonlinearity", "tanh") == "relu";
    if (name == "RNN" && !relu && a.text("nonlinearity", "tanh") != "tanh")
        a.fail("Unknown nonlinearity '" + a.text("nonlinearity", "tanh") +
               "'. Select from 'tanh' or 'relu'.");
    if (name == "LSTM" && a.integer("proj_size", 0) != 0) a.fail("proj_size > 0 is not supported");
    if (hidden <= 0 || layers <= 0) a.fail("hidden_size and num_layers must be greater than zero");
    const int64_t gates = name == "LSTM" ? 4 : name == "GRU" ? 3 : 1;
    a.check_size({gates * hidden, std::max(in, hidden * 2)});
    return std::make_shared<Recurrent>(name, in, hidden, layers, bias, batch_first, dropout,
                                       bidirectional, relu, a.gen);
}

ModulePtr multihead_attention(const std::string&, LayerArgs& a) {
    const int64_t e = a.integer("embed_dim"), heads = a.integer("num_heads");
    const double dropout = a.number("dropout", 0.0);
    const bool bias =
        a.children_given() || a.boolean("bias", true); // a pickle registers the file's tensors
    if (a.boolean("add_zero_attn", false)) a.fail("add_zero_attn=True is not supported");
    if (!a.boolean("_qkv_same_embed_dim", true))
        a.fail("kdim and vdim other than embed_dim are not supported");
    const bool batch_first = a.boolean("batch_first", false);
    if (heads <= 0 || e % heads != 0) a.fail("embed_dim must be divisible by num_heads");
    a.check_size({3 * e, e});
    return std::make_shared<MultiheadAttention>(e, heads, dropout, bias, batch_first, a.gen);
}

ModulePtr transformer_layer(const std::string& name, LayerArgs& a) {
    const std::string act = a.text("activation", "relu");
    if (act != "relu" && act != "gelu") a.fail("activation should be relu/gelu, not " + act);
    const bool norm_first = a.boolean("norm_first", false);
    if (a.children_given()) // its sizes are its children's
        return std::make_shared<TransformerLayer>(name, 0, 0, 0, 0.0, act == "gelu", 0.0, false,
                                                  norm_first, a.gen);
    const int64_t d = a.integer("d_model"), heads = a.integer("nhead"),
                  ff = a.integer("dim_feedforward", 2048);
    const double dropout = a.number("dropout", 0.1), eps = a.number("layer_norm_eps", 1e-5);
    const bool batch_first = a.boolean("batch_first", false);
    if (d <= 0 || heads <= 0 || d % heads != 0) a.fail("d_model must be divisible by nhead");
    a.check_size({d, ff});
    return std::make_shared<TransformerLayer>(name, d, heads, ff, dropout, act == "gelu", eps,
                                              batch_first, norm_first, a.gen);
}

ModulePtr transformer_encoder(const std::string&, LayerArgs& a) {
    const int64_t n = a.integer("num_layers");
    if (n <= 0) a.fail("num_layers must be a positive integer");
    auto enc = std::make_shared<TransformerEncoder>();
    if (a.children_given()) return enc;
    // A spec gives the layer's hyper-parameters flat, and `norm`: a final LayerNorm or not.
    auto layers = std::make_shared<ModuleList>();
    for (int64_t i = 0; i < n; ++i)
        layers->register_module(std::to_string(i), transformer_layer("TransformerEncoderLayer", a));
    enc->register_module("layers", layers);
    if (a.boolean("norm", false))
        enc->register_module("norm",
                             std::make_shared<LayerNorm>(Shape{a.integer("d_model")},
                                                         a.number("layer_norm_eps", 1e-5), true));
    else
        enc->register_module("norm", nullptr);
    return enc;
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
    static const std::vector<LayerType> table = [] {
        std::vector<LayerType> t = {
            {"Linear", {"in_features", "out_features", "bias"}, linear},
            {"NonDynamicallyQuantizableLinear", {"in_features", "out_features", "bias"}, linear},
            {"Conv1d",
             {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", "bias"},
             conv1d},
            {"Conv2d",
             {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", "bias"},
             conv2d},
            {"ConvTranspose2d",
             {"in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
              "groups", "bias", "dilation"},
             conv_transpose2d},
            {"BatchNorm1d",
             {"num_features", "eps", "momentum", "affine", "track_running_stats"},
             batch_norm},
            {"BatchNorm2d",
             {"num_features", "eps", "momentum", "affine", "track_running_stats"},
             batch_norm},
            {"BatchNorm3d",
             {"num_features", "eps", "momentum", "affine", "track_running_stats"},
             batch_norm},
            {"InstanceNorm1d",
             {"num_features", "eps", "momentum", "affine", "track_running_stats"},
             instance_norm},
            {"InstanceNorm2d",
             {"num_features", "eps", "momentum", "affine", "track_running_stats"},
             instance_norm},
            {"GroupNorm", {"num_groups", "num_channels", "eps", "affine"}, group_norm},
            {"LayerNorm", {"normalized_shape", "eps", "elementwise_affine"}, layer_norm},
            {"Embedding",
             {"num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
              "scale_grad_by_freq", "sparse"},
             embedding},
            {"Dropout", {"p", "seed"}, dropout},
            {"Flatten", {"start_dim", "end_dim"}, flatten},
            {"ReLU", {}, simple},
            {"Sigmoid", {}, simple},
            {"Tanh", {}, simple},
            {"GELU", {"approximate"}, gelu},
            {"Softmax", {"dim"}, softmax},
            {"LogSoftmax", {"dim"}, softmax},
            {"Identity", {}, simple},
        };
        for (const Activation& act : activations()) { // ReLU6 ... Hardtanh: activations.h
            std::vector<const char*> keys;
            for (size_t k = 0; k < act.module_args; ++k) keys.push_back(act.args[k].name);
            keys.push_back("inplace");
            t.push_back({act.module, keys, nullptr, true, &act});
        }
        t.insert(
            t.end(),
            {
                {"Softplus", {"beta", "threshold"}, softplus},
                {"PReLU", {"num_parameters", "init"}, prelu},
                {"MaxPool1d",
                 {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
                 max_pool},
                {"MaxPool2d",
                 {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
                 max_pool},
                {"AvgPool1d",
                 {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
                 avg_pool},
                {"AvgPool2d",
                 {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                  "divisor_override"},
                 avg_pool},
                {"AdaptiveAvgPool1d", {"output_size"}, adaptive_pool},
                {"AdaptiveAvgPool2d", {"output_size"}, adaptive_pool},
                {"AdaptiveMaxPool2d", {"output_size", "return_indices"}, adaptive_pool},
                {"ZeroPad2d", {"padding"}, zero_pad},
                {"LSTM",
                 {"input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                  "bidirectional", "proj_size"},
                 recurrent},
                {"GRU",
                 {"input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                  "bidirectional"},
                 recurrent},
                {"RNN",
                 {"input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first",
                  "dropout", "bidirectional"},
                 recurrent},
                {"MultiheadAttention",
                 {"embed_dim", "num_heads", "dropout", "bias", "add_zero_attn", "batch_first"},
                 multihead_attention},
                {"TransformerEncoderLayer",
                 {"d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps",
                  "batch_first", "norm_first"},
                 transformer_layer},
                {"TransformerDecoderLayer",
                 {"d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps",
                  "batch_first", "norm_first"},
                 transformer_layer},
                {"TransformerEncoder",
                 {"num_layers", "d_model", "nhead", "dim_feedforward", "dropout", "activation",
                  "layer_norm_eps", "batch_first", "norm_first", "norm"},
                 transformer_encoder},
                {"Upsample",
                 {"size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"},
                 upsample},
                {"RunningAverage", {}, running_average, false},
                {"ExponentialMovingAverage", {"initial_value"}, exponential_moving_average, false},
                {"Accumulator", {"size"}, accumulator, false},
                {"PlainAttributeModel", {}, plain_attribute_model, false},
            });
        return t;
    }();
    return table;
}

const LayerType* find_layer_type(std::string_view name) {
    for (const auto& t : layer_types())
        if (name == t.name) return &t;
    return nullptr;
}

ModulePtr LayerType::make(LayerArgs& args) const {
    return activation ? nnscope::activation(*activation, args) : build(name, args);
}

} // namespace nnscope
