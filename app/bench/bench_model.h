// bench_model.h: a real model's benchmark (`nnscope-cli bench --model FILE --input-shape
// N,C,H,W`, and side by side with LibTorch in nnscope-bench-libtorch). Three figures, each
// the median of timed runs after warm-up:
//   eval_forward:  eval mode, no grad;
//   train_forward: train mode, no grad (BatchNorm's running statistics update);
//   train_step:    train mode: gradients set to None, forward, cross entropy against fixed
//                  labels (i % classes), backward, SGD (lr 0.01, momentum 0.9).
// The input is randn from Generator(1), the same tensor on both sides.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "device.h"
#include "module.h"
#include "optim/optimizer.h"
#include "tensor.h"

namespace nnscope::bench {

// "8,3,112,112" -> {8, 3, 112, 112}; throws UsageError-worthy std::invalid_argument.
Shape parse_shape(const std::string& text);
// The benchmark's input and labels for `classes` outputs per row.
Tensor model_input(const Shape& shape);
Tensor model_labels(int64_t batch, int64_t classes);

// nnscope's side: the model file opened as the window and `run` open it.
class NnscopeModel {
  public:
    NnscopeModel(const std::string& path, const Shape& input_shape, const Device& device);
    void eval_forward();
    void train_forward();
    double train_step(); // the loss, computed before the step's update
    int64_t classes() const { return m_classes; }
    OrderedDict<Tensor> state() const { return m_model->state_dict().tensors; }
    uint64_t tensor_bytes() const; // parameters and buffers
    const Tensor& input() const { return m_x; }
    const Tensor& labels() const { return m_labels; }

  private:
    ModulePtr m_model;
    Tensor m_x, m_labels;
    int64_t m_classes = 0;
    std::unique_ptr<Optimizer> m_opt;
};

// The roof of a model's convolutions: their forward FLOPs (2 multiply-adds per weight tap
// per output element) from one eval forward pass, and the time OpenBLAS's sgemm takes for
// the same products (per group: out/groups x N*oh*ow x in/groups*kh*kw), median of 5.
struct ConvRoof {
    int convolutions = 0;
    double gflop = 0;    // forward
    double sgemm_ms = 0; // forward's products alone
};
ConvRoof conv_roof(NnscopeModel& model);

// Medians of several workloads timed in alternation: run r times workload 0 then 1 ...,
// run r+1 in the reverse order, so neither side always runs first (cache and frequency
// effects fall on both). `warmup` untimed rounds first.
std::vector<double> interleaved_medians(const std::vector<std::function<void()>>& workloads,
                                        int warmup, int runs);

} // namespace nnscope::bench
