// layers.h: PyTorch's modules as nnscope modules: their tensors, hyper-parameters, defaults
// and initialisation, registered in PyTorch's order so state-dict keys match.
//
// The seed documents' own modules (RunningAverage, ExponentialMovingAverage, Accumulator)
// are types here too, so the built-in examples reproduce them.
#pragma once

#include <array>
#include <functional>
#include <optional>

#include "module.h"
#include "random.h"

namespace nnscope {

// reset_parameters() of Linear and the convolutions: weight and bias ~ U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), registered in that order (no bias: registered as None).
void register_weight_and_bias(Module& m, const Shape& weight_shape, int64_t fan_in, bool bias,
                              Generator& gen);
// A module's own parameter or buffer by name; undefined when absent or registered as None.
Tensor own(const Module& m, const char* name);

class Sequential : public Module {
  public:
    Sequential() : Module("Sequential") {}
    // Children are named "0", "1", ... like nn.Sequential's, unless a name is given.
    void append(ModulePtr m, const std::string& name = {});
    bool has_forward() const override { return true; }
    bool runnable() const override;
    Tensor forward(const Tensor& x) override;
};

class Linear : public Module {
  public:
    Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t in_features, out_features;
};

class BatchNorm : public Module {
  public:
    // `type`: "BatchNorm1d/2d/3d" (or "InstanceNorm1d/2d"). momentum nullopt = cumulative average.
    BatchNorm(std::string type, int64_t num_features, double eps, std::optional<double> momentum,
              bool affine, bool track_running_stats);
    int version() const override { return 2; }
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override { return forward(x, false); }
    // then_relu: relu(forward(x)) in one pass over memory where nothing is recorded
    // (Sequential, for a BatchNorm followed by a ReLU).
    Tensor forward(const Tensor& x, bool then_relu);
    int64_t num_features;
    double eps;
    std::optional<double> momentum;
    bool affine, track_running_stats;
    int m_dims; // 1, 2 or 3 from the type's "1d", "2d", "3d": which input ranks are accepted

  protected:
    void before_load(StateDict& sd, const std::string& prefix) const override;
};

class LayerNorm : public Module {
  public:
    LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    Shape normalized_shape;
    double eps;
    bool elementwise_affine;
};

class Embedding : public Module {
  public:
    Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx,
              Generator& gen, std::optional<double> max_norm = std::nullopt,
              double norm_type = 2.0);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t num_embeddings, embedding_dim;
    std::optional<int64_t> padding_idx;
    // Rows looked up are renormalised in place to this norm first (under no-grad), as
    // F.embedding's max_norm does.
    std::optional<double> max_norm;
    double norm_type;

  private:
    void renormalize_rows(const Tensor& indices);
};

class Conv2d : public Module {
  public:
    Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
           std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
           std::array<int64_t, 2> dilation, int64_t groups, bool bias, Generator& gen);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t in_channels, out_channels, groups;
    std::array<int64_t, 2> kernel_size, stride, padding, dilation;
};

// Modules without tensors. `op` is the PyTorch type it computes (the displayed type
// name may differ: a spec's "class").
class Stateless : public Module {
  public:
    enum class Op { ReLU, Sigmoid, Tanh, GELU, Identity, Flatten, Dropout, Softmax, LogSoftmax };
    Stateless(Op op, std::string type, std::string extra = {})
        : Module(std::move(type)), op(op), m_extra(std::move(extra)) {}
    std::string extra_repr() const override { return m_extra; }
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;

    Op op;
    std::optional<int64_t> dim;          // Softmax, LogSoftmax
    int64_t start_dim = 1, end_dim = -1; // Flatten
    double p = 0.5;                      // Dropout
    bool tanh_approximation = false;     // GELU
    Generator gen{0};                    // Dropout's masks, seedable

  private:
    std::string m_extra;
};

// A torch.nn module without tensors whose forward is one torch.nn.functional call with
// its hyper-parameters: pooling, padding, Upsample and the parametrised activations
// (LeakyReLU, ELU, Softplus, Hardtanh, ...). `fn` gets the input and the training flag.
class FunctionLayer : public Module {
  public:
    using Fn = std::function<Tensor(const Tensor&, bool training)>;
    FunctionLayer(std::string type, std::string extra, Fn fn)
        : Module(std::move(type)), m_fn(std::move(fn)), m_extra(std::move(extra)) {}
    std::string extra_repr() const override { return m_extra; }
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override { return m_fn(x, is_training()); }

  private:
    Fn m_fn;
    std::string m_extra;
};

// nn.PReLU: max(0, x) + weight * min(0, x), weight (num_parameters) initialised to `init`.
class PReLU : public Module {
  public:
    PReLU(int64_t num_parameters, double init);
    std::string extra_repr() const override {
        return "num_parameters=" + std::to_string(num_parameters);
    }
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t num_parameters;
};

class GroupNorm : public Module {
  public:
    GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t num_groups, num_channels;
    double eps;
    bool affine;
};

// nn.InstanceNorm1d/2d: BatchNorm's tensors (_NormBase), each sample normalised on its
// own; running statistics are used in eval mode when tracked, and updated in training.
class InstanceNorm : public BatchNorm {
  public:
    using BatchNorm::BatchNorm;
    Tensor forward(const Tensor& x) override;
};

class Conv1d : public Module {
  public:
    Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
           int64_t padding, int64_t dilation, int64_t groups, bool bias, Generator& gen);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
};

// Weight (in_channels, out_channels / groups, kH, kW), as PyTorch stores it.
class ConvTranspose2d : public Module {
  public:
    ConvTranspose2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                    std::array<int64_t, 2> output_padding, int64_t groups, bool bias,
                    std::array<int64_t, 2> dilation, Generator& gen);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
    int64_t in_channels, out_channels, groups;
    std::array<int64_t, 2> kernel_size, stride, padding, output_padding, dilation;
};

// nn.ModuleList: children "0", "1", ... called by their owner, not a forward of its own.
class ModuleList : public Module {
  public:
    ModuleList() : Module("ModuleList") {}
    bool runnable() const override;
};

// nn.LSTM, nn.GRU and nn.RNN (tanh or relu): weight_ih_l{k}[_reverse], weight_hh_l...,
// bias_ih_l..., bias_hh_l... per layer and direction. forward_all: (output, h_n[, c_n])
// from zero initial states; input (L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in).
class Recurrent : public Module {
  public:
    Recurrent(std::string type, int64_t input_size, int64_t hidden_size, int64_t num_layers,
              bool bias, bool batch_first, double dropout, bool bidirectional, bool relu,
              Generator& gen);
    std::string extra_repr() const override;
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override { return forward_all(x)[0]; }
    std::vector<Tensor> forward_all(const Tensor& x) override;
    int64_t input_size, hidden_size, num_layers;
    bool bias, batch_first, bidirectional, relu;
    double dropout;
    Generator gen{0}; // dropout between layers, seedable
};

// nn.MultiheadAttention (packed in_proj_weight, out_proj). forward(x) is self-attention;
// forward_all adds the attention weights averaged over heads, as need_weights=True gives.
class MultiheadAttention : public Module {
  public:
    MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout, bool bias,
                       bool batch_first, Generator& gen);
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override { return forward_all(x)[0]; }
    std::vector<Tensor> forward_all(const Tensor& x) override { return attend(x, x, x, true); }
    // (output, weights); query (L, N, E), or (N, L, E) with batch_first, or unbatched (L, E).
    std::vector<Tensor> attend(const Tensor& query, const Tensor& key, const Tensor& value,
                               bool need_weights);
    int64_t embed_dim, num_heads;
    double dropout;
    bool batch_first;
    Generator gen{0}; // attention dropout, seedable
};

// nn.TransformerEncoderLayer and nn.TransformerDecoderLayer (post- or pre-norm, relu or
// gelu) over their children self_attn, [multihead_attn,] linear1, dropout, linear2, norm1..3,
// dropout1..3. The decoder's forward needs memory: decode(tgt, memory).
class TransformerLayer : public Module {
  public:
    TransformerLayer(std::string type, int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                     double dropout, bool gelu, double eps, bool batch_first, bool norm_first,
                     Generator& gen);
    bool has_forward() const override { return true; }
    bool runnable() const override;
    Tensor forward(const Tensor& x) override;
    Tensor decode(const Tensor& tgt, const Tensor& memory);
    int input_count() const override { return decoder ? 2 : 1; }
    bool decoder, gelu, norm_first, batch_first;
};

// nn.TransformerEncoder: layers (a ModuleList) one after another, then norm if any.
class TransformerEncoder : public Module {
  public:
    TransformerEncoder() : Module("TransformerEncoder") {}
    bool has_forward() const override { return true; }
    bool runnable() const override;
    Tensor forward(const Tensor& x) override;
};

// Seed 000: count and running_average buffers, updated by
// running_average = (running_average * (count - 1) + x) / count.
class RunningAverage : public Module {
  public:
    RunningAverage();
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
};

// Seed 002: running_avg = 0.9 * running_avg + 0.1 * mean(x).
class ExponentialMovingAverage : public Module {
  public:
    explicit ExponentialMovingAverage(double initial_value = 0.0);
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
};

// Seed 002: count (int64 scalar) += 1; stats += x.
class Accumulator : public Module {
  public:
    explicit Accumulator(int64_t size = 10);
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
};

// Seed 004: my_tensor is a plain attribute, my_buffer a buffer, my_param a parameter; the
// forward pass uses all three (x * my_param + my_buffer + my_tensor), so after a move to
// another device the unregistered my_tensor, left behind, makes it fail as in PyTorch.
class PlainAttributeModel : public Module {
  public:
    explicit PlainAttributeModel(Generator& gen);
    bool has_forward() const override { return true; }
    Tensor forward(const Tensor& x) override;
};

} // namespace nnscope
