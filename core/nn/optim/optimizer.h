// optimizer.h: PyTorch's SGD and Adam over a model's parameters() only.
//
// Buffers are never handed to an optimizer, so no optimizer step can change them: that
// is the difference between parameters and buffers that nnscope shows. Optimizer state
// (momentum_buffer, exp_avg, exp_avg_sq, step) belongs to the optimizer, not the model,
// and is listed by state() for the views.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "module.h"

namespace nnscope {

struct SgdOptions {
    double lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0;
    bool nesterov = false, maximize = false;
};

struct AdamOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool amsgrad = false, maximize = false;
};

class Optimizer {
  public:
    // `params`: named_parameters() of the model (names label the state).
    explicit Optimizer(NamedTensors params) : m_params(std::move(params)) {}
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    virtual std::string name() const = 0;
    // optimizer.zero_grad(set_to_none=True) by default, as PyTorch 2 does.
    void zero_grad(bool set_to_none = true);
    // Every state tensor, named "<parameter>.<state>" (e.g. "0.weight.exp_avg").
    virtual NamedTensors state() const = 0;
    const NamedTensors& params() const { return m_params; }

  protected:
    NamedTensors m_params;
};

class Sgd final : public Optimizer {
  public:
    Sgd(NamedTensors params, SgdOptions options);
    void step() override;
    std::string name() const override { return "SGD"; }
    NamedTensors state() const override;
    const SgdOptions& options() const { return m_options; }

  private:
    SgdOptions m_options;
    std::vector<Tensor> m_momentum; // per parameter, undefined until its first step
};

class Adam final : public Optimizer {
  public:
    Adam(NamedTensors params, AdamOptions options);
    void step() override;
    std::string name() const override { return "Adam"; }
    NamedTensors state() const override;
    const AdamOptions& options() const { return m_options; }

  private:
    AdamOptions m_options;
    struct State {
        Tensor exp_avg, exp_avg_sq, max_exp_avg_sq; // the last with amsgrad only
        int64_t step = 0;
    };
    std::vector<State> m_state;
};

// "sgd:lr=0.05,momentum=0.9,maximize=true" or "adam:lr=1e-3,betas=0.9/0.999,amsgrad=true";
// throws ValueError.
std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, NamedTensors params);

} // namespace nnscope
