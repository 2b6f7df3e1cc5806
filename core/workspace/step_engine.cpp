// step_engine.cpp: forward passes and training steps for interactive stepping.
#include "step_engine.h"

#include <cmath>

#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "model_facts.h"
#include "tensor_stats.h"

namespace nnscope {

std::vector<double> watch_sample(const Tensor& t) {
    if (!t.defined()) return {};
    if (t.numel() <= k_watch_elements) return t.to_doubles();
    TensorStats s = tensor_stats(t);
    return {s.mean, s.min, s.max};
}

StepEngine::StepEngine(ModulePtr model, InputGeneratorOptions inputs, const std::string& why_not)
    : m_model(std::move(model)), m_inputs(*m_model, inputs) {
    if (!m_model->runnable())
        throw ValueError("this model cannot run: " +
                         (!why_not.empty() ? why_not
                          : m_model->type_name().empty()
                              ? std::string("its modules' types are unknown")
                              : why_not_runnable(*m_model)));
}

void StepEngine::set_optimizer(const std::string& spec) {
    if (spec.empty()) {
        m_optimizer.reset();
        m_optimizer_spec.clear();
        return;
    }
    m_optimizer = make_optimizer(spec, m_model->named_parameters());
    m_optimizer_spec = spec;
    m_verified = false;
}

void StepEngine::model_changed() {
    if (!m_optimizer_spec.empty()) set_optimizer(m_optimizer_spec);
    m_verified = false;
}

StepEngine::Result StepEngine::step() {
    if (m_verified) return run_step();
    // The first step after a change runs as a transaction: errors come from the model's
    // make-up (devices, shapes, dtypes), so this is where they show, and a forward pass
    // that fails half-way (after a BatchNorm updated its statistics) must leave nothing
    // changed. Later steps run as they are.
    std::vector<std::pair<Tensor, Tensor>> saved;
    {
        NoGradGuard no_grad;
        for (const auto& e : m_model->tensor_entries())
            if (e.tensor.defined()) saved.emplace_back(e.tensor, e.tensor.clone());
    }
    try {
        Result r = run_step();
        m_verified = true;
        return r;
    } catch (...) {
        NoGradGuard no_grad;
        for (auto& [t, copy] : saved) Tensor(t).copy_(copy);
        throw;
    }
}

StepEngine::Result StepEngine::run_step() {
    Result r;
    const Device device = [&] {
        auto params = m_model->parameters();
        if (!params.empty()) return params[0].device();
        auto buffers = m_model->buffers();
        return buffers.empty() ? Device::cpu() : buffers[0].device();
    }();
    Tensor x = m_inputs.input(m_steps).to(device);
    if (m_optimizer) {
        m_optimizer->zero_grad();
        Tensor y = (*m_model)(x);
        if (!y.is_floating_point())
            throw ValueError("training needs a floating-point output, got " +
                             std::string(dtype_name(y.dtype())));
        Tensor loss = F::mse_loss(y, m_inputs.target(x, y));
        r.loss = loss.item();
        // A diverged run (loss inf or NaN) stops here, before the optimizer writes
        // non-finite values into every parameter.
        if (!std::isfinite(r.loss))
            throw NonFiniteLoss("the loss is " + std::string(std::isnan(r.loss) ? "nan" : "inf") +
                                " at step " + std::to_string(m_steps + 1) +
                                ": training diverged; the optimizer step was skipped and the "
                                "parameters are as before it (a smaller learning rate or input "
                                "std may help)");
        loss.backward();
        m_optimizer->step();
    } else {
        NoGradGuard no_grad;
        (*m_model)(x);
    }
    r.step = ++m_steps;
    return r;
}

} // namespace nnscope
