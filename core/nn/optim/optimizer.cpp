// optimizer.cpp: the update rules of PyTorch's single-tensor SGD and Adam, in the same
// order of operations so float32 results agree step for step.
#include "optimizer.h"

#include <cmath>
#include <sstream>

#include "autograd.h"
#include "errors.h"
#include "fused_cpu.h"

namespace nnscope {

void Optimizer::zero_grad(bool set_to_none) {
    for (auto& [name, p] : m_params) {
        if (!p.grad().defined()) continue;
        if (set_to_none)
            p.impl()->grad.reset();
        else
            Tensor(p.impl()->grad).zero_();
    }
}

Sgd::Sgd(NamedTensors params, SgdOptions o)
    : Optimizer(std::move(params)), m_options(o), m_momentum(m_params.size()) {
    if (o.lr < 0) throw ValueError("Invalid learning rate: " + std::to_string(o.lr));
    if (o.momentum < 0) throw ValueError("Invalid momentum value: " + std::to_string(o.momentum));
    if (o.weight_decay < 0)
        throw ValueError("Invalid weight_decay value: " + std::to_string(o.weight_decay));
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
        throw ValueError("Nesterov momentum requires a momentum and zero dampening");
}

void Sgd::step() {
    NoGradGuard no_grad;
    const auto& o = m_options;
    for (size_t i = 0; i < m_params.size(); ++i) {
        Tensor p = m_params[i].second;
        Tensor d_p = p.grad();
        if (!d_p.defined()) continue;
        Tensor& buf = m_momentum[i];
        if (o.maximize) d_p = d_p.neg();
        if (o.momentum != 0 && buf.defined() && fused::eligible({&p, &d_p, &buf})) {
            fused::sgd_momentum_step(p.data<float>(), d_p.data<float>(), buf.data<float>(),
                                     p.numel(), float(o.lr), float(o.momentum), float(o.dampening),
                                     float(o.weight_decay), o.nesterov);
            autograd::bump_version(p); // written in place, as add_ would
            autograd::bump_version(buf);
            continue;
        }
        if (o.weight_decay != 0) d_p = d_p.add(p.mul(Scalar(o.weight_decay)));
        if (o.momentum != 0) {
            if (!buf.defined())
                buf = d_p.clone();
            else
                buf.mul_(Scalar(o.momentum)).add_(d_p.mul(Scalar(1 - o.dampening)));
            d_p = o.nesterov ? d_p.add(buf.mul(Scalar(o.momentum))) : buf;
        }
        p.add_(d_p.mul(Scalar(-o.lr)));
    }
}

NamedTensors Sgd::state() const {
    NamedTensors out;
    for (size_t i = 0; i < m_params.size(); ++i)
        if (m_momentum[i].defined())
            out.emplace_back(m_params[i].first + ".momentum_buffer", m_momentum[i]);
    return out;
}

Adam::Adam(NamedTensors params, AdamOptions o)
    : Optimizer(std::move(params)), m_options(o), m_state(m_params.size()) {
    if (o.lr < 0) throw ValueError("Invalid learning rate: " + std::to_string(o.lr));
    if (o.eps < 0) throw ValueError("Invalid epsilon value: " + std::to_string(o.eps));
    if (o.beta1 < 0 || o.beta1 >= 1)
        throw ValueError("Invalid beta parameter at index 0: " + std::to_string(o.beta1));
    if (o.beta2 < 0 || o.beta2 >= 1)
        throw ValueError("Invalid beta parameter at index 1: " + std::to_string(o.beta2));
    if (o.weight_decay < 0)
        throw ValueError("Invalid weight_decay value: " + std::to_string(o.weight_decay));
}

void Adam::step() {
    NoGradGuard no_grad;
    const auto& o = m_options;
    for (size_t i = 0; i < m_params.size(); ++i) {
        Tensor p = m_params[i].second;
        Tensor grad = p.grad();
        if (!grad.defined()) continue;
        State& s = m_state[i];
        if (!s.exp_avg.defined()) {
            s.exp_avg = zeros(p.shape(), TensorOptions(p.dtype()).with_device(p.device()));
            s.exp_avg_sq = zeros(p.shape(), TensorOptions(p.dtype()).with_device(p.device()));
        }
        if (o.amsgrad && !s.max_exp_avg_sq.defined())
            s.max_exp_avg_sq = zeros(p.shape(), TensorOptions(p.dtype()).with_device(p.device()));
        ++s.step;
        if (o.maximize) grad = grad.neg();
        if (o.weight_decay != 0) grad = grad.add(p.mul(Scalar(o.weight_decay)));
        s.exp_avg.mul_(Scalar(o.beta1)).add_(grad.mul(Scalar(1 - o.beta1)));
        s.exp_avg_sq.mul_(Scalar(o.beta2)).add_(grad.mul(grad).mul(Scalar(1 - o.beta2)));
        const double bias_correction1 = 1 - std::pow(o.beta1, double(s.step));
        const double bias_correction2 = 1 - std::pow(o.beta2, double(s.step));
        const double step_size = o.lr / bias_correction1;
        if (o.amsgrad) s.max_exp_avg_sq.copy_(s.max_exp_avg_sq.maximum(s.exp_avg_sq));
        const Tensor& second = o.amsgrad ? s.max_exp_avg_sq : s.exp_avg_sq;
        Tensor denom = second.sqrt().div(Scalar(std::sqrt(bias_correction2))).add(Scalar(o.eps));
        p.add_(s.exp_avg.div(denom).mul(Scalar(-step_size)));
    }
}

NamedTensors Adam::state() const {
    NamedTensors out;
    for (size_t i = 0; i < m_params.size(); ++i) {
        const State& s = m_state[i];
        if (!s.exp_avg.defined()) continue;
        const std::string& n = m_params[i].first;
        out.emplace_back(n + ".step", full({}, Scalar(double(s.step))));
        out.emplace_back(n + ".exp_avg", s.exp_avg);
        out.emplace_back(n + ".exp_avg_sq", s.exp_avg_sq);
        if (s.max_exp_avg_sq.defined()) out.emplace_back(n + ".max_exp_avg_sq", s.max_exp_avg_sq);
    }
    return out;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, NamedTensors params) {
    auto colon = spec.find(':');
    std::string kind = spec.substr(0, colon),
                rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
    std::vector<std::pair<std::string, std::string>> kv;
    std::stringstream ss(rest);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string::npos)
            throw ValueError("optimizer option '" + item + "' needs a value (name=value)");
        kv.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    auto number = [&](const std::string& key, const std::string& v) {
        try {
            size_t used = 0;
            double d = std::stod(v, &used);
            if (used != v.size()) throw std::invalid_argument(v);
            return d;
        } catch (const std::exception&) {
            throw ValueError("optimizer option " + key + "=" + v + " is not a number");
        }
    };
    auto flag = [&](const std::string& key, const std::string& v) {
        if (v == "1" || v == "true" || v == "True") return true;
        if (v == "0" || v == "false" || v == "False") return false;
        throw ValueError("optimizer option " + key + "=" + v + " is not true or false");
    };
    if (kind == "sgd") {
        SgdOptions o;
        for (auto& [k, v] : kv) {
            if (k == "lr")
                o.lr = number(k, v);
            else if (k == "momentum")
                o.momentum = number(k, v);
            else if (k == "dampening")
                o.dampening = number(k, v);
            else if (k == "weight_decay")
                o.weight_decay = number(k, v);
            else if (k == "nesterov")
                o.nesterov = flag(k, v);
            else if (k == "maximize")
                o.maximize = flag(k, v);
            else
                throw ValueError("unknown SGD option '" + k +
                                 "' (lr, momentum, dampening, weight_decay, nesterov, maximize)");
        }
        return std::make_unique<Sgd>(std::move(params), o);
    }
    if (kind == "adam") {
        AdamOptions o;
        for (auto& [k, v] : kv) {
            if (k == "lr")
                o.lr = number(k, v);
            else if (k == "beta1")
                o.beta1 = number(k, v);
            else if (k == "beta2")
                o.beta2 = number(k, v);
            else if (k == "betas") {
                auto slash = v.find('/');
                if (slash == std::string::npos)
                    throw ValueError("betas=B1/B2, e.g. betas=0.9/0.999");
                o.beta1 = number(k, v.substr(0, slash));
                o.beta2 = number(k, v.substr(slash + 1));
            } else if (k == "eps")
                o.eps = number(k, v);
            else if (k == "weight_decay")
                o.weight_decay = number(k, v);
            else if (k == "amsgrad")
                o.amsgrad = flag(k, v);
            else if (k == "maximize")
                o.maximize = flag(k, v);
            else
                throw ValueError(
                    "unknown Adam option '" + k +
                    "' (lr, betas, beta1, beta2, eps, weight_decay, amsgrad, maximize)");
        }
        return std::make_unique<Adam>(std::move(params), o);
    }
    throw ValueError("unknown optimizer '" + kind +
                     "' (sgd or adam, e.g. sgd:lr=0.05,momentum=0.9)");
}

} // namespace nnscope
