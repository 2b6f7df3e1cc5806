// forward.cpp: the layers' forward passes, PyTorch's semantics and shape errors. Buffer
// updates (BatchNorm's statistics, the seed modules' counters) run under no-grad and
// happen only in train mode, as in PyTorch; the seed modules update theirs in any mode,
// exactly as the seed code does.
#include "layers.h"

#include <algorithm>
#include <cmath>

#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "fused_cpu.h"

namespace nnscope {

Tensor own(const Module& m, const char* name) {
    if (const Tensor* t = m.own_parameters().find(name)) return *t;
    if (const Tensor* t = m.own_buffers().find(name)) return *t;
    return {};
}

bool Sequential::runnable() const {
    for (const auto& [name, child] : own_children())
        if (child && !child->runnable()) return false;
    return true;
}

namespace {
bool is_relu(const Module* m) {
    auto* s = dynamic_cast<const Stateless*>(m);
    return s && s->op == Stateless::Op::ReLU;
}
} // namespace

Tensor Sequential::forward(const Tensor& x) {
    Tensor y = x;
    const auto& children = own_children().items();
    for (size_t i = 0; i < children.size(); ++i) {
        Module* child = children[i].second.get();
        if (!child) continue;
        // BatchNorm then ReLU: the same values and grad_fn, one pass fewer over memory.
        auto* bn = dynamic_cast<BatchNorm*>(child);
        if (bn && i + 1 < children.size() && is_relu(children[i + 1].second.get())) {
            y = bn->forward(y, true);
            bn->record_output(y);
            children[i + 1].second->record_output(y);
            ++i;
            continue;
        }
        y = (*child)(y);
    }
    return y;
}

Tensor Linear::forward(const Tensor& x) {
    return F::linear(x, own(*this, "weight"), own(*this, "bias"));
}

Tensor BatchNorm::forward(const Tensor& x, bool then_relu) {
    if (m_dims == 1 && x.dim() != 2 && x.dim() != 3)
        throw ValueError("expected 2D or 3D input (got " + std::to_string(x.dim()) + "D input)");
    if (m_dims >= 2 && x.dim() != m_dims + 2)
        throw ValueError("expected " + std::to_string(m_dims + 2) + "D input (got " +
                         std::to_string(x.dim()) + "D input)");
    return F::batch_norm(x, own(*this, "running_mean"), own(*this, "running_var"),
                         own(*this, "num_batches_tracked"), own(*this, "weight"),
                         own(*this, "bias"), is_training(), momentum, eps, then_relu);
}

Tensor LayerNorm::forward(const Tensor& x) {
    return F::layer_norm(x, normalized_shape, own(*this, "weight"), own(*this, "bias"), eps);
}

Tensor Embedding::forward(const Tensor& x) {
    if (max_norm) renormalize_rows(x);
    return F::embedding(x, own(*this, "weight"), padding_idx);
}

// F.embedding's max_norm: each row looked up whose norm_type-norm exceeds max_norm is
// scaled in place to max_norm / (norm + 1e-7), before the lookup and without autograd.
void Embedding::renormalize_rows(const Tensor& indices) {
    NoGradGuard no_grad;
    Tensor weight = own(*this, "weight");
    std::vector<int64_t> rows = indices.to_int64s();
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    for (int64_t r : rows) {
        if (r < 0 || r >= weight.size(0)) continue; // the lookup reports it
        Tensor row = weight.select(0, r);
        double norm = 0;
        for (double v : row.to_doubles()) norm += std::pow(std::abs(v), norm_type);
        norm = std::pow(norm, 1.0 / norm_type);
        if (norm > *max_norm) row.mul_(Scalar(*max_norm / (norm + 1e-7)));
    }
}

Tensor Conv2d::forward(const Tensor& x) {
    return F::conv2d(x, own(*this, "weight"), own(*this, "bias"), stride, padding, dilation,
                     groups);
}

Tensor Stateless::forward(const Tensor& x) {
    switch (op) {
    case Op::ReLU:
        return fused::eligible({&x}) ? fused::relu(x) : x.relu();
    case Op::Sigmoid:
        return x.sigmoid();
    case Op::Tanh:
        return x.tanh();
    case Op::GELU:
        return F::gelu(x, tanh_approximation);
    case Op::Identity:
        return x;
    case Op::Flatten:
        return x.flatten(start_dim, end_dim);
    case Op::Dropout:
        return F::dropout(x, p, is_training(), gen);
    case Op::Softmax:
        return F::softmax(x, dim.value_or(F::softmax_default_dim(x.dim())));
    case Op::LogSoftmax:
        return F::log_softmax(x, dim.value_or(F::softmax_default_dim(x.dim())));
    }
    return x;
}

// Seed 000: self.count += 1; running_average = running_average.mul(count - 1).add(x).div(count)
Tensor RunningAverage::forward(const Tensor& x) {
    NoGradGuard no_grad;
    Tensor count = own(*this, "count");
    count.add_(Scalar(1));
    set_attr("running_average",
             own(*this, "running_average").mul(count.sub(Scalar(1))).add(x).div(count));
    return x;
}

// Seed 002: running_avg = 0.9 * running_avg + 0.1 * x.mean()
Tensor ExponentialMovingAverage::forward(const Tensor& x) {
    NoGradGuard no_grad;
    set_attr("running_avg",
             own(*this, "running_avg").mul(Scalar(0.9)).add(x.mean().mul(Scalar(0.1))));
    return x;
}

// Seed 002: self.count += 1; self.stats += x
Tensor Accumulator::forward(const Tensor& x) {
    NoGradGuard no_grad;
    own(*this, "count").add_(Scalar(1));
    Tensor stats = own(*this, "stats");
    stats.add_(x);
    return x;
}

Tensor PlainAttributeModel::forward(const Tensor& x) {
    return x.mul(own(*this, "my_param")).add(own(*this, "my_buffer")).add(attr("my_tensor"));
}

} // namespace nnscope
