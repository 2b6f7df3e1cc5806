// bench.cpp: `nnscope-cli bench [--json] [--threads N] [--device D] [--cases small,large]`:
// median milliseconds, after warm-up, of a train-mode forward pass (running statistics
// update, no grad), an eval-mode forward pass, and a full training step (forward, MSE,
// backward, SGD momentum 0.9), for the two reference models:
//   small: Linear(6,16) BatchNorm1d ReLU Linear(16,16) BatchNorm1d ReLU Linear(16,4), batch 32
//   large: Linear(512,512) BatchNorm1d ReLU Linear(512,512) BatchNorm1d ReLU Linear(512,10), batch
//   256
// One JSON object per case. On --device cuda:0 it is the GPU benchmark.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "autograd.h"
#include "common.h"
#include "functional.h"
#include "io/model_spec.h"
#include "optim/optimizer.h"
#include "random.h"

namespace nnscope::cli {

namespace {

std::string mlp_spec(int in, int hidden, int out) {
    auto lin = [](int i, int o) {
        return R"({"type": "Linear", "in_features": )" + std::to_string(i) +
               R"(, "out_features": )" + std::to_string(o) + "}";
    };
    auto bn = [](int n) {
        return R"({"type": "BatchNorm1d", "num_features": )" + std::to_string(n) + "}";
    };
    return R"({"type": "Sequential", "seed": 0, "children": [)" + lin(in, hidden) + "," +
           bn(hidden) + R"(,{"type": "ReLU"},)" + lin(hidden, hidden) + "," + bn(hidden) +
           R"(,{"type": "ReLU"},)" + lin(hidden, out) + "]}";
}

template <class F> double median_ms(F&& f, int warmup, int runs) {
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

} // namespace

int cmd_bench(const std::vector<std::string>& argv) {
    bool as_json = false;
    int threads = 0;
    std::string device = "cpu", cases = "small,large";
    for (size_t i = 0; i < argv.size(); ++i) {
        auto value = [&] {
            if (i + 1 >= argv.size()) throw UsageError(argv[i] + " needs a value");
            return argv[++i];
        };
        if (argv[i] == "--json")
            as_json = true;
        else if (argv[i] == "--threads")
            threads = std::stoi(value());
        else if (argv[i] == "--device")
            device = value();
        else if (argv[i] == "--cases")
            cases = value();
        else
            throw UsageError("unknown option '" + argv[i] + "'");
    }
    set_cpu_threads(threads);
    const Device dev = Device::parse(device);
    struct Case {
        const char* name;
        int in, hidden, out, batch, runs;
    };
    for (const Case c : {Case{"small", 6, 16, 4, 32, 200}, Case{"large", 512, 512, 10, 256, 20}}) {
        if (cases.find(c.name) == std::string::npos) continue;
        ModulePtr model = parse_model_spec(mlp_spec(c.in, c.hidden, c.out), "bench").root;
        model->to(dev);
        Generator gen(1);
        Tensor x = randn({c.batch, c.in}, gen).to(dev), y = randn({c.batch, c.out}, gen).to(dev);
        auto sync = [&](const Tensor& t) {
            (void)t.item();
        }; // waits for the device: a scalar comes back
        model->train();
        const double train_forward = median_ms(
            [&] {
                NoGradGuard no_grad;
                sync(model->forward(x).sum());
            },
            5, c.runs);
        model->eval();
        const double eval_forward = median_ms(
            [&] {
                NoGradGuard no_grad;
                sync(model->forward(x).sum());
            },
            5, c.runs);
        model->train();
        auto opt = make_optimizer("sgd:lr=0.01,momentum=0.9", model->named_parameters());
        const double train_step = median_ms(
            [&] {
                opt->zero_grad();
                Tensor loss = F::mse_loss(model->forward(x), y);
                loss.backward();
                opt->step();
                sync(loss);
            },
            5, c.runs);
        json j = {{"case", c.name},
                  {"batch", c.batch},
                  {"device", device},
                  {"train_forward_ms", train_forward},
                  {"eval_forward_ms", eval_forward},
                  {"train_step_ms", train_step}};
        if (as_json)
            std::cout << j.dump() << "\n";
        else
            std::cout << c.name << " (batch " << c.batch << ", " << device << "): train forward "
                      << train_forward << " ms, eval forward " << eval_forward
                      << " ms, training step " << train_step << " ms\n";
    }
    return k_exit_ok;
}

} // namespace nnscope::cli
