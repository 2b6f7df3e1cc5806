// bench_model.cpp: the model file benchmark's nnscope side and the alternating timer.
#include "bench_model.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <cblas.h>

#include "autograd.h"
#include "document.h"
#include "errors.h"
#include "functional.h"
#include "fused_cpu.h"
#include "random.h"

namespace nnscope::bench {

Shape parse_shape(const std::string& text) {
    Shape s;
    size_t at = 0;
    while (at <= text.size()) {
        const size_t comma = std::min(text.find(',', at), text.size());
        const std::string part = text.substr(at, comma - at);
        size_t used = 0;
        const long long v = part.empty() ? -1 : std::stoll(part, &used);
        if (used != part.size() || v <= 0)
            throw std::invalid_argument("bad input shape '" + text + "'");
        s.push_back(v);
        at = comma + 1;
    }
    return s;
}

Tensor model_input(const Shape& shape) {
    Generator gen(1);
    return randn(shape, gen);
}

Tensor model_labels(int64_t batch, int64_t classes) {
    std::vector<int64_t> v(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) v[size_t(i)] = i % classes;
    return from_int64s(v, {batch}, TensorOptions(DType::Int64));
}

NnscopeModel::NnscopeModel(const std::string& path, const Shape& input_shape,
                           const Device& device) {
    Document doc = open_document(path);
    if (!doc.root->runnable()) throw FormatError(path, "the model is not runnable");
    m_model = doc.root;
    m_model->to(device);
    m_x = model_input(input_shape).to(device);
    m_model->eval();
    {
        NoGradGuard no_grad;
        Tensor out = m_model->forward(m_x);
        if (out.dim() != 2 || out.size(0) != input_shape[0])
            throw FormatError(path, "the benchmark needs an output of shape (N, classes), got " +
                                        shape_str(out.shape()));
        m_classes = out.size(1);
    }
    m_labels = model_labels(input_shape[0], m_classes).to(device);
    m_opt = make_optimizer("sgd:lr=0.01,momentum=0.9", m_model->named_parameters());
}

void NnscopeModel::eval_forward() {
    m_model->eval();
    NoGradGuard no_grad;
    (void)m_model->forward(m_x).sum().item(); // item() waits for the device
}

void NnscopeModel::train_forward() {
    m_model->train();
    NoGradGuard no_grad;
    (void)m_model->forward(m_x).sum().item();
}

double NnscopeModel::train_step() {
    m_model->train();
    m_opt->zero_grad(true);
    Tensor loss = F::cross_entropy(m_model->forward(m_x), m_labels);
    loss.backward();
    m_opt->step();
    return loss.item();
}

uint64_t NnscopeModel::tensor_bytes() const {
    uint64_t n = 0;
    for (const auto& [name, t] : m_model->named_parameters()) n += t.nbytes();
    for (const auto& [name, t] : m_model->named_buffers())
        if (t.defined()) n += t.nbytes();
    return n;
}

ConvRoof conv_roof(NnscopeModel& model) {
    std::vector<fused::ConvCall> calls;
    fused::set_conv_observer([&](const fused::ConvCall& c) { calls.push_back(c); });
    model.eval_forward();
    fused::set_conv_observer(nullptr);
    ConvRoof roof;
    roof.convolutions = int(calls.size());
    std::vector<std::vector<float>> a, b, c;
    for (const auto& k : calls) {
        const int64_t m = k.o / k.groups, n = k.n * k.oh * k.ow, kk = k.c / k.groups * k.kh * k.kw;
        roof.gflop += 2.0 * double(m * n * kk * k.groups) / 1e9;
        a.emplace_back(size_t(m * kk), 0.01f);
        b.emplace_back(size_t(kk * n), 0.5f);
        c.emplace_back(size_t(m * n), 0.f);
    }
    roof.sgemm_ms = interleaved_medians(
        {[&] {
            for (size_t i = 0; i < calls.size(); ++i) {
                const auto& k = calls[i];
                const int m = int(k.o / k.groups), n = int(k.n * k.oh * k.ow),
                          kk = int(k.c / k.groups * k.kh * k.kw);
                for (int64_t g = 0; g < k.groups; ++g)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, kk, 1.f,
                                a[i].data(), kk, b[i].data(), n, 0.f, c[i].data(), n);
            }
        }},
        1, 5)[0];
    return roof;
}

std::vector<double> interleaved_medians(const std::vector<std::function<void()>>& workloads,
                                        int warmup, int runs) {
    const size_t n = workloads.size();
    for (int r = 0; r < warmup; ++r)
        for (const auto& w : workloads) w();
    std::vector<std::vector<double>> times(n);
    for (int r = 0; r < runs; ++r)
        for (size_t k = 0; k < n; ++k) {
            const size_t i = r % 2 ? n - 1 - k : k;
            const auto a = std::chrono::steady_clock::now();
            workloads[i]();
            const auto b = std::chrono::steady_clock::now();
            times[i].push_back(std::chrono::duration<double, std::milli>(b - a).count());
        }
    std::vector<double> medians;
    for (auto& t : times) {
        std::sort(t.begin(), t.end());
        medians.push_back(t.empty() ? 0 : t[t.size() / 2]);
    }
    return medians;
}

} // namespace nnscope::bench
