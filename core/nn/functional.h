// functional.h: PyTorch's torch.nn.functional for the layers nnscope implements, built
// from recorded tensor ops so autograd differentiates them. Shape errors use PyTorch's
// words. Buffer updates (BatchNorm's running statistics) happen here under no-grad.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pool_windows.h"
#include "random.h"
#include "tensor.h"

namespace nnscope::F {

// x (*, in) @ weight(out, in)^T + bias(out)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// BatchNorm over every dim but 1. With `training` (or without running statistics) it
// normalises with the batch's biased variance and, when running statistics are given,
// updates them with the unbiased variance: factor `momentum`, or 1/num_batches_tracked
// when momentum is nullopt. Undefined weight/bias mean affine=False.
// `then_relu`: relu(batch_norm(...)), in one pass over memory where nothing is recorded
// (Sequential's BatchNorm followed by ReLU, in forward passes under no-grad).
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  Tensor num_batches_tracked, const Tensor& weight, const Tensor& bias,
                  bool training, std::optional<double> momentum, double eps,
                  bool then_relu = false);

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps);

// Rows of weight for int64 indices of any shape; the padding row gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx);

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
              std::array<int64_t, 2> dilation, int64_t groups);

// PyTorch's implicit dim for Softmax(dim=None): 0 for 0-, 1- and 3-D input, else 1.
int64_t softmax_default_dim(int64_t ndim);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor gelu(const Tensor& x, bool tanh_approximation);
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

// Pooling over the last two dims of (N, C, H, W) or (C, H, W), PyTorch's output sizes
// (ceil_mode included). An empty stride means stride = kernel size.
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, bool ceil_mode);
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
// Adaptive pooling's windows (PyTorch's: [floor(i*H/oh), ceil((i+1)*H/oh))), each reduced
// over `dims` with keepdim by `reduce` (a mean, or a recorded maximum).
Tensor
adaptive_pool2d(const Tensor& x, std::array<int64_t, 2> output_size, const char* name,
                const std::function<Tensor(const Tensor&, const std::vector<int64_t>&)>& reduce);
// x padded with `value`; `pad` as F.pad's: (left, right) of the last dim, then the one before.
Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pad, double value);
// min(max(x, lo), hi); either bound may be absent.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps);
// InstanceNorm: batch_norm over (1, N*C, ...), as ATen computes it. With running
// statistics and use_input_stats they are updated by the mean over the batch of each
// sample's update; num_batches_tracked is never touched (PyTorch does not).
Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats,
                     double momentum, double eps);

// functional_activations.cpp: piecewise activations, PyTorch's gradient on each branch.
Tensor leaky_relu(const Tensor& x, double negative_slope);
Tensor elu(const Tensor& x, double alpha);
Tensor softplus(const Tensor& x, double beta, double threshold);
Tensor mish(const Tensor& x);
// weight: 1 element, or one per channel (dim 1; dim 0 of 1-D input).
Tensor prelu(const Tensor& x, const Tensor& weight);

// functional_spatial.cpp. The 1-D forms take (N, C, L) or (C, L); a stride of 0 means
// the kernel size.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups);
// weight (in, out / groups, kH, kW), as nn.ConvTranspose2d stores it.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                        std::array<int64_t, 2> output_padding, int64_t groups,
                        std::array<int64_t, 2> dilation);
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                  int64_t dilation, bool ceil_mode);
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                  bool count_include_pad);
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size);
Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
// Max pooling with ATen's indices (h * W + w of each window's first maximum, per plane);
// the gradient goes to that element alone, as in PyTorch.
// Eval-mode Conv2d -> BatchNorm2d (running statistics) [-> ReLU] as one convolution with
// the BatchNorm folded in (fused::conv_bn_eval); undefined where that does not apply, and
// the caller runs the three ops as they are. Only where grad mode is off.
Tensor conv_bn_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                    std::array<int64_t, 2> dilation, int64_t groups, const Tensor& running_mean,
                    const Tensor& running_var, const Tensor& bn_weight, const Tensor& bn_bias,
                    double eps, bool relu);
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::array<int64_t, 2> kernel,
                                                  std::array<int64_t, 2> stride,
                                                  std::array<int64_t, 2> padding,
                                                  std::array<int64_t, 2> dilation, bool ceil_mode);
std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x,
                                                           std::array<int64_t, 2> output_size);
// Both poolings' core: x (N, C, H, W), the windows along H and W (pool_windows.h), on x's
// device (the backend's window_max). Values (recorded, gradient to the maximum) and int64
// indices; `want_indices` false: the indices only where backward needs them, else undefined.
std::pair<Tensor, Tensor> pool_by_argmax(const Tensor& x, const PoolWindows& rows,
                                         const PoolWindows& cols, bool want_indices = true);
// F.interpolate over the last 1 or 2 dims to `size`: modes nearest, linear (3-D input),
// bilinear (4-D); `scales` as given by the caller (scale_factor without
// recompute_scale_factor), which ATen uses for source indices instead of in/out.
Tensor interpolate(const Tensor& x, const std::vector<int64_t>& size,
                   const std::vector<std::optional<double>>& scales, const std::string& mode,
                   bool align_corners);

// a (..., n, k) @ b (..., k, m) with broadcast batch dims (torch.matmul of >2-D operands):
// one GEMM per batch element, recorded by autograd.
Tensor batched_matmul(const Tensor& a, const Tensor& b);
// Scaled dot-product attention of q (B, H, L, D), k and v (B, H, S, D); `mask` (broadcast
// to (B, H, L, S)) is boolean (true = masked out) or additive; returns (output, weights).
std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& mask);
// One step of PyTorch's recurrent cells; weights as nn.LSTM/GRU/RNN store them.
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh);
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh);
Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, bool relu);

// functional_sequence.cpp. Every layer and direction of a recurrent layer over the
// sequence, as PyTorch's CPU kernels: input (T, B, I) or batch first; hx: (h0) or (h0, c0)
// for LSTM, each (layers * directions, B, H); params: per layer and direction w_ih, w_hh
// (and b_ih, b_hh). Dropout between layers in training, from `gen`. Returns (output, h_n)
// or, for LSTM, (output, h_n, c_n).
enum class Cell { LSTM, GRU, Tanh, Relu };
struct RecurrentOptions {
    bool has_biases = true;
    int64_t num_layers = 1;
    double dropout = 0;
    bool train = false, bidirectional = false, batch_first = false;
};
std::vector<Tensor> recurrent(Cell cell, const Tensor& input, const std::vector<Tensor>& hx,
                              const std::vector<Tensor>& params, const RecurrentOptions& options,
                              Generator& gen);
// Multi-head attention with packed input projections w (3E, E), b (3E), on batch-first
// (B, L, E) inputs, as nn.MultiheadAttention computes it; mask_type 1: `mask` is a key
// padding mask (B, S). Dropout on the attention weights when dropout_p > 0 and gen is
// given. Returns (output (B, L, E), weights per head (B, H, L, S)).
std::pair<Tensor, Tensor> packed_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           int64_t embed_dim, int64_t heads, const Tensor& w,
                                           const Tensor& b, const Tensor& proj_w,
                                           const Tensor& proj_b, Tensor mask, int64_t mask_type,
                                           double dropout_p = 0, Generator* gen = nullptr);

Tensor mse_loss(const Tensor& input, const Tensor& target);
// input (N, C) logits, target (N) class indices; mean over the batch.
Tensor cross_entropy(const Tensor& input, const Tensor& target);

} // namespace nnscope::F
