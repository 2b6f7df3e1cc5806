// fused_cpu.cpp: float32 CPU kernels for Linear, BatchNorm, ReLU and MSE (fused_cpu.h).
// Sums accumulate in double, as PyTorch's CPU kernels do (acc_type<float> is double), so
// results agree with PyTorch's to float rounding.
#include "fused_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd.h"
#include "errors.h"
#include "fused_internal.h"
#include "op_table.h"

namespace nnscope::fused {

namespace {

// Channel geometry of x [N, C, *]: n outer blocks, c channels, l inner elements.
struct Geometry {
    int64_t n, c, l;
};
Geometry geometry(const Tensor& x) {
    Geometry g{x.size(0), x.size(1), 1};
    for (int64_t d = 2; d < x.dim(); ++d) g.l *= x.size(d);
    return g;
}

// A per-channel reduction over rows: each chunk sums into its own `width` doubles, then
// the chunks are added in order, so results do not depend on thread timing.
template <class F>
void reduce_rows(int64_t rows, int64_t work, int64_t width, double* out, F&& body) {
    const int threads = plan_threads(rows, work);
    if (threads <= 1) {
        body(out, int64_t(0), rows);
        return;
    }
    std::vector<double> partial(size_t(threads * width), 0.0);
    for_chunks(rows, threads,
               [&](int64_t r0, int64_t r1, int t) { body(partial.data() + t * width, r0, r1); });
    for (int t = 0; t < threads; ++t)
        for (int64_t c = 0; c < width; ++c) out[c] += partial[size_t(t * width + c)];
}

// Channels per register tile in the [N, C] reductions: 16 doubles of each of two sums,
// eight AVX2 registers.
constexpr int64_t k_tile = 16;

// Per-channel shifted moments of x over [N, C, L], added to s1[c] and s2[c]: the sums of
// d and d^2 for d = x - shift[c]. One pass where PyTorch makes two (mean, then squared
// deviations), with the same result to float precision: the shift is a value of the
// channel (the first row), so (shift - mean)^2 <= m var and s2 - s1^2 / m cancels at most
// a factor m + 1, under 8 of double's 16 digits below 10^8 values per channel (Chan,
// Golub and LeVeque's shifted algorithm). batch_norm() checks the loss and, past it, makes
// PyTorch's second pass, shifted by the mean.
NNSCOPE_HOT void channel_moments(const float* x, const Geometry& g, const double* shift, double* s1,
                                 double* s2, int64_t r0, int64_t r1) {
    if (g.l == 1) {
        // [N, C] (BatchNorm1d): tiles of k_tile channels whose sums stay in registers while
        // the rows stream past; summing row by row into s1/s2 cost two loads and two stores
        // of doubles per element. The order of the additions per channel is unchanged.
        int64_t c0 = 0;
        for (; c0 + k_tile <= g.c; c0 += k_tile) {
            double a[k_tile] = {}, b[k_tile] = {}, sh[k_tile];
            for (int64_t k = 0; k < k_tile; ++k) sh[k] = shift[c0 + k];
            for (int64_t i = r0; i < r1; ++i) {
                const float* row = x + i * g.c + c0;
                for (int64_t k = 0; k < k_tile; ++k) {
                    const double d = double(row[k]) - sh[k];
                    a[k] += d;
                    b[k] += d * d;
                }
            }
            for (int64_t k = 0; k < k_tile; ++k) s1[c0 + k] += a[k], s2[c0 + k] += b[k];
        }
        for (int64_t i = r0; i < r1; ++i)
            for (int64_t c = c0; c < g.c; ++c) {
                const double d = double(x[i * g.c + c]) - shift[c];
                s1[c] += d;
                s2[c] += d * d;
            }
        return;
    }
    for (int64_t i = r0; i < r1; ++i) {
        const float* row = x + i * g.c * g.l;
        for (int64_t c = 0; c < g.c; ++c) {
            const float* xs = row + c * g.l;
            double a = 0, b = 0;
            for (int64_t k = 0; k < g.l; ++k) {
                const double d = double(xs[k]) - shift[c];
                a += d;
                b += d * d;
            }
            s1[c] += a;
            s2[c] += b;
        }
    }
}

// y = x * alpha[c] + beta[c], per channel; then relu(y) when asked, in the same pass.
NNSCOPE_HOT void affine_per_channel(const float* __restrict x, float* __restrict y,
                                    const Geometry& g, const float* __restrict alpha,
                                    const float* __restrict beta, bool then_relu, int64_t r0,
                                    int64_t r1) {
    // relu(v) as v < 0 ? 0 : v, so NaN stays NaN (relu_forward's rule).
    for (int64_t i = r0; i < r1; ++i) {
        const float* xr = x + i * g.c * g.l;
        float* yr = y + i * g.c * g.l;
        if (g.l == 1) {
            if (then_relu)
                for (int64_t c = 0; c < g.c; ++c) {
                    const float v = xr[c] * alpha[c] + beta[c];
                    yr[c] = v < 0.f ? 0.f : v;
                }
            else
                for (int64_t c = 0; c < g.c; ++c) yr[c] = xr[c] * alpha[c] + beta[c];
            continue;
        }
        for (int64_t c = 0; c < g.c; ++c) {
            const float a = alpha[c], b = beta[c];
            const float* xs = xr + c * g.l;
            float* ys = yr + c * g.l;
            if (then_relu)
                for (int64_t k = 0; k < g.l; ++k) {
                    const float v = xs[k] * a + b;
                    ys[k] = v < 0.f ? 0.f : v;
                }
            else
                for (int64_t k = 0; k < g.l; ++k) ys[k] = xs[k] * a + b;
        }
    }
}

// Backward sums per channel, added to sdy[c] and sdyx[c]: sum(dy), sum(dy * (x - mean)).
NNSCOPE_HOT void channel_grad_sums(const float* dy, const float* x, const Geometry& g,
                                   const float* mean, double* sdy, double* sdyx, int64_t r0,
                                   int64_t r1) {
    if (g.l == 1) { // channel tiles in registers, as in channel_moments
        int64_t c0 = 0;
        for (; c0 + k_tile <= g.c; c0 += k_tile) {
            double a[k_tile] = {}, b[k_tile] = {};
            float mu[k_tile];
            for (int64_t k = 0; k < k_tile; ++k) mu[k] = mean[c0 + k];
            for (int64_t i = r0; i < r1; ++i) {
                const float* gr = dy + i * g.c + c0;
                const float* xr = x + i * g.c + c0;
                for (int64_t k = 0; k < k_tile; ++k) {
                    a[k] += double(gr[k]);
                    b[k] += double(gr[k]) * double(xr[k] - mu[k]);
                }
            }
            for (int64_t k = 0; k < k_tile; ++k) sdy[c0 + k] += a[k], sdyx[c0 + k] += b[k];
        }
        for (int64_t i = r0; i < r1; ++i)
            for (int64_t c = c0; c < g.c; ++c) {
                const int64_t j = i * g.c + c;
                sdy[c] += double(dy[j]);
                sdyx[c] += double(dy[j]) * double(x[j] - mean[c]);
            }
        return;
    }
    for (int64_t i = r0; i < r1; ++i) {
        const float* gr = dy + i * g.c * g.l;
        const float* xr = x + i * g.c * g.l;
        for (int64_t c = 0; c < g.c; ++c) {
            double a = 0, b = 0;
            for (int64_t k = 0; k < g.l; ++k) {
                a += double(gr[c * g.l + k]);
                b += double(gr[c * g.l + k]) * double(xr[c * g.l + k] - mean[c]);
            }
            sdy[c] += a;
            sdyx[c] += b;
        }
    }
}

// dx = (dy - k1[c] - (x - mean[c]) * k2[c]) * scale[c]. Training mode: k1 = mean(dy),
// k2 = mean(dy * xhat) * invstd, scale = invstd * weight; eval mode: k1 = k2 = 0.
NNSCOPE_HOT void batch_norm_input_grad(const float* dy, const float* x, float* dx,
                                       const Geometry& g, const float* mean, const float* k1,
                                       const float* k2, const float* scale, int64_t r0,
                                       int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
        const int64_t o = i * g.c * g.l;
        if (g.l == 1) {
            for (int64_t c = 0; c < g.c; ++c)
                dx[o + c] = (dy[o + c] - k1[c] - (x[o + c] - mean[c]) * k2[c]) * scale[c];
            continue;
        }
        for (int64_t c = 0; c < g.c; ++c)
            for (int64_t k = 0; k < g.l; ++k) {
                const int64_t j = o + c * g.l + k;
                dx[j] = (dy[j] - k1[c] - (x[j] - mean[c]) * k2[c]) * scale[c];
            }
    }
}

NNSCOPE_HOT void relu_forward(const float* x, float* y, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = x[i] < 0.f ? 0.f : x[i]; // NaN stays NaN
}

// The backward of batch_norm() for one recorded call; `stats` holds mean and invstd.
std::vector<Tensor> batch_norm_backward(const Tensor& g_in, const Tensor& x, const Tensor& weight,
                                        const Geometry& g, bool use_batch, const float* mean,
                                        const float* invstd, bool need_x, bool need_w,
                                        bool need_b) {
    Tensor gy = plain(g_in);
    const float* gp = gy.data<float>();
    const float* xs = x.data<float>();
    const int64_t m = g.n * g.l;
    std::vector<double> sums(size_t(2 * g.c), 0.0); // sum(dy), then sum(dy * xhat)
    double *sdy = sums.data(), *sdyx = sums.data() + g.c;
    reduce_rows(g.n, 2 * g.n * g.c * g.l, 2 * g.c, sums.data(),
                [&](double* out, int64_t r0, int64_t r1) {
                    channel_grad_sums(gp, xs, g, mean, out, out + g.c, r0, r1);
                });
    for (int64_t c = 0; c < g.c; ++c) sdyx[c] *= invstd[c];
    Tensor gx, gw, gb;
    if (need_x) {
        std::vector<float> coef(size_t(3 * g.c), 0.f); // k1, k2, scale
        float *k1 = coef.data(), *k2 = k1 + g.c, *scale = k2 + g.c;
        const float* wp = weight.defined() ? weight.data<float>() : nullptr;
        for (int64_t c = 0; c < g.c; ++c) {
            scale[c] = invstd[c] * (wp ? wp[c] : 1.f);
            if (use_batch) {
                k1[c] = float(sdy[c] / double(m));
                k2[c] = float(sdyx[c] / double(m)) * invstd[c];
            }
        }
        gx = new_like(x.shape());
        float* dx = gx.data<float>();
        for_chunks(g.n, plan_threads(g.n, 3 * g.n * g.c * g.l), [&](int64_t r0, int64_t r1, int) {
            batch_norm_input_grad(gp, xs, dx, g, mean, k1, k2, scale, r0, r1);
        });
    }
    if (need_w) {
        gw = new_like({g.c});
        for (int64_t c = 0; c < g.c; ++c) gw.data<float>()[c] = float(sdyx[c]);
    }
    if (need_b) {
        gb = new_like({g.c});
        for (int64_t c = 0; c < g.c; ++c) gb.data<float>()[c] = float(sdy[c]);
    }
    return {gx, gw, gb};
}

} // namespace

namespace {
NNSCOPE_HOT void sgd_momentum_range(float* p, const float* g, float* buf, int64_t k0, int64_t n,
                                    float lr, float momentum, float dampening, float weight_decay,
                                    bool nesterov) {
    // torch.optim.sgd's order: d = g + wd p; buf = m buf + (1 - dampening) d;
    // d = nesterov ? d + m buf : buf; p -= lr d. Branch-free inner loops.
    const float keep = 1.f - dampening;
    if (weight_decay == 0.f && !nesterov) {
        for (int64_t k = k0; k < n; ++k) {
            buf[k] = buf[k] * momentum + g[k] * keep;
            p[k] -= lr * buf[k];
        }
        return;
    }
    for (int64_t k = k0; k < n; ++k) {
        float d = g[k] + p[k] * weight_decay;
        buf[k] = buf[k] * momentum + d * keep;
        d = nesterov ? d + buf[k] * momentum : buf[k];
        p[k] -= lr * d;
    }
}

} // namespace

void sgd_momentum_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
                       float dampening, float weight_decay, bool nesterov) {
    for_chunks(n, plan_threads(n, 3 * n), [&](int64_t k0, int64_t k1, int) {
        sgd_momentum_range(p, g, buf, k0, k1, lr, momentum, dampening, weight_decay, nesterov);
    });
}

bool eligible(std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts)
        if (t->defined() &&
            (t->dtype() != DType::Float32 || !t->device().is_cpu() || !t->is_contiguous()))
            return false;
    return true;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& num_batches_tracked, const Tensor& weight, const Tensor& bias,
                  bool training, std::optional<double> momentum, double eps, bool then_relu) {
    const Geometry g = geometry(x);
    const int64_t m = g.n * g.l; // values per channel
    const float* xp = x.data<float>();
    const bool use_batch = training || !running_mean.defined();
    // One block per call: mean, invstd, alpha, beta (the backward keeps the first two), and
    // the shift and double sums; on the stack for up to 64 channels, so small layers never
    // allocate.
    constexpr int64_t k_local = 64;
    float local_stats[4 * k_local];
    double local_sums[3 * k_local];
    std::vector<float> heap_stats;
    std::vector<double> heap_sums;
    if (g.c > k_local) heap_stats.resize(size_t(4 * g.c)), heap_sums.resize(size_t(3 * g.c));
    float* mean = g.c > k_local ? heap_stats.data() : local_stats;
    float *invstd = mean + g.c, *alpha = invstd + g.c, *beta = alpha + g.c;
    if (use_batch) {
        // One pass of shifted sums in double (channel_moments); afterwards sum[c] holds the
        // mean and sq[c] the sum of squared deviations, as after PyTorch's two passes.
        double* sum = g.c > k_local ? heap_sums.data() : local_sums;
        double *sq = sum + g.c, *shift = sq + g.c;
        for (int64_t c = 0; c < g.c; ++c) shift[c] = m > 0 ? double(xp[c * g.l]) : 0.0;
        const int64_t work = g.n * g.c * g.l;
        auto moments = [&] {
            std::fill(sum, sum + 2 * g.c, 0.0);
            reduce_rows(g.n, work, 2 * g.c, sum, [&](double* out, int64_t r0, int64_t r1) {
                channel_moments(xp, g, shift, out, out + g.c, r0, r1);
            });
            bool cancelled = false; // more than 8 of double's 16 digits lost somewhere
            for (int64_t c = 0; c < g.c; ++c) {
                const double d = m > 0 ? sum[c] / double(m) : 0.0; // mean - shift
                const double raw = sq[c];
                const double v = raw - d * sum[c];
                sq[c] = v < 0.0 ? 0.0 : v; // rounding below zero; NaN stays NaN
                sum[c] = shift[c] + d;
                cancelled = cancelled || raw > 1e8 * sq[c];
            }
            return cancelled;
        };
        if (moments()) { // an outlier shift: again around the mean, PyTorch's second pass
            std::copy(sum, sum + g.c, shift);
            moments();
        }
        if (training && running_mean.defined()) {
            double factor = momentum.value_or(0.0);
            if (num_batches_tracked.defined()) {
                if (num_batches_tracked.dtype() == DType::Int64 &&
                    num_batches_tracked.numel() == 1 && num_batches_tracked.device().is_cpu())
                    ++*num_batches_tracked.data<int64_t>();
                else {
                    NoGradGuard no_grad;
                    Tensor(num_batches_tracked).add_(Scalar(1));
                }
                if (!momentum) factor = 1.0 / double(num_batches_tracked.item_int());
            }
            float* rm = running_mean.data<float>();
            float* rv = running_var.data<float>();
            for (int64_t c = 0; c < g.c; ++c) {
                const double unbiased = sq[c] / double(m - 1);
                rm[c] = float(factor * sum[c] + (1 - factor) * rm[c]);
                rv[c] = float(factor * unbiased + (1 - factor) * rv[c]);
            }
        }
        for (int64_t c = 0; c < g.c; ++c) {
            mean[c] = float(sum[c]);
            invstd[c] = float(1.0 / std::sqrt(sq[c] / double(m) + eps));
        }
    } else {
        const float* rm = running_mean.data<float>();
        const float* rv = running_var.data<float>();
        for (int64_t c = 0; c < g.c; ++c) {
            mean[c] = rm[c];
            invstd[c] = float(1.0 / std::sqrt(double(rv[c]) + eps));
        }
    }
    // y = x * alpha + beta with alpha = invstd * w, beta = b - mean * alpha (PyTorch's form).
    const float* w = weight.defined() ? weight.data<float>() : nullptr;
    const float* b = bias.defined() ? bias.data<float>() : nullptr;
    for (int64_t c = 0; c < g.c; ++c) {
        alpha[c] = invstd[c] * (w ? w[c] : 1.f);
        beta[c] = (b ? b[c] : 0.f) - mean[c] * alpha[c];
    }
    Tensor y = new_like(x.shape());
    float* yp = y.data<float>();
    for_chunks(g.n, plan_threads(g.n, 2 * g.n * g.c * g.l), [&](int64_t r0, int64_t r1, int) {
        affine_per_channel(xp, yp, g, alpha, beta, then_relu, r0, r1);
    });
    if (autograd::should_record({&x, &weight, &bias})) {
        Tensor xd = x.detach(), wd = weight.defined() ? weight.detach() : Tensor();
        const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
        std::vector<float> stats(mean, mean + 2 * g.c);
        autograd::record(
            y, "NativeBatchNormBackward0", {x, weight, bias},
            [=, stats = std::move(stats)](const Tensor& g_in) {
                return batch_norm_backward(g_in, xd, wd, g, use_batch, stats.data(),
                                           stats.data() + g.c, need_x, need_w, need_b);
            },
            autograd::Saves{{x, weight}});
    }
    return y;
}

Tensor relu(const Tensor& x) {
    Tensor y = new_like(x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    const int64_t n = x.numel();
    for_chunks(n, plan_threads(n, 2 * n),
               [&](int64_t i0, int64_t i1, int) { relu_forward(xp, yp, i0, i1); });
    if (autograd::should_record({&x})) {
        Tensor yd = y.detach();
        autograd::record(
            y, "ReluBackward0", {x},
            [yd](const Tensor& g_in) -> std::vector<Tensor> {
                return {threshold_backward(plain(g_in), yd)};
            },
            autograd::Saves{{}, true});
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
        autograd::record(
            loss, "MseLossBackward0", {input, target},
            [=](const Tensor& g_in) -> std::vector<Tensor> {
                const float scale = float(2.0 * g_in.item() / double(n));
                Tensor ga = new_like(ad.shape()), gb;
                const float *ap = ad.data<float>(), *bp = bd.data<float>();
                float* gp = ga.data<float>();
                for (int64_t i = 0; i < n; ++i) gp[i] = (ap[i] - bp[i]) * scale;
                if (need_b) gb = ga.neg();
                if (!need_a) ga = Tensor();
                return {ga, gb};
            },
            autograd::Saves{{input, target}});
    }
    return loss;
}

} // namespace nnscope::fused
