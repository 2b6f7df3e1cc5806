// functional_spatial.cpp: the 1-D forms of convolution and pooling (the 2-D kernels over a
// height of 1), adaptive max pooling, transposed convolution and interpolation, as
// compositions of recorded ops so autograd differentiates them.
#include "functional.h"

#include <cmath>

#include "autograd.h"
#include "errors.h"

namespace nnscope::F {

namespace {

void check_1d(const Tensor& x, const char* name) {
    if (x.dim() != 2 && x.dim() != 3)
        throw Error(std::string(name) + ": Expected 2D or 3D (batch mode) tensor for input, got " +
                    shape_str(x.shape()));
}

// Zeros between the elements of dim d (stride - 1 of them), as a transposed convolution
// reads its input.
Tensor spread(const Tensor& x, int64_t d, int64_t stride) {
    if (stride == 1) return x;
    const int64_t n = x.size(d);
    Tensor a = x.unsqueeze(d + 1);
    Shape zs = a.shape();
    zs[size_t(d + 1)] = stride - 1;
    Tensor z = zeros(zs, TensorOptions(x.dtype()).with_device(x.device()));
    Shape joined = x.shape();
    joined[size_t(d)] = n * stride;
    return cat({a, z}, d + 1).reshape(joined).narrow(d, 0, (n - 1) * stride + 1);
}

// (k, k) with ones on the anti-diagonal: J @ w reverses w's rows.
Tensor reversal(int64_t k, const Tensor& like) {
    std::vector<double> v(size_t(k * k), 0.0);
    for (int64_t i = 0; i < k; ++i) v[size_t(i * k + (k - 1 - i))] = 1.0;
    return from_doubles(v, {k, k}, TensorOptions(like.dtype()).with_device(like.device()));
}

// The (out, in) matrix of one axis of nearest or linear interpolation, as ATen computes
// source indices (UpSample.h: nearest_idx, area_pixel_compute_source_index).
Tensor interpolation_matrix(int64_t in, int64_t out, bool linear, bool align_corners,
                            std::optional<double> scale_factor, const Tensor& like) {
    std::vector<double> a(size_t(out * in), 0.0);
    for (int64_t i = 0; i < out; ++i) {
        if (!linear) {
            int64_t src;
            if (out == in)
                src = i;
            else if (out == 2 * in)
                src = i >> 1;
            else {
                const float scale = scale_factor && *scale_factor > 0 ? float(1.0 / *scale_factor)
                                                                      : float(in) / float(out);
                src = std::min<int64_t>(int64_t(std::floor(float(i) * scale)), in - 1);
            }
            a[size_t(i * in + src)] = 1.0;
            continue;
        }
        double scale;
        if (align_corners)
            scale = out > 1 ? double(in - 1) / double(out - 1) : 0.0;
        else
            scale =
                scale_factor && *scale_factor > 0 ? 1.0 / *scale_factor : double(in) / double(out);
        // ATen computes these in the tensor's accumulate type: float for float32.
        const float s = float(scale);
        float src = align_corners ? s * float(i) : std::max(s * (float(i) + 0.5f) - 0.5f, 0.0f);
        const int64_t i0 = int64_t(src);
        const float lambda = src - float(i0);
        const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
        a[size_t(i * in + i0)] += 1.0 - lambda;
        a[size_t(i * in + i1)] += lambda;
    }
    return from_doubles(a, {out, in}, TensorOptions(like.dtype()).with_device(like.device()));
}

} // namespace

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups) {
    check_1d(x, "conv1d");
    return conv2d(x.unsqueeze(-2), weight.unsqueeze(-2), bias, {1, stride}, {0, padding},
                  {1, dilation}, groups)
        .squeeze(-2);
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                        std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                        std::array<int64_t, 2> output_padding, int64_t groups,
                        std::array<int64_t, 2> dilation) {
    if (x_in.dim() != 3 && x_in.dim() != 4)
        throw Error("conv_transpose2d: Expected 3D (unbatched) or 4D (batched) input, but got "
                    "input of size: " +
                    shape_str(x_in.shape()));
    if (weight.dim() != 4 || groups <= 0 || weight.size(0) % groups != 0)
        throw Error(
            "conv_transpose2d: weight must be (in_channels, out_channels / groups, kH, kW), got " +
            shape_str(weight.shape()));
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    if (x.size(1) != weight.size(0))
        throw Error("Given transposed=1, weight of size " + shape_str(weight.shape()) +
                    ", expected input" + shape_str(x.shape()) + " to have " +
                    std::to_string(weight.size(0)) + " channels, but got " +
                    std::to_string(x.size(1)) + " channels instead");
    for (int d = 0; d < 2; ++d)
        if (output_padding[size_t(d)] >= std::max(stride[size_t(d)], dilation[size_t(d)]))
            throw Error("output padding must be smaller than either stride or dilation");
    const int64_t kh = weight.size(2), kw = weight.size(3), in_g = weight.size(0) / groups,
                  out_g = weight.size(1);
    // The convolution whose input gradient this is: zeros between the input's elements,
    // padding d*(k-1)-p around (plus output_padding after), the kernel reversed with its
    // in and out channels swapped within each group, stride 1.
    x = spread(spread(x, 2, stride[0]), 3, stride[1]);
    const int64_t ph = dilation[0] * (kh - 1) - padding[0],
                  pw = dilation[1] * (kw - 1) - padding[1];
    x = constant_pad(x, {pw, pw + output_padding[1], ph, ph + output_padding[0]}, 0.0);
    Tensor w = weight.reshape({groups, in_g, out_g, kh, kw})
                   .transpose(1, 2)
                   .reshape({groups * out_g, in_g, kh, kw});
    w = batched_matmul(batched_matmul(reversal(kh, w), w), reversal(kw, w));
    Tensor y = conv2d(x, w, bias, {1, 1}, {0, 0}, dilation, groups);
    return unbatched ? y.squeeze(0) : y;
}

Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                  int64_t dilation, bool ceil_mode) {
    check_1d(x, "max_pool1d");
    return max_pool2d(x.unsqueeze(-2), {1, kernel}, {1, stride == 0 ? kernel : stride},
                      {0, padding}, {1, dilation}, ceil_mode)
        .squeeze(-2);
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                  bool count_include_pad) {
    check_1d(x, "avg_pool1d");
    return avg_pool2d(x.unsqueeze(-2), {1, kernel}, {1, stride == 0 ? kernel : stride},
                      {0, padding}, ceil_mode, count_include_pad, std::nullopt)
        .squeeze(-2);
}

Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size) {
    check_1d(x, "adaptive_avg_pool1d");
    return adaptive_avg_pool2d(x.unsqueeze(-2), {1, output_size}).squeeze(-2);
}

std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x_in,
                                                           std::array<int64_t, 2> out) {
    if (x_in.dim() != 3 && x_in.dim() != 4)
        throw Error("adaptive_max_pool2d(): Expected 3D or 4D tensor, but got " +
                    shape_str(x_in.shape()));
    if (out[0] <= 0 || out[1] <= 0)
        throw Error("adaptive_max_pool2d: output size must be positive");
    const bool unbatched = x_in.dim() == 3;
    Tensor x = unbatched ? x_in.unsqueeze(0) : x_in;
    // Window i covers [floor(i*H/oh), ceil((i+1)*H/oh)).
    const PoolWindows rows{1, 1, 0, 1, true, x.size(2), out[0]},
        cols{1, 1, 0, 1, true, x.size(3), out[1]};
    auto [y, idx] = pool_by_argmax(x, rows, cols);
    if (unbatched) return {y.squeeze(0), idx.squeeze(0)};
    return {y, idx};
}

Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> out) {
    return adaptive_max_pool2d_with_indices(x, out).first;
}

Tensor interpolate(const Tensor& x, const std::vector<int64_t>& size,
                   const std::vector<std::optional<double>>& scales, const std::string& mode,
                   bool align_corners) {
    const int64_t spatial = x.dim() - 2;
    const bool linear = mode == "linear" || mode == "bilinear";
    if (mode != "nearest" && !linear)
        throw NotImplementedError("interpolation mode '" + mode +
                                  "' is not supported yet (nearest, linear, bilinear are)");
    if ((mode == "linear" && spatial != 1) || (mode == "bilinear" && spatial != 2) || spatial < 1 ||
        spatial > 2)
        throw NotImplementedError("Got " + std::to_string(x.dim()) + "D input, but " + mode +
                                  " mode needs " +
                                  (mode == "linear"     ? "3D"
                                   : mode == "bilinear" ? "4D"
                                                        : "3D or 4D") +
                                  " input");
    if (int64_t(size.size()) != spatial || int64_t(scales.size()) != spatial)
        throw Error("interpolate: expected " + std::to_string(spatial) + " output sizes");
    // The last dim: one GEMM over every row; the one before (2-D): per image.
    const int64_t w = x.size(-1);
    Tensor aw = interpolation_matrix(w, size.back(), linear, align_corners, scales.back(), x);
    Shape s = x.shape();
    s.back() = size.back();
    Tensor y = x.reshape({-1, w}).matmul(aw.t()).reshape(s);
    if (spatial == 2)
        y = batched_matmul(
            interpolation_matrix(x.size(-2), size[0], linear, align_corners, scales[0], x), y);
    return y;
}

} // namespace nnscope::F
