// layers_nn.cpp: the torch.nn layers real models add to the first set (PReLU, GroupNorm,
// InstanceNorm, Conv1d, ConvTranspose2d): constructors in PyTorch's registration order,
// reprs as PyTorch prints them, and forward passes through functional.h. The layers
// without tensors are FunctionLayers, built in registry.cpp.
#include "layers.h"

#include "errors.h"
#include "functional.h"
#include "repr.h"

namespace nnscope {

namespace {
std::string dims_str(int rank) {
    return std::to_string(rank) + "D";
}
} // namespace

PReLU::PReLU(int64_t n, double init) : Module("PReLU"), num_parameters(n) {
    if (n <= 0)
        throw ValueError("num_parameters must be a positive integer, got " + std::to_string(n));
    register_parameter("weight", full({n}, Scalar(init)));
}

Tensor PReLU::forward(const Tensor& x) {
    return F::prelu(x, own(*this, "weight"));
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps_, bool affine_)
    : Module("GroupNorm"), num_groups(groups), num_channels(channels), eps(eps_), affine(affine_) {
    if (groups <= 0 || channels % groups != 0)
        throw ValueError("num_channels must be divisible by num_groups");
    register_parameter("weight", affine ? ones({channels}) : Tensor());
    register_parameter("bias", affine ? zeros({channels}) : Tensor());
}

std::string GroupNorm::extra_repr() const {
    return std::to_string(num_groups) + ", " + std::to_string(num_channels) +
           ", eps=" + py_float(eps) + ", affine=" + py_bool(affine);
}

Tensor GroupNorm::forward(const Tensor& x) {
    return F::group_norm(x, num_groups, own(*this, "weight"), own(*this, "bias"), eps);
}

Tensor InstanceNorm::forward(const Tensor& x) {
    // InstanceNorm1d takes (N, C, L) or unbatched (C, L); InstanceNorm2d (N, C, H, W) or (C, H, W).
    const int batched = m_dims + 2;
    if (x.dim() != batched && x.dim() != batched - 1)
        throw ValueError("expected " + dims_str(batched - 1) + " or " + dims_str(batched) +
                         " input (got " + dims_str(int(x.dim())) + " input)");
    const bool unbatched = x.dim() == batched - 1;
    Tensor in = unbatched ? x.unsqueeze(0) : x;
    Tensor y = F::instance_norm(in, own(*this, "running_mean"), own(*this, "running_var"),
                                own(*this, "weight"), own(*this, "bias"),
                                is_training() || !track_running_stats, momentum.value_or(0.1), eps);
    return unbatched ? y.squeeze(0) : y;
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d, int64_t g,
               bool bias, Generator& gen)
    : Module("Conv1d"), in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p),
      dilation(d), groups(g) {
    if (g <= 0) throw ValueError("groups must be a positive integer");
    if (in % g != 0) throw ValueError("in_channels must be divisible by groups");
    if (out % g != 0) throw ValueError("out_channels must be divisible by groups");
    register_weight_and_bias(*this, {out, in / g, k}, in / g * k, bias,
                             gen); // (out, in / groups, k)
}

std::string Conv1d::extra_repr() const {
    auto one = [](int64_t v) { return "(" + std::to_string(v) + ",)"; };
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + one(kernel_size) + ", stride=" + one(stride);
    if (padding != 0) s += ", padding=" + one(padding);
    if (dilation != 1) s += ", dilation=" + one(dilation);
    if (groups != 1) s += ", groups=" + std::to_string(groups);
    if (!own_parameters().find("bias")->defined()) s += ", bias=False";
    return s;
}

Tensor Conv1d::forward(const Tensor& x) {
    return F::conv1d(x, own(*this, "weight"), own(*this, "bias"), stride, padding, dilation,
                     groups);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, std::array<int64_t, 2> k,
                                 std::array<int64_t, 2> s, std::array<int64_t, 2> p,
                                 std::array<int64_t, 2> op, int64_t g, bool bias,
                                 std::array<int64_t, 2> d, Generator& gen)
    : Module("ConvTranspose2d"), in_channels(in), out_channels(out), groups(g), kernel_size(k),
      stride(s), padding(p), output_padding(op), dilation(d) {
    if (g <= 0) throw ValueError("groups must be a positive integer");
    if (in % g != 0) throw ValueError("in_channels must be divisible by groups");
    if (out % g != 0) throw ValueError("out_channels must be divisible by groups");
    // fan_in from the weight's dim 1, as PyTorch's init computes it for (in, out / groups, kH, kW).
    Tensor w = empty({in, out / g, k[0], k[1]});
    const double bound = 1.0 / std::sqrt(double(out / g * k[0] * k[1]));
    uniform_(w, -bound, bound, gen);
    register_parameter("weight", w);
    Tensor b;
    if (bias) {
        b = empty({out});
        uniform_(b, -bound, bound, gen);
    }
    register_parameter("bias", b);
}

std::string ConvTranspose2d::extra_repr() const {
    std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                    ", kernel_size=" + pair_str(kernel_size) + ", stride=" + pair_str(stride);
    if (padding != std::array<int64_t, 2>{0, 0}) s += ", padding=" + pair_str(padding);
    if (dilation != std::array<int64_t, 2>{1, 1}) s += ", dilation=" + pair_str(dilation);
    if (output_padding != std::array<int64_t, 2>{0, 0})
        s += ", output_padding=" + pair_str(output_padding);
    if (groups != 1) s += ", groups=" + std::to_string(groups);
    if (!own_parameters().find("bias")->defined()) s += ", bias=False";
    return s;
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
    return F::conv_transpose2d(x, own(*this, "weight"), own(*this, "bias"), stride, padding,
                               output_padding, groups, dilation);
}

} // namespace nnscope
