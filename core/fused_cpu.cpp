// fused_cpu.cpp: float32 CPU kernels for Linear, BatchNorm, ReLU and MSE (fused_cpu.h).
// Sums accumulate in double, as PyTorch's CPU kernels do (acc_type<float> is double), so
// results agree with PyTorch's to float rounding.
#include "fused_cpu.h"

#include <cblas.h>

#include <cmath>
#include <vector>

#include "autograd.h"
#include "errors.h"

namespace nnscope::fused {

namespace {

Tensor new_like(const Shape& shape) {
    return empty(shape, TensorOptions(DType::Float32));
}

// The gradient a node receives may be a broadcast or a view: make it plain.
Tensor plain(const Tensor& g) {
    return g.is_contiguous() && g.dtype() == DType::Float32 ? g : g.to(DType::Float32).contiguous();
}

bool wants(const Tensor& t) {
    return t.defined() && t.requires_grad();
}

// Channel geometry of x [N, C, *]: n outer blocks, c channels, l inner elements.
struct Geometry {
    int64_t n, c, l;
};
Geometry geometry(const Tensor& x) {
    Geometry g{x.size(0), x.size(1), 1};
    for (int64_t d = 2; d < x.dim(); ++d) g.l *= x.size(d);
    return g;
}

// y = x * alpha[c] + beta[c], per channel.
void affine_per_channel(const float* x, float* y, const Geometry& g, const float* alpha,
                        const float* beta) {
    for (int64_t i = 0; i < g.n; ++i)
        for (int64_t c = 0; c < g.c; ++c) {
            const float a = alpha[c], b = beta[c];
            const float* xs = x + (i * g.c + c) * g.l;
            float* ys = y + (i * g.c + c) * g.l;
            if (g.l == 1)
                ys[0] = xs[0] * a + b;
            else
                for (int64_t k = 0; k < g.l; ++k) ys[k] = xs[k] * a + b;
        }
}

} // namespace

bool eligible(std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts)
        if (t->defined() &&
            (t->dtype() != DType::Float32 || !t->device().is_cpu() || !t->is_contiguous()))
            return false;
    return true;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
    Tensor y = new_like({n, out});
    float* yp = y.data<float>();
    float beta = 0.f;
    if (bias.defined()) {
        const float* b = bias.data<float>();
        for (int64_t i = 0; i < n; ++i) std::copy(b, b + out, yp + i * out);
        beta = 1.f;
    }
    if (n > 0 && out > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(out), int(in), 1.f,
                    x.data<float>(), int(in), weight.data<float>(), int(in), beta, yp, int(out));
    if (autograd::should_record({&x, &weight, &bias})) {
        Tensor xd = x.detach(), wd = weight.detach();
        const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
        autograd::record(y, bias.defined() ? "AddmmBackward0" : "MmBackward0", {x, weight, bias},
                         [=](const Tensor& g_in) -> std::vector<Tensor> {
                             Tensor g = plain(g_in);
                             const float* gp = g.data<float>();
                             Tensor gx, gw, gb;
                             if (need_x) { // dX = dY W
                                 gx = new_like({n, in});
                                 cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n),
                                             int(in), int(out), 1.f, gp, int(out), wd.data<float>(),
                                             int(in), 0.f, gx.data<float>(), int(in));
                             }
                             if (need_w) { // dW = dY^T X
                                 gw = new_like({out, in});
                                 cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(out),
                                             int(in), int(n), 1.f, gp, int(out), xd.data<float>(),
                                             int(in), 0.f, gw.data<float>(), int(in));
                             }
                             if (need_b) { // db = column sums of dY
                                 std::vector<double> acc(size_t(out), 0.0);
                                 for (int64_t i = 0; i < n; ++i)
                                     for (int64_t o = 0; o < out; ++o)
                                         acc[size_t(o)] += gp[i * out + o];
                                 gb = new_like({out});
                                 float* bp = gb.data<float>();
                                 for (int64_t o = 0; o < out; ++o) bp[o] = float(acc[size_t(o)]);
                             }
                             return {gx, gw, gb};
                         });
    }
    return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, const Tensor& weight, const Tensor& bias,
                  bool training, std::optional<double> momentum, double eps) {
    const Geometry g = geometry(x);
    const int64_t m = g.n * g.l; // values per channel
    const float* xp = x.data<float>();
    const bool use_batch = training || !running_mean.defined();
    std::vector<float> mean(size_t(g.c)), invstd(size_t(g.c));
    if (use_batch) {
        // Two passes (mean, then squared deviations), in double, as PyTorch's CPU kernel.
        std::vector<double> sum(size_t(g.c), 0.0), sq(size_t(g.c), 0.0);
        for (int64_t i = 0; i < g.n; ++i)
            for (int64_t c = 0; c < g.c; ++c) {
                const float* xs = xp + (i * g.c + c) * g.l;
                double s = 0;
                for (int64_t k = 0; k < g.l; ++k) s += xs[k];
                sum[size_t(c)] += s;
            }
        for (int64_t c = 0; c < g.c; ++c) sum[size_t(c)] /= double(m);
        for (int64_t i = 0; i < g.n; ++i)
            for (int64_t c = 0; c < g.c; ++c) {
                const float* xs = xp + (i * g.c + c) * g.l;
                const double mu = sum[size_t(c)];
                double s = 0;
                for (int64_t k = 0; k < g.l; ++k) s += (xs[k] - mu) * (xs[k] - mu);
                sq[size_t(c)] += s;
            }
        if (training && running_mean.defined()) {
            double factor = momentum.value_or(0.0);
            if (num_batches_tracked.defined()) {
                NoGradGuard no_grad;
                Tensor(num_batches_tracked).add_(Scalar(1));
                if (!momentum) factor = 1.0 / double(num_batches_tracked.item_int());
            }
            float* rm = running_mean.data<float>();
            float* rv = running_var.data<float>();
            for (int64_t c = 0; c < g.c; ++c) {
                const double unbiased = sq[size_t(c)] / double(m - 1);
                rm[c] = float(factor * sum[size_t(c)] + (1 - factor) * rm[c]);
                rv[c] = float(factor * unbiased + (1 - factor) * rv[c]);
            }
        }
        for (int64_t c = 0; c < g.c; ++c) {
            mean[size_t(c)] = float(sum[size_t(c)]);
            invstd[size_t(c)] = float(1.0 / std::sqrt(sq[size_t(c)] / double(m) + eps));
        }
    } else {
        const float* rm = running_mean.data<float>();
        const float* rv = running_var.data<float>();
        for (int64_t c = 0; c < g.c; ++c) {
            mean[size_t(c)] = rm[c];
            invstd[size_t(c)] = float(1.0 / std::sqrt(double(rv[c]) + eps));
        }
    }
    // y = x * alpha + beta with alpha = invstd * w, beta = b - mean * alpha (PyTorch's form).
    std::vector<float> alpha(size_t(g.c)), beta(size_t(g.c));
    const float* w = weight.defined() ? weight.data<float>() : nullptr;
    const float* b = bias.defined() ? bias.data<float>() : nullptr;
    for (int64_t c = 0; c < g.c; ++c) {
        alpha[size_t(c)] = invstd[size_t(c)] * (w ? w[c] : 1.f);
        beta[size_t(c)] = (b ? b[c] : 0.f) - mean[size_t(c)] * alpha[size_t(c)];
    }
    Tensor y = new_like(x.shape());
    affine_per_channel(xp, y.data<float>(), g, alpha.data(), beta.data());
    if (autograd::should_record({&x, &weight, &bias})) {
        Tensor xd = x.detach(), wd = weight.defined() ? weight.detach() : Tensor();
        const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
        autograd::record(y, "NativeBatchNormBackward0", {x, weight, bias},
                         [=](const Tensor& g_in) -> std::vector<Tensor> {
                             Tensor gy = plain(g_in);
                             const float* gp = gy.data<float>();
                             const float* xs = xd.data<float>();
                             // Per channel: sum(dy) and sum(dy * xhat).
                             std::vector<double> sdy(size_t(g.c), 0.0), sdyx(size_t(g.c), 0.0);
                             for (int64_t i = 0; i < g.n; ++i)
                                 for (int64_t c = 0; c < g.c; ++c) {
                                     const int64_t o = (i * g.c + c) * g.l;
                                     const double mu = mean[size_t(c)], is = invstd[size_t(c)];
                                     double a = 0, bsum = 0;
                                     for (int64_t k = 0; k < g.l; ++k) {
                                         a += gp[o + k];
                                         bsum += gp[o + k] * (xs[o + k] - mu) * is;
                                     }
                                     sdy[size_t(c)] += a;
                                     sdyx[size_t(c)] += bsum;
                                 }
                             Tensor gx, gw, gb;
                             if (need_x) {
                                 gx = new_like(xd.shape());
                                 float* out = gx.data<float>();
                                 const float* wp = wd.defined() ? wd.data<float>() : nullptr;
                                 for (int64_t i = 0; i < g.n; ++i)
                                     for (int64_t c = 0; c < g.c; ++c) {
                                         const int64_t o = (i * g.c + c) * g.l;
                                         const float is = invstd[size_t(c)], mu = mean[size_t(c)];
                                         const float scale = is * (wp ? wp[c] : 1.f);
                                         if (use_batch) {
                                             const float mdy = float(sdy[size_t(c)] / double(m));
                                             const float mdyx = float(sdyx[size_t(c)] / double(m));
                                             for (int64_t k = 0; k < g.l; ++k) {
                                                 const float xhat = (xs[o + k] - mu) * is;
                                                 out[o + k] =
                                                     (gp[o + k] - mdy - xhat * mdyx) * scale;
                                             }
                                         } else {
                                             for (int64_t k = 0; k < g.l; ++k)
                                                 out[o + k] = gp[o + k] * scale;
                                         }
                                     }
                             }
                             if (need_w) {
                                 gw = new_like({g.c});
                                 for (int64_t c = 0; c < g.c; ++c)
                                     gw.data<float>()[c] = float(sdyx[size_t(c)]);
                             }
                             if (need_b) {
                                 gb = new_like({g.c});
                                 for (int64_t c = 0; c < g.c; ++c)
                                     gb.data<float>()[c] = float(sdy[size_t(c)]);
                             }
                             return {gx, gw, gb};
                         });
    }
    return y;
}

Tensor relu(const Tensor& x) {
    Tensor y = new_like(x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] < 0.f ? 0.f : xp[i]; // NaN stays NaN
    if (autograd::should_record({&x})) {
        Tensor yd = y.detach();
        autograd::record(y, "ReluBackward0", {x},
                         [yd, n](const Tensor& g_in) -> std::vector<Tensor> {
                             Tensor g = plain(g_in);
                             Tensor gx = new_like(yd.shape());
                             const float *gp = g.data<float>(), *yv = yd.data<float>();
                             float* out = gx.data<float>();
                             for (int64_t i = 0; i < n; ++i) out[i] = yv[i] > 0.f ? gp[i] : 0.f;
                             return {gx};
                         });
    }
    return y;
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
    const int64_t n = input.numel();
    const float *a = input.data<float>(), *b = target.data<float>();
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float d = a[i] - b[i];
        s += double(d) * d;
    }
    Tensor loss = new_like({});
    loss.data<float>()[0] = float(s / double(n));
    if (autograd::should_record({&input, &target})) {
        Tensor ad = input.detach(), bd = target.detach();
        const bool need_a = wants(input), need_b = wants(target);
        autograd::record(loss, "MseLossBackward0", {input, target},
                         [=](const Tensor& g_in) -> std::vector<Tensor> {
                             const float scale = float(2.0 * g_in.item() / double(n));
                             Tensor ga = new_like(ad.shape()), gb;
                             const float *ap = ad.data<float>(), *bp = bd.data<float>();
                             float* gp = ga.data<float>();
                             for (int64_t i = 0; i < n; ++i) gp[i] = (ap[i] - bp[i]) * scale;
                             if (need_b) gb = ga.neg();
                             if (!need_a) ga = Tensor();
                             return {ga, gb};
                         });
    }
    return loss;
}

} // namespace nnscope::fused
