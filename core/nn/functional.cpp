// functional.cpp: the layers' forward computations as compositions of recorded ops.
#include "functional.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "autograd.h"
#include "errors.h"
#include "fused_cpu.h"

namespace nnscope::F {

namespace {

// x(N, in) @ w^T + b through the backend's one-GEMM kernel, recorded as one node in ATen's
// name (AddmmBackward0, or MmBackward0 without a bias) whose backward is the backend's too;
// undefined where the backend declines (another dtype, a view, a device without it).
Tensor linear_by_backend(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    for (const Tensor* t : {&weight, &bias})
        if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device())) return {};
    Backend& backend = backend_for(x.device());
    Tensor y = empty({x.size(0), weight.size(0)}, TensorOptions(x.dtype()).with_device(x.device()));
    if (!backend.linear(y.view_desc(), x.view_desc(), weight.view_desc(),
                        bias.defined() ? bias.view_desc() : TensorView{}))
        return {};
    if (autograd::should_record({&x, &weight, &bias})) {
        Tensor xd = x.detach(), wd = weight.detach();
        const bool need_x = x.requires_grad(), need_w = weight.requires_grad(),
                   need_b = bias.defined() && bias.requires_grad();
        autograd::record(
            y, bias.defined() ? "AddmmBackward0" : "MmBackward0", {x, weight, bias},
            [=](const Tensor& g_in) -> std::vector<Tensor> {
                const Tensor g = g_in.dtype() == xd.dtype() ? g_in.contiguous()
                                                            : g_in.to(xd.dtype()).contiguous();
                const TensorOptions o = TensorOptions(xd.dtype()).with_device(xd.device());
                Tensor gx = need_x ? empty(xd.shape(), o) : Tensor();
                Tensor gw = need_w ? empty(wd.shape(), o) : Tensor();
                Tensor gb = need_b ? empty({wd.size(0)}, o) : Tensor();
                auto view = [](const Tensor& t) {
                    return t.defined() ? t.view_desc() : TensorView{};
                };
                if (backend_for(xd.device())
                        .linear_backward(view(gx), view(gw), view(gb), g.view_desc(),
                                         xd.view_desc(), wd.view_desc()))
                    return {gx, gw, gb};
                return {need_x ? g.matmul(wd) : Tensor(), need_w ? g.t().matmul(xd) : Tensor(),
                        need_b ? g.sum({0}) : Tensor()};
            },
            autograd::Saves{{x, weight}});
    }
    return y;
}

} // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    if (x.dim() == 0)
        throw Error("both arguments to linear need to be at least 1D, but they are 0D and 2D");
    if (x.dim() == 2 && x.size(1) == weight.size(-1) && weight.dim() == 2 &&
        (!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0))))
        if (Tensor y = linear_by_backend(x, weight, bias); y.defined()) return y;
    // Composed, for any shape, dtype and device: leading dims are flattened so one matrix
    // product serves any batch shape.
    Shape out_shape = x.shape();
    out_shape.back() = weight.size(0);
    Tensor x2 = x.reshape({-1, x.size(-1)});
    Tensor y = x2.matmul(weight.t());
    if (bias.defined()) y = y.add(bias);
    return y.reshape(out_shape);
}

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  Tensor num_batches_tracked, const Tensor& weight, const Tensor& bias,
                  bool training, std::optional<double> momentum, double eps, bool then_relu) {
    const int64_t c = x.size(1);
    if (running_mean.defined() && running_mean.numel() != c)
        throw Error("running_mean should contain " + std::to_string(c) + " elements not " +
                    std::to_string(running_mean.numel()));
    if (weight.defined() && weight.numel() != c)
        throw Error("weight should contain " + std::to_string(c) + " elements not " +
                    std::to_string(weight.numel()));
    std::vector<int64_t> dims{0};
    Shape stat_shape(size_t(x.dim()), 1);
    stat_shape[1] = c;
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    const bool use_batch = training || !running_mean.defined();
    if (training && x.numel() / std::max<int64_t>(c, 1) <= 1)
        throw ValueError("Expected more than 1 value per channel when training, got input size " +
                         torch_size_str(x.shape()));
    if (fused::eligible({&x, &running_mean, &running_var, &weight, &bias}) &&
        (!training || !running_mean.defined() || running_var.defined()) &&
        (!num_batches_tracked.defined() || num_batches_tracked.device().is_cpu())) {
        // One pass for both only where nothing is recorded (the fused node is BatchNorm's).
        const bool one_pass = then_relu && !autograd::should_record({&x, &weight, &bias});
        Tensor y = fused::batch_norm(x, running_mean, running_var, num_batches_tracked, weight,
                                     bias, training, momentum, eps, one_pass);
        return then_relu && !one_pass ? fused::relu(y) : y;
    }
    Tensor mean, var;
    if (use_batch) {
        const int64_t n = x.numel() / c;
        mean = x.mean(dims, true);
        var = x.var(dims, 0, true); // biased, for normalising
        if (training && running_mean.defined()) {
            NoGradGuard no_grad; // buffer updates are never recorded
            double factor = momentum.value_or(0.0);
            if (num_batches_tracked.defined()) {
                num_batches_tracked.add_(Scalar(1));
                if (!momentum) factor = 1.0 / double(num_batches_tracked.item_int());
            }
            Tensor unbiased = var.detach().mul(Scalar(double(n) / double(n - 1))).reshape({c});
            running_mean.mul_(Scalar(1.0 - factor))
                .add_(mean.detach().reshape({c}).mul(Scalar(factor)));
            running_var.mul_(Scalar(1.0 - factor)).add_(unbiased.mul(Scalar(factor)));
        }
    } else {
        mean = running_mean.reshape(stat_shape);
        var = running_var.reshape(stat_shape);
    }
    Tensor y = x.sub(mean).div(var.add(Scalar(eps)).sqrt());
    if (weight.defined()) y = y.mul(weight.reshape(stat_shape));
    if (bias.defined()) y = y.add(bias.reshape(stat_shape));
    return then_relu ? y.relu() : y;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
    const int64_t k = int64_t(normalized_shape.size());
    bool ok = x.dim() >= k;
    for (int64_t i = 0; ok && i < k; ++i)
        ok = x.size(x.dim() - k + i) == normalized_shape[size_t(i)];
    if (!ok) {
        std::string expect = "[*";
        for (int64_t s : normalized_shape) expect += ", " + std::to_string(s);
        throw Error("Given normalized_shape=" + shape_str(normalized_shape) +
                    ", expected input with shape " + expect + "], but got input of size" +
                    shape_str(x.shape()));
    }
    std::vector<int64_t> dims;
    for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
    Tensor mean = x.mean(dims, true);
    Tensor var = x.var(dims, 0, true);
    Tensor y = x.sub(mean).div(var.add(Scalar(eps)).sqrt());
    if (weight.defined()) y = y.mul(weight);
    if (bias.defined()) y = y.add(bias);
    return y;
}

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
    if (!padding_idx || !weight.requires_grad() || !grad_enabled())
        return weight.index_select_rows(indices);
    // The padding row's gradient is dropped: look it up through a detached copy of that row.
    Tensor out = weight.index_select_rows(indices);
    Tensor mask = indices.to(DType::Int64)
                      .sub(Scalar(*padding_idx))
                      .abs()
                      .to(DType::Bool)
                      .to(weight.dtype())
                      .unsqueeze(-1);
    Tensor pad_rows = weight.detach().index_select_rows(indices);
    return out.mul(mask).add(pad_rows.mul(mask.neg().add(Scalar(1))));
}

namespace {

// The output geometry of a 2-D convolution, with PyTorch's error for a kernel larger than
// the padded input.
Backend::ConvGeometry conv_geometry(int64_t h, int64_t w, int64_t kh, int64_t kw,
                                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                                    std::array<int64_t, 2> dilation) {
    const int64_t ph = h + 2 * padding[0], pw = w + 2 * padding[1];
    const int64_t ekh = dilation[0] * (kh - 1) + 1, ekw = dilation[1] * (kw - 1) + 1;
    if (ph < ekh || pw < ekw)
        throw Error("Calculated padded input size per channel: (" + std::to_string(ph) + " x " +
                    std::to_string(pw) + "). Kernel size: (" + std::to_string(ekh) + " x " +
                    std::to_string(ekw) + "). Kernel size can't be greater than actual input size");
    return Backend::ConvGeometry{kh,
                                 kw,
                                 stride[0],
                                 stride[1],
                                 padding[0],
                                 padding[1],
                                 dilation[0],
                                 dilation[1],
                                 (ph - ekh) / stride[0] + 1,
                                 (pw - ekw) / stride[1] + 1};
}

} // namespace

Tensor conv_bn_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                    std::array<int64_t, 2> dilation, int64_t groups, const Tensor& running_mean,
                    const Tensor& running_var, const Tensor& bn_weight, const Tensor& bn_bias,
                    double eps, bool relu) {
    if (x.dim() != 4 || weight.dim() != 4 || x.size(1) != weight.size(1) * groups || groups <= 0 ||
        weight.size(0) % groups != 0 || stride[0] <= 0 || stride[1] <= 0 || padding[0] < 0 ||
        padding[1] < 0 || dilation[0] <= 0 || dilation[1] <= 0)
        return Tensor();
    const int64_t ph = x.size(2) + 2 * padding[0], pw = x.size(3) + 2 * padding[1];
    if (ph < dilation[0] * (weight.size(2) - 1) + 1 || pw < dilation[1] * (weight.size(3) - 1) + 1)
        return Tensor();
    return fused::conv_bn_eval(x, weight, bias,
                               conv_geometry(x.size(2), x.size(3), weight.size(2), weight.size(3),
                                             stride, padding, dilation),
                               groups, running_mean, running_var, bn_weight, bn_bias, eps, relu);
}

Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
              std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
              std::array<int64_t, 2> dilation, int64_t groups) {
    if (x_in.dim() != 3 && x_in.dim() != 4)
        throw Error(
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: " +
            shape_str(x_in.shape()));
    if (stride[0] <= 0 || stride[1] <= 0) throw Error("non-positive stride is not supported");
    if (padding[0] < 0 || padding[1] < 0) throw Error("negative padding is not supported");
    if (dilation[0] <= 0 || dilation[1] <= 0) throw Error("dilation should be greater than zero");
    if (groups <= 0) throw Error("non-positive groups is not supported");
    if (weight.dim() != 4)
        throw Error(
            "Expected 4-dimensional weight for 4-dimensional input, but got weight of size " +
            shape_str(weight.shape()));
    // The im2col kernels and GEMMs are float32 and float64 (PyTorch 1.13's CPU words).
    for (const Tensor* t : {&x_in, &weight})
        if (t->dtype() != DType::Float32 && t->dtype() != DType::Float64)
            throw Error("\"slow_conv2d_cpu\" not implemented for '" + scalar_type_name(t->dtype()) +
                        "'");
    if (x_in.dtype() != weight.dtype())
        throw Error("Input type (" + scalar_type_name(x_in.dtype()) + ") and weight type (" +
                    scalar_type_name(weight.dtype()) + ") should be the same");
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const int64_t out_c = weight.size(0), cg = weight.size(1), kh = weight.size(2),
                  kw = weight.size(3);
    if (c != cg * groups)
        throw Error("Given groups=" + std::to_string(groups) + ", weight of size " +
                    shape_str(weight.shape()) + ", expected input" + shape_str(x.shape()) +
                    " to have " + std::to_string(cg * groups) + " channels, but got " +
                    std::to_string(c) + " channels instead");
    const Backend::ConvGeometry g = conv_geometry(h, w, kh, kw, stride, padding, dilation);
    if (fused::eligible({&x, &weight, &bias}) && (!bias.defined() || bias.numel() == out_c)) {
        Tensor y = fused::conv2d(x, weight, bias, g, groups);
        return unbatched ? y.squeeze(0) : y;
    }
    const int64_t l = g.oh * g.ow, k = cg * kh * kw;
    // im2col: (N, C*kh*kw, L), recorded with col2im as its backward.
    Tensor xc = x.contiguous();
    Tensor cols = empty({n, c * kh * kw, l}, TensorOptions(x.dtype()).with_device(x.device()));
    backend_for(x.device()).im2col(cols.view_desc(), xc.detach().view_desc(), g);
    if (autograd::should_record({&xc})) {
        const Shape xs = xc.shape();
        autograd::record(cols, "Im2ColBackward0", {xc}, [xs, g](const Tensor& grad) {
            Tensor dx = zeros(xs, TensorOptions(grad.dtype()).with_device(grad.device()));
            backend_for(grad.device()).col2im(dx.view_desc(), grad.contiguous().view_desc(), g);
            return std::vector<Tensor>{dx};
        });
    }
    // Per group: W_g (out/g, k) @ cols_g (k, N*L).
    Tensor cols_t = cols.permute({1, 0, 2}).reshape({c * kh * kw, n * l});
    std::vector<Tensor> outs;
    for (int64_t gi = 0; gi < groups; ++gi) {
        Tensor wg =
            weight.narrow(0, gi * (out_c / groups), out_c / groups).reshape({out_c / groups, k});
        outs.push_back(wg.matmul(cols_t.narrow(0, gi * k, k)));
    }
    Tensor y = groups == 1 ? outs[0] : cat(outs, 0); // (out, N*L)
    y = y.reshape({out_c, n, l}).permute({1, 0, 2});
    if (bias.defined()) y = y.add(bias.reshape({1, out_c, 1}));
    y = y.reshape({n, out_c, g.oh, g.ow});
    return unbatched ? y.squeeze(0) : y;
}

int64_t softmax_default_dim(int64_t ndim) {
    return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1;
}

Tensor softmax(const Tensor& x, int64_t dim) {
    Tensor shifted =
        x.sub(x.amax({dim}, true)); // the max is a constant: softmax is shift-invariant
    Tensor e = shifted.exp();
    return e.div(e.sum({dim}, true));
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
    Tensor shifted = x.sub(x.amax({dim}, true));
    return shifted.sub(shifted.exp().sum({dim}, true).log());
}

Tensor gelu(const Tensor& x, bool tanh_approximation) {
    if (tanh_approximation) {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        Tensor inner = x.add(x.mul(x).mul(x).mul(Scalar(0.044715))).mul(Scalar(0.7978845608028654));
        return x.mul(Scalar(0.5)).mul(inner.tanh().add(Scalar(1)));
    }
    return x.mul(Scalar(0.5)).mul(x.mul(Scalar(0.7071067811865476)).erf().add(Scalar(1)));
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
    if (!training || p == 0) return x;
    if (p == 1) return x.mul(Scalar(0.0));
    Tensor keep = rand(x.shape(), gen, TensorOptions(x.dtype()).with_device(x.device()));
    std::vector<double> v = keep.to_doubles();
    for (double& k : v) k = k >= p ? 1.0 / (1.0 - p) : 0.0;
    return x.mul(from_doubles(v, x.shape(), TensorOptions(x.dtype()).with_device(x.device())));
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
    if (input.shape() == target.shape() && input.numel() > 0 && fused::eligible({&input, &target}))
        return fused::mse_loss(input, target);
    Tensor d = input.sub(target);
    return d.mul(d).mean();
}

Tensor cross_entropy(const Tensor& input, const Tensor& target) {
    if (input.dim() != 2)
        throw ValueError("cross_entropy: expected input of shape (N, C), got " +
                         shape_str(input.shape()));
    if (dtype_is_floating(target.dtype()))
        throw Error("expected scalar type Long but found " +
                    std::string(target.dtype() == DType::Float64 ? "Double" : "Float"));
    const int64_t n = input.size(0), c = input.size(1);
    if (target.dim() != 1 || target.size(0) != n)
        throw ValueError("Expected input batch_size (" + std::to_string(n) +
                         ") to match target batch_size (" + std::to_string(target.numel()) + ").");
    std::vector<double> onehot(size_t(n * c), 0.0);
    std::vector<int64_t> t = target.to_int64s();
    for (int64_t i = 0; i < n; ++i) {
        if (t[size_t(i)] < 0 || t[size_t(i)] >= c)
            throw IndexError("Target " + std::to_string(t[size_t(i)]) + " is out of bounds.");
        onehot[size_t(i * c + t[size_t(i)])] = 1.0;
    }
    Tensor mask =
        from_doubles(onehot, {n, c}, TensorOptions(input.dtype()).with_device(input.device()));
    return log_softmax(input, 1).mul(mask).sum().neg().div(Scalar(double(n)));
}

} // namespace nnscope::F

namespace nnscope::F {

namespace {

// Output length of a pooling window sweep, as PyTorch's pooling_output_shape.
int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation,
                    bool ceil_mode) {
    const int64_t span = in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    int64_t out = span / stride + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) --out; // the last window starts in the input
    return out;
}

void check_pool(const Tensor& x, const char* name, std::array<int64_t, 2> kernel,
                std::array<int64_t, 2> stride, std::array<int64_t, 2> padding) {
    if (x.dim() != 3 && x.dim() != 4)
        throw Error(std::string(name) + ": Expected 3D or 4D (batch mode) tensor for input, got " +
                    shape_str(x.shape()));
    for (int d = 0; d < 2; ++d) {
        if (kernel[size_t(d)] <= 0 || stride[size_t(d)] <= 0)
            throw Error(std::string(name) + ": kernel size and stride should be greater than zero");
        if (padding[size_t(d)] < 0 || padding[size_t(d)] * 2 > kernel[size_t(d)])
            throw Error("pad should be at most half of effective kernel size, but got pad=" +
                        std::to_string(padding[size_t(d)]) +
                        ", kernel_size=" + std::to_string(kernel[size_t(d)]));
    }
}

// Every window position's values of a padded (N, C, PH, PW) tensor, for one kernel offset.
// Under autograd, through recorded views (narrow, reshape, select): the padding must reach
// i * dilation + oh * stride rows (and likewise columns). Otherwise one strided view.
Tensor window(const Tensor& padded, int64_t i, int64_t j, int64_t oh, int64_t ow,
              std::array<int64_t, 2> stride, std::array<int64_t, 2> dilation) {
    if (autograd::should_record({&padded})) {
        Tensor rows = padded.narrow(2, i * dilation[0], oh * stride[0]);
        Shape s = rows.shape();
        rows = rows.reshape({s[0], s[1], oh, stride[0], s[3]}).select(3, 0);
        Tensor cols = rows.narrow(3, j * dilation[1], ow * stride[1]);
        return cols.reshape({s[0], s[1], oh, ow, stride[1]}).select(4, 0);
    }
    const Shape& st = padded.strides();
    return as_strided(padded, {padded.size(0), padded.size(1), oh, ow},
                      {st[0], st[1], st[2] * stride[0], st[3] * stride[1]},
                      padded.storage_offset() + i * dilation[0] * st[2] + j * dilation[1] * st[3]);
}

} // namespace

std::pair<Tensor, Tensor> pool_by_argmax(const Tensor& x, const PoolWindows& rows,
                                         const PoolWindows& cols, bool want_indices) {
    const int64_t n = x.size(0), c = x.size(1), oh = rows.out, ow = cols.out;
    const bool record = autograd::should_record({&x});
    Tensor y, idx;
    if (want_indices || record)
        idx = empty({n, c, oh, ow}, TensorOptions(DType::Int64).with_device(x.device()));
    {
        NoGradGuard no_grad;
        // The backend's kernel works in float32 or float64: other dtypes through float64.
        const bool exact = x.dtype() == DType::Float32 || x.dtype() == DType::Float64;
        Tensor in = (exact ? x.detach() : x.detach().to(DType::Float64)).contiguous();
        y = empty({n, c, oh, ow}, TensorOptions(in.dtype()).with_device(x.device()));
        backend_for(x.device())
            .window_max(y.view_desc(), idx.defined() ? idx.view_desc() : TensorView{},
                        in.view_desc(), rows, cols);
        if (!exact) y = y.to(x.dtype());
    }
    if (record) {
        // The gradient goes to each window's chosen element.
        const Shape xs = x.shape();
        const DType dt = x.dtype();
        autograd::record(y, "MaxPool2DWithIndicesBackward0", {x}, [idx, xs, dt](const Tensor& g) {
            Tensor gx = zeros(xs, TensorOptions(dt).with_device(g.device()));
            backend_for(g.device())
                .window_max_backward(gx.view_desc(), g.to(dt).contiguous().view_desc(),
                                     idx.view_desc());
            return std::vector<Tensor>{gx};
        });
    }
    if (!want_indices) return {y, Tensor()};
    return {y, idx};
}

Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pad, double value) {
    if (pad.size() % 2 != 0 || int64_t(pad.size() / 2) > x.dim())
        throw Error(
            "Padding length must be divisible by 2 and at most twice the input's dims, got " +
            std::to_string(pad.size()));
    // Dim by dim: crop for negative padding, then concatenate constant blocks (recorded, so
    // the gradient is the input's window of the output's).
    Tensor y = x;
    for (size_t k = 0; k < pad.size() / 2; ++k) {
        const int64_t d = x.dim() - 1 - int64_t(k);
        const int64_t lo = pad[2 * k], hi = pad[2 * k + 1];
        if (y.size(d) + std::min<int64_t>(lo, 0) + std::min<int64_t>(hi, 0) < 0)
            throw Error("constant_pad: negative output size");
        if (lo < 0) y = y.narrow(d, -lo, y.size(d) + lo);
        if (hi < 0) y = y.narrow(d, 0, y.size(d) + hi);
        std::vector<Tensor> parts;
        auto block = [&](int64_t n) {
            Shape s = y.shape();
            s[size_t(d)] = n;
            return full(s, Scalar(value), TensorOptions(x.dtype()).with_device(x.device()));
        };
        if (lo > 0) parts.push_back(block(lo));
        parts.push_back(y);
        if (hi > 0) parts.push_back(block(hi));
        if (parts.size() > 1) y = cat(parts, d);
    }
    return y;
}

namespace {

// max_pool2d's values, and its indices when `want_indices` (else undefined).
std::pair<Tensor, Tensor> max_pool2d_impl(const Tensor& x_in, std::array<int64_t, 2> kernel,
                                          std::array<int64_t, 2> stride,
                                          std::array<int64_t, 2> padding,
                                          std::array<int64_t, 2> dilation, bool ceil_mode,
                                          bool want_indices) {
    if (stride[0] == 0 && stride[1] == 0) stride = kernel;
    check_pool(x_in, "max_pool2d", kernel, stride, padding);
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    const int64_t h = x.size(2), w = x.size(3);
    const int64_t oh = pooled_size(h, kernel[0], padding[0], stride[0], dilation[0], ceil_mode);
    const int64_t ow = pooled_size(w, kernel[1], padding[1], stride[1], dilation[1], ceil_mode);
    if (oh <= 0 || ow <= 0)
        throw Error("Given input size: (" + std::to_string(x.size(1)) + "x" + std::to_string(h) +
                    "x" + std::to_string(w) + "). Calculated output size: (" +
                    std::to_string(x.size(1)) + "x" + std::to_string(oh) + "x" +
                    std::to_string(ow) + "). Output size is too small");
    // Each output position's rows and columns inside the input (padding is never a maximum).
    const PoolWindows rows{kernel[0], stride[0], padding[0], dilation[0], false, h, oh};
    const PoolWindows cols{kernel[1], stride[1], padding[1], dilation[1], false, w, ow};
    auto [y, idx] = pool_by_argmax(x, rows, cols, want_indices);
    if (unbatched) return {y.squeeze(0), idx.defined() ? idx.squeeze(0) : idx};
    return {y, idx};
}

} // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::array<int64_t, 2> kernel,
                                                  std::array<int64_t, 2> stride,
                                                  std::array<int64_t, 2> padding,
                                                  std::array<int64_t, 2> dilation, bool ceil_mode) {
    return max_pool2d_impl(x, kernel, stride, padding, dilation, ceil_mode, true);
}

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, bool ceil_mode) {
    return max_pool2d_impl(x, kernel, stride, padding, dilation, ceil_mode, false).first;
}

Tensor avg_pool2d(const Tensor& x_in, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
    if (stride[0] == 0 && stride[1] == 0) stride = kernel;
    check_pool(x_in, "avg_pool2d", kernel, stride, padding);
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    const int64_t h = x.size(2), w = x.size(3);
    const int64_t oh = pooled_size(h, kernel[0], padding[0], stride[0], 1, ceil_mode);
    const int64_t ow = pooled_size(w, kernel[1], padding[1], stride[1], 1, ceil_mode);
    if (oh <= 0 || ow <= 0) throw Error("avg_pool2d: output size is too small");
    const int64_t need_h = oh * stride[0] + kernel[0] - 1, need_w = ow * stride[1] + kernel[1] - 1;
    Tensor padded =
        constant_pad(x,
                     {padding[1], std::max<int64_t>(padding[1], need_w - w - padding[1]),
                      padding[0], std::max<int64_t>(padding[0], need_h - h - padding[0])},
                     0.0);
    Tensor sum;
    for (int64_t i = 0; i < kernel[0]; ++i)
        for (int64_t j = 0; j < kernel[1]; ++j) {
            Tensor v = window(padded, i, j, oh, ow, stride, {1, 1});
            sum = sum.defined() ? sum.add(v) : v.contiguous();
        }
    // Divisors as PyTorch's avg_pool2d kernel: the window clipped to the padded input, and
    // to the input itself without count_include_pad.
    std::vector<double> div(size_t(oh * ow));
    for (int64_t a = 0; a < oh; ++a)
        for (int64_t b = 0; b < ow; ++b) {
            int64_t hs = a * stride[0] - padding[0], ws = b * stride[1] - padding[1];
            int64_t he = std::min(hs + kernel[0], h + padding[0]),
                    we = std::min(ws + kernel[1], w + padding[1]);
            int64_t size = (he - hs) * (we - ws);
            hs = std::max<int64_t>(hs, 0), ws = std::max<int64_t>(ws, 0);
            he = std::min(he, h), we = std::min(we, w);
            if (!count_include_pad) size = (he - hs) * (we - ws);
            div[size_t(a * ow + b)] = divisor_override ? double(*divisor_override) : double(size);
        }
    Tensor d = from_doubles(div, {oh, ow}, TensorOptions(x.dtype()).with_device(x.device()));
    Tensor out = sum.div(d);
    return unbatched ? out.squeeze(0) : out;
}

Tensor
adaptive_pool2d(const Tensor& x_in, std::array<int64_t, 2> out, const char* name,
                const std::function<Tensor(const Tensor&, const std::vector<int64_t>&)>& reduce) {
    if (x_in.dim() != 3 && x_in.dim() != 4)
        throw Error(std::string(name) + "(): Expected 3D or 4D tensor, but got " +
                    shape_str(x_in.shape()));
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    if (out[0] <= 0 || out[1] <= 0)
        throw Error(std::string(name) + ": output size must be positive");
    Tensor y;
    if (h % out[0] == 0 && w % out[1] == 0) {
        y = reduce(x.reshape({n, c, out[0], h / out[0], out[1], w / out[1]}), {3, 5})
                .reshape({n, c, out[0], out[1]});
    } else {
        // Window i covers [floor(i*H/oh), ceil((i+1)*H/oh)).
        std::vector<Tensor> rows;
        for (int64_t i = 0; i < out[0]; ++i) {
            const int64_t hs = i * h / out[0], he = ((i + 1) * h + out[0] - 1) / out[0];
            std::vector<Tensor> cols;
            for (int64_t j = 0; j < out[1]; ++j) {
                const int64_t ws = j * w / out[1], we = ((j + 1) * w + out[1] - 1) / out[1];
                cols.push_back(reduce(x.narrow(2, hs, he - hs).narrow(3, ws, we - ws), {2, 3}));
            }
            rows.push_back(cat(cols, 3));
        }
        y = cat(rows, 2);
    }
    return unbatched ? y.squeeze(0) : y;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out) {
    return adaptive_pool2d(
        x, out, "adaptive_avg_pool2d",
        [](const Tensor& t, const std::vector<int64_t>& dims) { return t.mean(dims, true); });
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
    Tensor y = x;
    const TensorOptions o = TensorOptions(x.dtype()).with_device(x.device());
    if (lo) y = y.maximum(full({}, Scalar(*lo), o));
    if (hi) y = y.minimum(full({}, Scalar(*hi), o));
    return y;
}

Tensor hardsigmoid(const Tensor& x) {
    return clamp(x.add(Scalar(3.0)), 0.0, 6.0).div(Scalar(6.0));
}

Tensor hardswish(const Tensor& x) {
    return x.mul(hardsigmoid(x));
}

Tensor silu(const Tensor& x) {
    return x.mul(x.sigmoid());
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
    if (x.dim() < 2)
        throw Error("group_norm: expected at least 2 dims, got " + shape_str(x.shape()));
    const int64_t n = x.size(0), c = x.size(1);
    if (groups <= 0 || c % groups != 0)
        throw Error("Expected number of channels in input to be divisible by num_groups, but got "
                    "input of shape " +
                    shape_str(x.shape()) + " and num_groups=" + std::to_string(groups));
    Tensor g = x.reshape({n, groups, -1});
    Tensor mean = g.mean({2}, true);
    Tensor var = g.var({2}, 0, true);
    Tensor y = g.sub(mean).div(var.add(Scalar(eps)).sqrt()).reshape(x.shape());
    Shape stat(size_t(x.dim()), 1);
    stat[1] = c;
    if (weight.defined()) y = y.mul(weight.reshape(stat));
    if (bias.defined()) y = y.add(bias.reshape(stat));
    return y;
}

Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats,
                     double momentum, double eps) {
    if (x.dim() < 3)
        throw ValueError("instance_norm: expected at least 3-D input, got " + shape_str(x.shape()));
    const int64_t n = x.size(0), c = x.size(1);
    auto repeat = [&](const Tensor& t) {
        return t.defined() ? cat(std::vector<Tensor>(size_t(n), t), 0).contiguous() : Tensor();
    };
    Tensor rm = repeat(running_mean), rv = repeat(running_var);
    Shape flat = x.shape();
    flat[0] = 1;
    flat[1] = n * c;
    Tensor y = batch_norm(x.reshape(flat), rm, rv, Tensor(), repeat(weight), repeat(bias),
                          use_input_stats, momentum, eps);
    if (running_mean.defined() && use_input_stats) {
        NoGradGuard no_grad;
        Tensor m = running_mean, v = running_var;
        m.copy_(rm.reshape({n, c}).mean({0}));
        v.copy_(rv.reshape({n, c}).mean({0}));
    }
    return y.reshape(x.shape());
}

} // namespace nnscope::F

namespace nnscope::F {

Tensor batched_matmul(const Tensor& a, const Tensor& b) {
    if (a.dim() < 2 || b.dim() < 2)
        throw Error("batched_matmul: both operands need at least 2 dims");
    if (a.size(-1) != b.size(-2))
        throw Error("Expected size for first two dimensions of batch2 tensor to be: [" +
                    std::to_string(a.size(-1)) + "] but got: [" + std::to_string(b.size(-2)) +
                    "].");
    const Shape batch_a(a.shape().begin(), a.shape().end() - 2),
        batch_b(b.shape().begin(), b.shape().end() - 2);
    const Shape batch = broadcast_shapes(batch_a, batch_b);
    Shape ea = batch, eb = batch;
    ea.push_back(a.size(-2)), ea.push_back(a.size(-1));
    eb.push_back(b.size(-2)), eb.push_back(b.size(-1));
    const int64_t n = shape_numel(batch);
    Tensor a3 = a.expand(ea).reshape({n, a.size(-2), a.size(-1)});
    Tensor b3 = b.expand(eb).reshape({n, b.size(-2), b.size(-1)});
    std::vector<Tensor> outs;
    outs.reserve(size_t(n));
    for (int64_t i = 0; i < n; ++i)
        outs.push_back(a3.select(0, i).matmul(b3.select(0, i)).unsqueeze(0));
    Shape out = batch;
    out.push_back(a.size(-2)), out.push_back(b.size(-1));
    if (n == 0) return zeros(out, TensorOptions(a.dtype()).with_device(a.device()));
    return cat(outs, 0).reshape(out);
}

std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& mask) {
    Tensor scores =
        batched_matmul(q, k.transpose(-2, -1)).div(Scalar(std::sqrt(double(q.size(-1)))));
    if (mask.defined()) {
        if (mask.dtype() == DType::Bool) {
            // -inf where masked: scores * keep + (-inf) * masked, without inf * 0.
            NoGradGuard no_grad;
            Tensor m = mask.to(scores.dtype());
            Tensor big = m.mul(Scalar(-1e30));
            scores = scores.add(big.detach());
        } else {
            scores = scores.add(mask);
        }
    }
    Tensor weights = softmax(scores, -1);
    return {batched_matmul(weights, v), weights};
}

std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh) {
    Tensor gates = linear(x, w_ih, b_ih).add(linear(h, w_hh, b_hh));
    const int64_t hs = h.size(-1);
    Tensor i = gates.narrow(-1, 0, hs).sigmoid(), f = gates.narrow(-1, hs, hs).sigmoid();
    Tensor g = gates.narrow(-1, 2 * hs, hs).tanh(), o = gates.narrow(-1, 3 * hs, hs).sigmoid();
    Tensor c2 = f.mul(c).add(i.mul(g));
    return {o.mul(c2.tanh()), c2};
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh) {
    Tensor gi = linear(x, w_ih, b_ih), gh = linear(h, w_hh, b_hh);
    const int64_t hs = h.size(-1);
    Tensor r = gi.narrow(-1, 0, hs).add(gh.narrow(-1, 0, hs)).sigmoid();
    Tensor z = gi.narrow(-1, hs, hs).add(gh.narrow(-1, hs, hs)).sigmoid();
    Tensor n = gi.narrow(-1, 2 * hs, hs).add(r.mul(gh.narrow(-1, 2 * hs, hs))).tanh();
    return n.add(z.mul(h.sub(n))); // (1 - z) * n + z * h
}

Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, bool relu) {
    Tensor pre = linear(x, w_ih, b_ih).add(linear(h, w_hh, b_hh));
    return relu ? pre.relu() : pre.tanh();
}

} // namespace nnscope::F
