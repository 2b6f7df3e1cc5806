// fused_conv.cpp: 2-D convolution in float32 on the CPU as one GEMM per group over the
// whole batch (fused_cpu.h). The input's columns are laid out (C*kh*kw, N*oh*ow), so one
// sgemm covers every image, and the result goes straight into NCHW with the bias added.
// Backward recomputes the columns rather than keeping them (9x the input for a 3x3
// kernel): dW = dY cols^T, dcols = W^T dY folded back into dX, db = sum of dY.
#include "fused_cpu.h"

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "autograd.h"
#include "conv_dnnl.h"
#include "fused_internal.h"

namespace nnscope::fused {

namespace {

std::function<void(const ConvCall&)> g_conv_observer;

struct ConvShape {
    int64_t n, c, h, w;     // input
    int64_t o, cg, kh, kw;  // weight: out channels, channels per group, kernel
    int64_t groups, oh, ow; // output spatial size
    Backend::ConvGeometry g;
    int64_t k() const { return cg * kh * kw; }
    int64_t l() const { return oh * ow; }
    int64_t og() const { return o / groups; }
};

// cols[k][n*L + oy*ow + ox] = x[n][c0 + c][iy][ix] (0 outside), k = (c*kh + i)*kw + j.
NNSCOPE_HOT void im2col_rows(const float* x, const ConvShape& s, int64_t c0, float* cols,
                             int64_t k0, int64_t k1) {
    const Backend::ConvGeometry& g = s.g;
    const int64_t L = s.l(), NL = s.n * L;
    for (int64_t k = k0; k < k1; ++k) {
        const int64_t c = k / (s.kh * s.kw), i = k / s.kw % s.kh, j = k % s.kw;
        float* row = cols + k * NL;
        for (int64_t n = 0; n < s.n; ++n) {
            const float* plane = x + ((n * s.c) + c0 + c) * s.h * s.w;
            for (int64_t oy = 0; oy < s.oh; ++oy) {
                float* out = row + n * L + oy * s.ow;
                const int64_t iy = oy * g.sh - g.ph + i * g.dh;
                if (iy < 0 || iy >= s.h) {
                    std::memset(out, 0, size_t(s.ow) * sizeof(float));
                    continue;
                }
                const float* in = plane + iy * s.w;
                const int64_t ix0 = j * g.dw - g.pw;
                if (g.sw == 1 && ix0 >= 0 && ix0 + s.ow <= s.w) {
                    std::memcpy(out, in + ix0, size_t(s.ow) * sizeof(float));
                    continue;
                }
                for (int64_t ox = 0; ox < s.ow; ++ox) {
                    const int64_t ix = ox * g.sw + ix0;
                    out[ox] = ix >= 0 && ix < s.w ? in[ix] : 0.f;
                }
            }
        }
    }
}

// im2col's adjoint for channels [c_begin, c_end) of the group: dx += the columns folded
// back. A channel's kh*kw rows touch only that channel's planes, so channels split over
// threads without races, and the order of the sums is fixed.
NNSCOPE_HOT void col2im_channels(const float* cols, const ConvShape& s, int64_t c0, float* dx,
                                 int64_t c_begin, int64_t c_end) {
    const Backend::ConvGeometry& g = s.g;
    const int64_t L = s.l(), NL = s.n * L;
    for (int64_t c = c_begin; c < c_end; ++c)
        for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
                const float* row = cols + ((c * s.kh + i) * s.kw + j) * NL;
                for (int64_t n = 0; n < s.n; ++n) {
                    float* plane = dx + ((n * s.c) + c0 + c) * s.h * s.w;
                    for (int64_t oy = 0; oy < s.oh; ++oy) {
                        const int64_t iy = oy * g.sh - g.ph + i * g.dh;
                        if (iy < 0 || iy >= s.h) continue;
                        const float* in = row + n * L + oy * s.ow;
                        float* out = plane + iy * s.w;
                        for (int64_t ox = 0; ox < s.ow; ++ox) {
                            const int64_t ix = ox * g.sw - g.pw + j * g.dw;
                            if (ix >= 0 && ix < s.w) out[ix] += in[ox];
                        }
                    }
                }
            }
}

void im2col(const float* x, const ConvShape& s, int64_t group, float* cols) {
    const int64_t k = s.k();
    for_chunks(k, plan_threads(k, k * s.n * s.l()),
               [&](int64_t k0, int64_t k1, int) { im2col_rows(x, s, group * s.cg, cols, k0, k1); });
}

// y[n][o0 + o][l] = yt[o][n*L + l] (+ b[o0 + o]): the GEMM's rows into NCHW.
void scatter_rows(const float* yt, const float* b, const ConvShape& s, int64_t o0, float* y) {
    const int64_t L = s.l(), og = s.og();
    for_chunks(og, plan_threads(og, og * s.n * L), [&](int64_t r0, int64_t r1, int) {
        for (int64_t o = r0; o < r1; ++o)
            for (int64_t n = 0; n < s.n; ++n) {
                const float* in = yt + o * s.n * L + n * L;
                float* out = y + (n * s.o + o0 + o) * L;
                const float bias = b ? b[o0 + o] : 0.f;
                for (int64_t i = 0; i < L; ++i) out[i] = in[i] + bias;
            }
    });
}

// gt[o][n*L + l] = gy[n][o0 + o][l]: NCHW gradient rows for the GEMMs.
void gather_rows(const float* gy, const ConvShape& s, int64_t o0, float* gt) {
    const int64_t L = s.l(), og = s.og();
    for_chunks(og, plan_threads(og, og * s.n * L), [&](int64_t r0, int64_t r1, int) {
        for (int64_t o = r0; o < r1; ++o)
            for (int64_t n = 0; n < s.n; ++n)
                std::memcpy(gt + o * s.n * L + n * L, gy + (n * s.o + o0 + o) * L,
                            size_t(L) * sizeof(float));
    });
}

std::vector<Tensor> conv2d_backward(const Tensor& gy_in, const Tensor& x, const Tensor& w,
                                    const ConvShape& s, bool need_x, bool need_w, bool need_b) {
    Tensor gy = plain(gy_in);
    const float* gp = gy.data<float>();
    const int64_t K = s.k(), NL = s.n * s.l(), og = s.og();
    Tensor gx = need_x ? zeros({s.n, s.c, s.h, s.w}, TensorOptions(DType::Float32)) : Tensor();
    Tensor gw = need_w ? new_like(w.shape()) : Tensor();
    Tensor gb;
    std::vector<float> gt(size_t(og * NL)), cols(size_t(K * NL));
    for (int64_t gi = 0; gi < s.groups; ++gi) {
        gather_rows(gp, s, gi * og, gt.data());
        if (need_w) { // dW_g (og, K) = dY_g (og, NL) cols^T
            im2col(x.data<float>(), s, gi, cols.data());
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(og), int(K), int(NL), 1.f,
                        gt.data(), int(NL), cols.data(), int(NL), 0.f,
                        gw.data<float>() + gi * og * K, int(K));
        }
        if (need_x) { // dcols (K, NL) = W_g^T dY_g, folded back into dx
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(K), int(NL), int(og), 1.f,
                        w.data<float>() + gi * og * K, int(K), gt.data(), int(NL), 0.f, cols.data(),
                        int(NL));
            for_chunks(s.cg, plan_threads(s.cg, K * NL), [&](int64_t c0, int64_t c1, int) {
                col2im_channels(cols.data(), s, gi * s.cg, gx.data<float>(), c0, c1);
            });
        }
    }
    if (need_b) { // db[o] = sum over n and l, in double as ATen's CPU sums
        gb = new_like({s.o});
        float* bp = gb.data<float>();
        const int64_t L = s.l();
        for_chunks(s.o, plan_threads(s.o, s.o * s.n * L), [&](int64_t o0, int64_t o1, int) {
            for (int64_t o = o0; o < o1; ++o) {
                double acc = 0;
                for (int64_t n = 0; n < s.n; ++n) {
                    const float* row = gp + (n * s.o + o) * L;
                    for (int64_t i = 0; i < L; ++i) acc += row[i];
                }
                bp[o] = float(acc);
            }
        });
    }
    return {gx, gw, gb};
}

conv_dnnl::Shape dnnl_shape(const ConvShape& s) {
    return {s.n,  s.c,  s.h,    s.w,    s.o,    s.kh,   s.kw,   s.groups,
            s.oh, s.ow, s.g.sh, s.g.sw, s.g.ph, s.g.pw, s.g.dh, s.g.dw};
}

conv_dnnl::WeightKey weight_key(const Tensor& w) {
    return {w.impl()->storage ? w.impl()->storage->id : 0, w.storage_offset(), w.version()};
}

// oneDNN's kernels, where the build has them.
Tensor conv2d_dnnl(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvShape& s) {
    Tensor y = new_like({s.n, s.o, s.oh, s.ow});
    const bool record = autograd::should_record({&x, &weight, &bias});
    conv_dnnl::forward(dnnl_shape(s), x.data<float>(), weight.data<float>(), weight_key(weight),
                       bias.defined() ? bias.data<float>() : nullptr, y.data<float>(), record);
    if (record) {
        Tensor xd = x.detach(), wd = weight.detach();
        const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
        autograd::record(
            y, "ConvolutionBackward0", {x, weight, bias},
            [=](const Tensor& gy_in) -> std::vector<Tensor> {
                Tensor gy = plain(gy_in);
                Tensor gx = need_x ? new_like(xd.shape()) : Tensor();
                Tensor gw = need_w || need_b ? new_like(wd.shape()) : Tensor();
                Tensor gb = need_b ? new_like({s.o}) : Tensor();
                conv_dnnl::backward(dnnl_shape(s), xd.data<float>(), gy.data<float>(),
                                    wd.data<float>(), need_x ? gx.data<float>() : nullptr,
                                    gw.defined() ? gw.data<float>() : nullptr,
                                    need_b ? gb.data<float>() : nullptr);
                if (!need_w) gw = Tensor();
                return {gx, gw, gb};
            },
            autograd::Saves{{x, weight}});
    }
    return y;
}

} // namespace

void set_conv_observer(std::function<void(const ConvCall&)> observer) {
    g_conv_observer = std::move(observer);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Backend::ConvGeometry& g, int64_t groups) {
    ConvShape s{x.size(0),      x.size(1),      x.size(2),      x.size(3),
                weight.size(0), weight.size(1), weight.size(2), weight.size(3),
                groups,         g.oh,           g.ow,           g};
    if (g_conv_observer) g_conv_observer({s.n, s.c, s.o, s.kh, s.kw, groups, s.oh, s.ow});
    if (conv_dnnl::available() && s.n > 0 && s.o > 0 && s.c > 0)
        return conv2d_dnnl(x, weight, bias, s);
    const int64_t K = s.k(), NL = s.n * s.l(), og = s.og();
    Tensor y = new_like({s.n, s.o, s.oh, s.ow});
    std::vector<float> cols(size_t(K * NL)), yt(size_t(og * NL));
    const float* b = bias.defined() ? bias.data<float>() : nullptr;
    for (int64_t gi = 0; gi < groups; ++gi) {
        im2col(x.data<float>(), s, gi, cols.data());
        if (og > 0 && NL > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(og), int(NL), int(K), 1.f,
                        weight.data<float>() + gi * og * K, int(K), cols.data(), int(NL), 0.f,
                        yt.data(), int(NL));
        scatter_rows(yt.data(), b, s, gi * og, y.data<float>());
    }
    if (autograd::should_record({&x, &weight, &bias})) {
        Tensor xd = x.detach(), wd = weight.detach();
        const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
        autograd::record(
            y, "ConvolutionBackward0", {x, weight, bias},
            [=](const Tensor& gy) {
                return conv2d_backward(gy, xd, wd, s, need_x, need_w, need_b);
            },
            autograd::Saves{{x, weight}});
    }
    return y;
}

namespace {

// Folded weights per convolution weight, with what they were folded from.
struct Folded {
    std::vector<std::pair<uint64_t, uint32_t>> sources; // (storage id, version) of each input
    Tensor weight, bias;
};
// Never destroyed: its tensors' storages go back to the CPU backend, which may be gone at
// exit.
std::mutex g_folded_mutex;
std::map<uint64_t, Folded>& g_folded = *new std::map<uint64_t, Folded>;

std::pair<uint64_t, uint32_t> source(const Tensor& t) {
    return t.defined() ? std::make_pair(t.impl()->storage->id, t.version())
                       : std::make_pair(uint64_t(0), 0u);
}

} // namespace

Tensor conv_bn_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Backend::ConvGeometry& g, int64_t groups, const Tensor& running_mean,
                    const Tensor& running_var, const Tensor& bn_weight, const Tensor& bn_bias,
                    double eps, bool relu) {
    if (!conv_dnnl::available() || grad_enabled() || x.dim() != 4 || !running_mean.defined() ||
        !running_var.defined() ||
        !eligible({&x, &weight, &bias, &running_mean, &running_var, &bn_weight, &bn_bias}))
        return Tensor();
    const int64_t o = weight.size(0);
    if (running_mean.numel() != o || running_var.numel() != o ||
        (bn_weight.defined() && bn_weight.numel() != o) ||
        (bn_bias.defined() && bn_bias.numel() != o) || (bias.defined() && bias.numel() != o))
        return Tensor();
    const std::vector<std::pair<uint64_t, uint32_t>> sources = {
        source(weight),      source(bias),      source(running_mean),
        source(running_var), source(bn_weight), source(bn_bias)};
    Tensor w2, b2;
    {
        std::lock_guard<std::mutex> lock(g_folded_mutex);
        auto it = g_folded.find(sources[0].first);
        if (it != g_folded.end() && it->second.sources == sources) {
            w2 = it->second.weight;
            b2 = it->second.bias;
        }
    }
    if (!w2.defined()) { // fold, in double as ATen folds for inference
        w2 = new_like(weight.shape());
        b2 = new_like({o});
        const int64_t k = weight.numel() / std::max<int64_t>(o, 1);
        const float *w = weight.data<float>(), *m = running_mean.data<float>(),
                    *v = running_var.data<float>();
        float *w_out = w2.data<float>(), *b_out = b2.data<float>();
        for (int64_t c = 0; c < o; ++c) {
            const double gamma = bn_weight.defined() ? double(bn_weight.data<float>()[c]) : 1.0;
            const double beta = bn_bias.defined() ? double(bn_bias.data<float>()[c]) : 0.0;
            const double scale = gamma / std::sqrt(double(v[c]) + eps);
            for (int64_t i = 0; i < k; ++i) w_out[c * k + i] = float(double(w[c * k + i]) * scale);
            const double b0 = bias.defined() ? double(bias.data<float>()[c]) : 0.0;
            b_out[c] = float((b0 - double(m[c])) * scale + beta);
        }
        std::lock_guard<std::mutex> lock(g_folded_mutex);
        if (g_folded.size() >= 512) g_folded.clear();
        g_folded[sources[0].first] = {sources, w2, b2};
    }
    ConvShape s{x.size(0),      x.size(1),      x.size(2),      x.size(3),
                weight.size(0), weight.size(1), weight.size(2), weight.size(3),
                groups,         g.oh,           g.ow,           g};
    if (g_conv_observer) g_conv_observer({s.n, s.c, s.o, s.kh, s.kw, groups, s.oh, s.ow});
    Tensor y = new_like({s.n, s.o, s.oh, s.ow});
    conv_dnnl::forward(dnnl_shape(s), x.data<float>(), w2.data<float>(), weight_key(w2),
                       b2.data<float>(), y.data<float>(), false, relu);
    return y;
}

} // namespace nnscope::fused
