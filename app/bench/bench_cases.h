// bench_cases.h: the reference benchmark, shared by `nnscope-cli bench` and the LibTorch
// comparison (nnscope-bench-libtorch), so both time exactly the same work:
//   small: Linear(6,16) BatchNorm1d ReLU Linear(16,16) BatchNorm1d ReLU Linear(16,4), batch 32
//   large: Linear(512,512) BatchNorm1d ReLU Linear(512,512) BatchNorm1d ReLU Linear(512,10), 256
// Figures: median ms after warm-up of a train-mode forward pass (running statistics
// update, no grad), an eval-mode forward pass, and a training step (forward, MSE loss,
// backward, SGD momentum 0.9); `roof_*` is the time of the same matrix products alone in
// OpenBLAS (forward: 3 GEMMs; step: those plus 5 for the gradients).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "device.h"

namespace nnscope::bench {

struct Case {
    std::string name;
    int in, hidden, out, batch;
    int runs; // timed repetitions per figure
};
const std::vector<Case>& cases();
// The cases whose names appear in `list` ("small,large").
std::vector<Case> select_cases(const std::string& list);

struct Figures {
    double train_forward_ms = 0, eval_forward_ms = 0, train_step_ms = 0;
    double first_loss = 0; // MSE of the first training step, to check both sides did the same
};

// The model of a case as an nnscope spec (seed 0).
std::string spec_json(const Case& c);
// nnscope: the model built from spec_json(), inputs from Generator(1).
Figures run_nnscope(const Case& c, const Device& device, int warmup = 5);
// The same matrix products alone, through cblas_sgemm on the CPU.
Figures run_roof(const Case& c, int warmup = 5);

// Median milliseconds of `f` over `runs` calls after `warmup` calls.
double median_ms(const std::function<void()>& f, int warmup, int runs);

nlohmann::json to_json(const Case& c, const std::string& device, const Figures& f);

} // namespace nnscope::bench
