// input_generator.cpp: shapes from the first layer, drifting normal features, teacher targets.
#include "input_generator.h"

#include <cmath>

#include "autograd.h"
#include "errors.h"
#include "layers/layers.h"

namespace nnscope {

namespace {
// The first module that consumes the input: descend through Sequentials and containers.
Module* first_layer(Module& m) {
    if (m.own_parameters().size() || m.own_buffers().size() || m.own_children().empty()) return &m;
    for (const auto& [n, c] : m.own_children())
        if (c) return first_layer(*c);
    return &m;
}
// The first module in the tree, depth first, that has a weight: the input's consumer.
Module* first_weighted(Module& m) {
    for (auto& [name, sub] : m.named_modules())
        if (sub->own_parameters().find("weight") || sub->own_parameters().find("weight_ih_l0"))
            return sub.get();
    return nullptr;
}
} // namespace

Shape guess_input_shape(Module& model) {
    Module* first = first_weighted(model);
    if (!first) return {};
    const std::string& type = first->type_name();
    if (const Tensor* w = first->own_parameters().find("weight_ih_l0");
        w && w->defined() && w->dim() == 2)
        return {16, 8, w->size(1)}; // (sequence, batch, features)
    const Tensor* wp = first->own_parameters().find("weight");
    if (!wp || !wp->defined()) return {};
    const Tensor& w = *wp;
    if (type == "Embedding" && w.dim() == 2) return {8, 16};
    if (w.dim() == 4) return {8, w.size(1), 224, 224}; // Conv2d (groups 1)
    if (w.dim() == 3) return {8, w.size(1), 64};       // Conv1d
    if (w.dim() == 2) return {8, w.size(1)};           // Linear
    if (w.dim() == 1 && type.starts_with("BatchNorm2d")) return {8, w.size(0), 32, 32};
    if (w.dim() == 1 && type.starts_with("BatchNorm1d")) return {8, w.size(0)};
    if (w.dim() == 1) return {8, 16, w.size(0)}; // LayerNorm over the last dim
    return {};
}

void InputGenerator::from_shape(const Shape& shape, int64_t vocabulary) {
    if (shape.empty()) throw ValueError("an input shape needs at least one dimension");
    for (int64_t d : shape)
        if (d <= 0 || d > (int64_t(1) << 31))
            throw ValueError("invalid input shape " + shape_str(shape));
    if (shape_numel(shape) > (int64_t(1) << 31))
        throw ValueError("input shape " + shape_str(shape) + " is too large");
    m_options.batch = shape[0];
    m_shape.assign(shape.begin() + 1, shape.end());
    m_vocabulary = vocabulary;
    m_kind = vocabulary > 0 ? Kind::Indices : shape.size() == 4 ? Kind::Images : Kind::Features;
    if (m_kind == Kind::Features && m_shape.empty()) m_shape = {1};
}

InputGenerator::InputGenerator(Module& model, InputGeneratorOptions o)
    : m_options(o), m_gen(o.seed) {
    Module* first = first_layer(model);
    const int64_t b = o.batch;
    Module* weighted = first_weighted(model);
    const bool indices = weighted && weighted->type_name() == "Embedding";
    const int64_t vocabulary = indices ? weighted->own_parameters().find("weight")->size(0) : 0;
    if (!o.input_shape.empty()) {
        from_shape(o.input_shape, vocabulary);
    } else if (auto* lin = dynamic_cast<Linear*>(first)) {
        m_kind = Kind::Features;
        m_shape = {lin->in_features};
        m_description =
            "normal features (" + std::to_string(b) + ", " + std::to_string(lin->in_features) + ")";
    } else if (auto* bn = dynamic_cast<BatchNorm*>(first)) {
        m_kind = bn->type_name() == "BatchNorm2d" ? Kind::Images : Kind::Features;
        m_shape = m_kind == Kind::Images ? Shape{bn->num_features, 8, 8} : Shape{bn->num_features};
    } else if (auto* ln = dynamic_cast<LayerNorm*>(first)) {
        m_kind = Kind::Features;
        m_shape = ln->normalized_shape;
    } else if (auto* conv = dynamic_cast<Conv2d*>(first)) {
        m_kind = Kind::Images;
        m_shape = {conv->in_channels, 8, 8};
    } else if (auto* emb = dynamic_cast<Embedding*>(first)) {
        m_kind = Kind::Indices;
        m_shape = {8};
        m_vocabulary = emb->num_embeddings;
    } else if (dynamic_cast<RunningAverage*>(first)) {
        m_kind = Kind::Scalar;
        m_shape = {1};
    } else if (auto* acc = dynamic_cast<Accumulator*>(first)) {
        m_kind = Kind::Vector;
        m_shape = {acc->own_buffers().find("stats")->shape()};
    } else if (dynamic_cast<ExponentialMovingAverage*>(first) ||
               dynamic_cast<PlainAttributeModel*>(first)) {
        m_kind = Kind::Vector;
        m_shape = {10};
    } else if (Shape guess = guess_input_shape(model); !guess.empty()) {
        from_shape(guess, vocabulary);
    } else {
        throw ValueError("cannot derive an input shape for a model starting with " +
                         (first->type_name().empty() ? std::string("a module of unknown type")
                                                     : first->type_name()));
    }
    if (m_description.empty()) {
        Shape full =
            m_kind == Kind::Scalar || m_kind == Kind::Vector ? m_shape : Shape{m_options.batch};
        if (m_kind != Kind::Scalar && m_kind != Kind::Vector)
            full.insert(full.end(), m_shape.begin(), m_shape.end());
        m_description =
            std::string(m_kind == Kind::Indices ? "integer indices " : "normal values ") +
            shape_str(full);
    }
    if (m_kind == Kind::Features || m_kind == Kind::Images || m_kind == Kind::Vector ||
        m_kind == Kind::Scalar) {
        const int64_t features = m_kind == Kind::Images ? m_shape[0]
                                 : m_shape.size() >= 2 ? m_shape.back() // (sequence, ..., features)
                                                       : shape_numel(m_shape);
        m_feature_offsets = randn({features}, m_gen);
    }
}

Shape InputGenerator::shape() const {
    if (m_kind == Kind::Scalar || m_kind == Kind::Vector) return m_shape;
    Shape full{m_options.batch};
    full.insert(full.end(), m_shape.begin(), m_shape.end());
    return full;
}

void InputGenerator::use_file_inputs(const Tensor& xs, const Tensor& ys,
                                     const std::string& description) {
    if (!xs.defined() || xs.dim() < 1 || xs.size(0) == 0)
        throw ValueError("inputs must have shape [steps, ...] with at least one step");
    if (ys.defined() && (ys.dim() < 1 || ys.size(0) != xs.size(0)))
        throw ValueError("targets must have shape [steps, ...] with as many steps as the inputs (" +
                         std::to_string(xs.size(0)) + ")");
    m_file_x = xs;
    m_file_y = ys;
    m_description = description;
}

Tensor InputGenerator::input(int64_t step) {
    NoGradGuard no_grad;
    m_last_step = step;
    if (m_file_x.defined()) return m_file_x.select(0, step % m_file_x.size(0)).contiguous();
    const auto& o = m_options;
    const double phase =
        o.drift_period > 0 ? std::sin(2 * M_PI * double(step) / o.drift_period) : 0.0;
    if (m_kind == Kind::Indices) {
        std::vector<int64_t> v(size_t(o.batch * m_shape[0]));
        for (auto& x : v) x = int64_t(m_gen.uniform() * double(m_vocabulary)) % m_vocabulary;
        return from_int64s(v, {o.batch, m_shape[0]});
    }
    Shape shape = m_kind == Kind::Scalar || m_kind == Kind::Vector ? m_shape : Shape{o.batch};
    if (m_kind == Kind::Features || m_kind == Kind::Images)
        shape.insert(shape.end(), m_shape.begin(), m_shape.end());
    Tensor noise = randn(shape, m_gen).mul(Scalar(o.std));
    // Per-feature mean: a fixed offset plus a shared drift; images drift per channel.
    Tensor mean = m_feature_offsets.mul(Scalar(0.5)).add(Scalar(o.mean + o.drift * phase));
    if (m_kind == Kind::Images)
        mean = mean.reshape({1, m_shape[0], 1, 1});
    else if (m_kind == Kind::Scalar || m_kind == Kind::Vector)
        mean = mean.reshape(m_shape);
    if (m_kind == Kind::Scalar)
        return noise.mul(Scalar(5)).add(Scalar(10 + 5 * phase)); // around 10, like the seed
    return noise.add(mean);
}

Tensor InputGenerator::target(const Tensor& x, const Tensor& output) {
    NoGradGuard no_grad;
    if (m_file_y.defined())
        return m_file_y.select(0, m_last_step % m_file_y.size(0)).to(output.device());
    const int64_t batch = output.dim() > 0 ? output.size(0) : 1;
    const int64_t out_flat = output.numel() / std::max<int64_t>(batch, 1);
    Tensor xf =
        x.is_floating_point() ? x.to(Device::cpu()) : x.to(Device::cpu()).to(DType::Float32);
    xf = xf.reshape({batch, -1});
    if (!m_teacher.defined() || m_teacher.size(0) != xf.size(1) || m_teacher.size(1) != out_flat)
        m_teacher = randn({xf.size(1), out_flat}, m_gen)
                        .div(Scalar(std::sqrt(double(std::max<int64_t>(xf.size(1), 1)))));
    Tensor t = xf.matmul(m_teacher).tanh().reshape(output.shape()).to(output.dtype());
    return t.to(output.device());
}

} // namespace nnscope
