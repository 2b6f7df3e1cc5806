// step_engine.h: one step at a time of what a user steps in the window: a forward pass
// (no grad; buffers update in train mode) or a training step (forward, MSE loss against the
// generator's target, backward, optimizer step). No Qt, no threads: the window runs it on
// a worker thread under its model lock, tests run it directly.
#pragma once

#include <limits>
#include <memory>
#include <string>

#include "errors.h"
#include "input_generator.h"
#include "module.h"
#include "optim/optimizer.h"

namespace nnscope {

// What one watch records per step: the values of a small tensor (at most 8 elements), or
// mean, min and max of a larger one (over finite elements).
std::vector<double> watch_sample(const Tensor& t);
inline constexpr int64_t k_watch_elements = 8;

// A training step whose loss is not finite: the run stops there (the window pauses and
// says so), before the optimizer step, so the parameters stay finite.
class NonFiniteLoss : public Error {
  public:
    using Error::Error;
};

class StepEngine {
  public:
    // Throws ValueError when the model cannot run or no input can be generated for it.
    // `why_not`: what the file's reader knows of why the model cannot run (the error says
    // it instead of naming the modules without forward code).
    StepEngine(ModulePtr model, InputGeneratorOptions inputs = {}, const std::string& why_not = {});

    // Enables training steps with an optimizer ("sgd:lr=0.01,momentum=0.9", "adam:lr=1e-3")
    // over the model's parameters; an empty spec goes back to forward passes only.
    void set_optimizer(const std::string& spec);
    const std::string& optimizer_spec() const { return m_optimizer_spec; }
    Optimizer* optimizer() const { return m_optimizer.get(); }

    struct Result {
        int64_t step = 0; // 1-based count of steps done
        double loss = std::numeric_limits<double>::quiet_NaN();
    };
    // One step. A step that throws leaves the model's tensors as they were when it is the
    // first since the engine was made or model_changed() (see step_engine.cpp).
    Result step();
    int64_t steps_done() const { return m_steps; }
    const std::string& input_description() const { return m_inputs.description(); }
    InputGenerator& inputs() { return m_inputs; }
    // The model's parameters changed identity or device (a load, a move): rebuild the optimizer.
    void model_changed();

  private:
    Result run_step();
    ModulePtr m_model;
    InputGenerator m_inputs;
    std::unique_ptr<Optimizer> m_optimizer;
    std::string m_optimizer_spec;
    int64_t m_steps = 0;
    bool m_verified = false; // a step succeeded since the last change
};

} // namespace nnscope
