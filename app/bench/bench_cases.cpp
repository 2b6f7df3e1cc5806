// bench_cases.cpp: the reference benchmark cases run through nnscope's ordinary API (the
// path the window and `run` take), and the OpenBLAS roof at the same shapes.
#include "bench_cases.h"

#include <cblas.h>

#include <algorithm>

#include "autograd.h"
#include "functional.h"
#include "model_spec.h"
#include "optim/optimizer.h"
#include "random.h"

namespace nnscope::bench {

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {{"small", 6, 16, 4, 32, 400},
                                          {"large", 512, 512, 10, 256, 40}};
    return all;
}

std::vector<Case> select_cases(const std::string& list) {
    std::vector<Case> out;
    for (const Case& c : cases())
        if (list.find(c.name) != std::string::npos) out.push_back(c);
    return out;
}

double median_ms(const std::function<void()>& f, int warmup, int runs) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        auto a = std::chrono::steady_clock::now();
        f();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

std::string spec_json(const Case& c) {
    auto lin = [](int i, int o) {
        return R"({"type": "Linear", "in_features": )" + std::to_string(i) +
               R"(, "out_features": )" + std::to_string(o) + "}";
    };
    auto bn = [](int n) {
        return R"({"type": "BatchNorm1d", "num_features": )" + std::to_string(n) + "}";
    };
    return R"({"type": "Sequential", "seed": 0, "children": [)" + lin(c.in, c.hidden) + "," +
           bn(c.hidden) + R"(,{"type": "ReLU"},)" + lin(c.hidden, c.hidden) + "," + bn(c.hidden) +
           R"(,{"type": "ReLU"},)" + lin(c.hidden, c.out) + "]}";
}

Figures run_nnscope(const Case& c, const Device& dev, int warmup) {
    ModulePtr model = parse_model_spec(spec_json(c), "bench").root;
    model->to(dev);
    Generator gen(1);
    Tensor x = randn({c.batch, c.in}, gen).to(dev), y = randn({c.batch, c.out}, gen).to(dev);
    auto sync = [](const Tensor& t) { (void)t.item(); }; // waits for the device
    Figures f;
    auto forward = [&] {
        NoGradGuard no_grad;
        sync(model->forward(x).sum());
    };
    model->train();
    f.train_forward_ms = median_ms(forward, warmup, c.runs);
    model->eval();
    f.eval_forward_ms = median_ms(forward, warmup, c.runs);
    model->train();
    auto opt = make_optimizer("sgd:lr=0.01,momentum=0.9", model->named_parameters());
    bool first = true;
    f.train_step_ms = median_ms(
        [&] {
            opt->zero_grad();
            Tensor loss = F::mse_loss(model->forward(x), y);
            loss.backward();
            opt->step();
            double l = loss.item();
            if (first) f.first_loss = l, first = false;
        },
        warmup, c.runs);
    return f;
}

Figures run_roof(const Case& c, int warmup) {
    const int B = c.batch;
    struct Layer {
        int in, out;
    };
    const Layer layers[3] = {{c.in, c.hidden}, {c.hidden, c.hidden}, {c.hidden, c.out}};
    std::vector<std::vector<float>> w, act, grad, wgrad;
    act.emplace_back(size_t(B) * c.in, 0.5f);
    for (const Layer& l : layers) {
        w.emplace_back(size_t(l.in) * l.out, 0.01f);
        wgrad.emplace_back(size_t(l.in) * l.out, 0.f);
        act.emplace_back(size_t(B) * l.out, 0.f);
        grad.emplace_back(size_t(B) * l.out, 0.1f);
    }
    auto forward = [&] { // y = x W^T
        for (int i = 0; i < 3; ++i)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, layers[i].out, layers[i].in,
                        1.f, act[i].data(), layers[i].in, w[i].data(), layers[i].in, 0.f,
                        act[i + 1].data(), layers[i].out);
    };
    auto backward = [&] { // dW = dY^T X for all three, dX = dY W for the upper two
        for (int i = 2; i >= 0; --i) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, layers[i].out, layers[i].in, B,
                        1.f, grad[i].data(), layers[i].out, act[i].data(), layers[i].in, 0.f,
                        wgrad[i].data(), layers[i].in);
            if (i > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, layers[i].in,
                            layers[i].out, 1.f, grad[i].data(), layers[i].out, w[i].data(),
                            layers[i].in, 0.f, grad[i - 1].data(), layers[i].in);
        }
    };
    Figures f;
    f.train_forward_ms = f.eval_forward_ms = median_ms(forward, warmup, c.runs);
    f.train_step_ms = median_ms(
        [&] {
            forward();
            backward();
        },
        warmup, c.runs);
    return f;
}

nlohmann::json to_json(const Case& c, const std::string& device, const Figures& f) {
    return {{"case", c.name},
            {"batch", c.batch},
            {"device", device},
            {"train_forward_ms", f.train_forward_ms},
            {"eval_forward_ms", f.eval_forward_ms},
            {"train_step_ms", f.train_step_ms}};
}

} // namespace nnscope::bench
