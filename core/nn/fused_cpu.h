// fused_cpu.h: single-pass float32 kernels for the layers models spend their time in, on
// the CPU: Linear (one GEMM with the bias, no transposed copies), BatchNorm (statistics,
// running-stat update and normalisation in two passes over memory), ReLU and MSE loss,
// each with its backward as one autograd node in PyTorch's name (AddmmBackward0,
// NativeBatchNormBackward0, ReluBackward0, MseLossBackward0).
//
// F:: functions call these when every tensor involved is a contiguous float32 CPU tensor
// and fall back to their composed, any-dtype, any-device form otherwise; both give
// PyTorch's values (tests/layers compares them with PyTorch and with each other).
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>

#include "backend.h"
#include "tensor.h"

namespace nnscope::fused {

// Every defined tensor among `ts` is contiguous float32 on the CPU.
bool eligible(std::initializer_list<const Tensor*> ts);

// BatchNorm over dimension 1 of x [N, C] or [N, C, *]; the semantics of F::batch_norm.
// `then_relu`: returns relu(batch_norm(x)) from the same pass over memory; only for calls
// that record nothing (F::batch_norm checks).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, const Tensor& weight, const Tensor& bias,
                  bool training, std::optional<double> momentum, double eps,
                  bool then_relu = false);
Tensor relu(const Tensor& x);
// 2-D convolution of x [N, C, H, W] by W [O, C/groups, kh, kw] (+ b [O]): one GEMM per
// group over the batch, recorded as ConvolutionBackward0 (fused_conv.cpp).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Backend::ConvGeometry& g, int64_t groups);
// Eval-mode convolution followed by BatchNorm (running statistics) and optionally ReLU, as
// one oneDNN convolution with the BatchNorm folded into a copy of its weights and bias
// (W' = W g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps) + beta); the model's tensors
// are untouched, and the folded copy is kept until any of them changes version. Records
// nothing: callers use it only where grad mode is off. Undefined where it does not apply
// (no oneDNN, not float32 on the CPU, running statistics missing).
Tensor conv_bn_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Backend::ConvGeometry& g, int64_t groups, const Tensor& running_mean,
                    const Tensor& running_var, const Tensor& bn_weight, const Tensor& bn_bias,
                    double eps, bool relu);
// A convolution's sizes, as the benchmark's roof sees them (bench --model --roof).
struct ConvCall {
    int64_t n, c, o, kh, kw, groups, oh, ow;
};
// Called with every float32 CPU convolution while set (one thread at a time); null: none.
void set_conv_observer(std::function<void(const ConvCall&)> observer);
// mean((input - target)^2), same shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target);

// One SGD step with momentum over float32 arrays, momentum buffer already started.
void sgd_momentum_step(float* param, const float* grad, float* momentum_buffer, int64_t n, float lr,
                       float momentum, float dampening, float weight_decay, bool nesterov);

} // namespace nnscope::fused
