// libtorch_main.cpp: nnscope-bench-libtorch [--json] [--threads N] [--cases small,large]
// [--runs N]: the reference benchmark (bench_cases.h) in nnscope and in LibTorch, in one
// process, same machine, same threads, with the ratio nnscope/LibTorch per figure and the
// OpenBLAS roof. Both models start from the same weights (nnscope's, copied into
// torch::nn), and the first training step's loss must agree to 1e-4, or it exits 1: the
// two sides provably time the same computation. Built only where libtorch-dev is found.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "bench_cases.h"
#include "io/model_spec.h"
#include "random.h"
#include "tensor.h"

namespace {

using nnscope::bench::Case;
using nnscope::bench::Figures;

torch::Tensor to_torch(const nnscope::Tensor& t) {
    nnscope::Tensor c = t.to(nnscope::DType::Float32).contiguous();
    std::vector<int64_t> shape(c.shape().begin(), c.shape().end());
    return torch::from_blob(const_cast<void*>(c.data_ptr()), shape, torch::kFloat32).clone();
}

Figures run_libtorch(const Case& c, int warmup) {
    // The same initial weights and inputs as run_nnscope(): nnscope's spec model and
    // Generator(1), copied over.
    nnscope::ModulePtr ref = nnscope::parse_model_spec(nnscope::bench::spec_json(c), "bench").root;
    nnscope::Generator gen(1);
    torch::Tensor x = to_torch(nnscope::randn({c.batch, c.in}, gen));
    torch::Tensor y = to_torch(nnscope::randn({c.batch, c.out}, gen));
    torch::nn::Sequential model(torch::nn::Linear(c.in, c.hidden), torch::nn::BatchNorm1d(c.hidden),
                                torch::nn::ReLU(), torch::nn::Linear(c.hidden, c.hidden),
                                torch::nn::BatchNorm1d(c.hidden), torch::nn::ReLU(),
                                torch::nn::Linear(c.hidden, c.out));
    {
        torch::NoGradGuard no_grad;
        auto params = model->named_parameters();
        for (auto& [name, t] : ref->named_parameters()) params[name].copy_(to_torch(t));
    }
    Figures f;
    auto forward = [&] {
        torch::NoGradGuard no_grad;
        (void)model->forward(x).sum().item<float>();
    };
    model->train();
    f.train_forward_ms = nnscope::bench::median_ms(forward, warmup, c.runs);
    model->eval();
    f.eval_forward_ms = nnscope::bench::median_ms(forward, warmup, c.runs);
    model->train();
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    bool first = true;
    f.train_step_ms = nnscope::bench::median_ms(
        [&] {
            opt.zero_grad();
            torch::Tensor loss = torch::mse_loss(model->forward(x), y);
            loss.backward();
            opt.step();
            float l = loss.item<float>();
            if (first) f.first_loss = l, first = false;
        },
        warmup, c.runs);
    return f;
}

} // namespace

int main(int argc, char** argv) {
    bool as_json = false;
    int threads = 1, runs = 0;
    std::string case_list = "small,large";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return std::string(argv[++i]);
        };
        if (a == "--json")
            as_json = true;
        else if (a == "--threads")
            threads = std::stoi(value());
        else if (a == "--cases")
            case_list = value();
        else if (a == "--runs")
            runs = std::stoi(value());
        else {
            std::fprintf(stderr, "error: unknown option '%s'\n", a.c_str());
            return 2;
        }
    }
    nnscope::set_cpu_threads(threads);
    torch::set_num_threads(threads);
    int status = 0;
    if (!as_json)
        std::printf("%-6s %-14s %10s %10s %8s %10s %10s\n", "case", "figure", "nnscope", "LibTorch",
                    "ratio", "roof", "vs roof");
    for (Case c : nnscope::bench::select_cases(case_list)) {
        if (runs > 0) c.runs = runs;
        const int warmup = runs > 0 ? 1 : 5;
        Figures n = nnscope::bench::run_nnscope(c, nnscope::Device::cpu(), warmup);
        Figures t = run_libtorch(c, warmup);
        Figures r = nnscope::bench::run_roof(c, warmup);
        const bool same =
            std::fabs(n.first_loss - t.first_loss) <= 1e-4 * std::max(1.0, std::fabs(t.first_loss));
        if (!same) status = 1;
        struct Row {
            const char* figure;
            double nn, lt, roof;
        } rows[] = {{"train_forward", n.train_forward_ms, t.train_forward_ms, r.train_forward_ms},
                    {"eval_forward", n.eval_forward_ms, t.eval_forward_ms, r.eval_forward_ms},
                    {"train_step", n.train_step_ms, t.train_step_ms, r.train_step_ms}};
        if (as_json) {
            nlohmann::json j = nnscope::bench::to_json(c, "cpu", n);
            j["threads"] = threads;
            j["first_loss"] = {{"nnscope", n.first_loss}, {"libtorch", t.first_loss}};
            for (const Row& row : rows) {
                std::string k = row.figure;
                j["libtorch_" + k + "_ms"] = row.lt;
                j["ratio_" + k] = row.nn / row.lt;
                j["roof_" + k + "_ms"] = row.roof;
            }
            std::cout << j.dump() << "\n";
        } else {
            for (const Row& row : rows)
                std::printf("%-6s %-14s %10.4f %10.4f %8.3f %10.4f %10.2f\n", c.name.c_str(),
                            row.figure, row.nn, row.lt, row.nn / row.lt, row.roof,
                            row.nn / row.roof);
            std::printf("%-6s first loss: nnscope %.6f, LibTorch %.6f%s\n", c.name.c_str(),
                        n.first_loss, t.first_loss, same ? "" : "  MISMATCH");
        }
    }
    return status;
}
