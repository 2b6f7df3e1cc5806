// libtorch_main.cpp: nnscope-bench-libtorch [--json] [--threads N] [--cases small,large]
// [--runs N]: the reference benchmark (bench_cases.h) in nnscope and in LibTorch, in one
// process, same machine, same threads, with the ratio nnscope/LibTorch per figure and the
// OpenBLAS roof. Both models start from the same weights (nnscope's, copied into
// torch::nn); both set gradients to None before a step (LibTorch 1.13's C++ zero_grad()
// zeroes them in place, extra work nnscope skips); the two sides' runs alternate. The first
// training step's loss and every tensor after it must agree to 1e-4, or it exits 1: the two
// sides provably time the same computation; the difference after every timed step is
// reported. Built only where libtorch-dev is found.
//
// nnscope-bench-libtorch --model FILE --input-shape N,C,H,W [--threads N] [--runs N]
// [--json]: a model file (bench_model.h) in nnscope's interpreter and in LibTorch's own
// TorchScript runtime (torch::jit::load), the same file, input and labels. The two sides'
// runs alternate (bench::interleaved_medians); both set gradients to None before a step
// (LibTorch 1.13's C++ zero_grad() would zero them in place, extra work nnscope skips).
// Before the timing, one training step on each side from the file's state: its loss must
// agree to 1e-4 and every parameter and buffer after it to 10% of the tensor's scale, or
// it exits 1 (a wrong gradient is off by its whole size). The bound is loose because
// float32 gradients of a fresh ResNet-18 are themselves that uncertain: PyTorch's float32
// gradient differs from its float64 one by 8.8% of layer4.0.conv1.weight's scale on this
// benchmark's first step (exactness is tests/cli/torch_training.py's job, in float64). The
// difference after all the timed steps is reported as a figure: it grows along the
// trajectory (LibTorch against itself, 1 thread against 2: 7% after 14 steps).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include <map>

#include <torch/script.h>

#include "autograd.h"
#include "bench_cases.h"
#include "bench_model.h"
#include "functional.h"
#include "model_spec.h"
#include "optim/optimizer.h"
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

// The largest difference between nnscope's tensors and LibTorch's of the same names,
// relative to each tensor's scale; `worst` names where it is.
double state_difference(const nnscope::OrderedDict<nnscope::Tensor>& mine,
                        const std::map<std::string, torch::Tensor>& theirs, std::string& worst) {
    double most = 0;
    for (const auto& [name, t] : mine) {
        auto it = theirs.find(name);
        if (it == theirs.end() || !t.defined()) continue;
        torch::Tensor a = to_torch(t.to(nnscope::Device::cpu())).to(torch::kFloat64);
        torch::Tensor b = it->second.to(torch::kFloat64);
        if (a.sizes() != b.sizes()) {
            worst = name + " (shapes differ)";
            return INFINITY;
        }
        if (!b.numel()) continue;
        const double scale = b.abs().max().item<double>() + 1e-12;
        const double d = (a - b).abs().max().item<double>() / scale;
        if (d > most) most = d, worst = name;
    }
    return most;
}

// One reference case on both sides, built from the same weights (nnscope's spec model and
// Generator(1), copied into torch::nn) and inputs.
struct MlpSides {
    nnscope::ModulePtr model;
    nnscope::Tensor x, y;
    std::unique_ptr<nnscope::Optimizer> opt;
    torch::nn::Sequential torch_model{nullptr};
    torch::Tensor tx, ty;
    std::unique_ptr<torch::optim::SGD> torch_opt;

    explicit MlpSides(const Case& c) {
        model = nnscope::parse_model_spec(nnscope::bench::spec_json(c), "bench").root;
        nnscope::Generator gen(1);
        x = nnscope::randn({c.batch, c.in}, gen);
        y = nnscope::randn({c.batch, c.out}, gen);
        opt = nnscope::make_optimizer("sgd:lr=0.01,momentum=0.9", model->named_parameters());
        tx = to_torch(x);
        ty = to_torch(y);
        torch_model = torch::nn::Sequential(
            torch::nn::Linear(c.in, c.hidden), torch::nn::BatchNorm1d(c.hidden), torch::nn::ReLU(),
            torch::nn::Linear(c.hidden, c.hidden), torch::nn::BatchNorm1d(c.hidden),
            torch::nn::ReLU(), torch::nn::Linear(c.hidden, c.out));
        torch::NoGradGuard no_grad;
        auto params = torch_model->named_parameters();
        for (auto& [name, t] : model->named_parameters()) params[name].copy_(to_torch(t));
        torch_opt = std::make_unique<torch::optim::SGD>(
            torch_model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    }
    void forward(bool train) {
        model->train(train);
        nnscope::NoGradGuard no_grad;
        (void)model->forward(x).sum().item();
    }
    void torch_forward(bool train) {
        torch_model->train(train);
        torch::NoGradGuard no_grad;
        (void)torch_model->forward(tx).sum().item<float>();
    }
    double step() {
        model->train();
        opt->zero_grad(true);
        nnscope::Tensor loss = nnscope::F::mse_loss(model->forward(x), y);
        loss.backward();
        opt->step();
        return loss.item();
    }
    double torch_step() {
        torch_model->train();
        for (auto& p : torch_model->parameters()) p.mutable_grad().reset(); // None, as nnscope's
        torch::Tensor loss = torch::mse_loss(torch_model->forward(tx), ty);
        loss.backward();
        torch_opt->step();
        return loss.item<double>();
    }
    // The largest difference of a parameter or buffer, relative to the tensor's scale.
    double state_difference() const {
        std::map<std::string, torch::Tensor> theirs;
        for (const auto& p : torch_model->named_parameters()) theirs[p.key()] = p.value();
        for (const auto& b : torch_model->named_buffers()) theirs[b.key()] = b.value();
        std::string worst;
        return ::state_difference(model->state_dict().tensors, theirs, worst);
    }
};

// LibTorch's side of bench_model.h: the file through torch::jit::load.
class TorchModel {
  public:
    TorchModel(const std::string& path, const nnscope::Tensor& x, const nnscope::Tensor& labels)
        : m_module(torch::jit::load(path)), m_x(to_torch(x)) {
        const nnscope::Tensor l = labels.contiguous();
        m_labels =
            torch::from_blob(const_cast<void*>(l.data_ptr()), {l.numel()}, torch::kInt64).clone();
        for (const auto& p : m_module.parameters()) m_params.push_back(p);
        m_opt = std::make_unique<torch::optim::SGD>(m_params,
                                                    torch::optim::SGDOptions(0.01).momentum(0.9));
    }
    void eval_forward() {
        m_module.eval();
        torch::NoGradGuard no_grad;
        (void)m_module.forward({m_x}).toTensor().sum().item<float>();
    }
    void train_forward() {
        m_module.train();
        torch::NoGradGuard no_grad;
        (void)m_module.forward({m_x}).toTensor().sum().item<float>();
    }
    double train_step() {
        m_module.train();
        for (auto& p : m_params) p.mutable_grad().reset(); // set to None, as nnscope does
        torch::Tensor loss =
            torch::nn::functional::cross_entropy(m_module.forward({m_x}).toTensor(), m_labels);
        loss.backward();
        m_opt->step();
        return loss.item<double>();
    }
    torch::jit::Module& module() { return m_module; }

  private:
    torch::jit::Module m_module;
    torch::Tensor m_x, m_labels;
    std::vector<torch::Tensor> m_params;
    std::unique_ptr<torch::optim::SGD> m_opt;
};

// The largest difference between the two sides' tensors, relative to each tensor's scale.
double max_state_difference(nnscope::bench::NnscopeModel& n, TorchModel& t, std::string& worst) {
    std::map<std::string, torch::Tensor> theirs;
    for (const auto& p : t.module().named_parameters()) theirs[p.name] = p.value;
    for (const auto& b : t.module().named_buffers()) theirs[b.name] = b.value;
    return state_difference(n.state(), theirs, worst);
}

int model_main(const std::string& path, const std::string& shape_text, int threads, int runs,
               bool as_json) {
    const nnscope::Shape shape = nnscope::bench::parse_shape(shape_text);
    nnscope::bench::NnscopeModel n(path, shape, nnscope::Device::cpu());
    TorchModel t(path, n.input(), n.labels());
    using nnscope::bench::interleaved_medians;
    const int warmup = 2;
    const double n_first = n.train_step(), t_first = t.train_step();
    std::string first_worst, worst;
    const double first_diff = max_state_difference(n, t, first_worst);
    std::vector<double> eval =
        interleaved_medians({[&] { n.eval_forward(); }, [&] { t.eval_forward(); }}, warmup, runs);
    std::vector<double> train =
        interleaved_medians({[&] { n.train_forward(); }, [&] { t.train_forward(); }}, warmup, runs);
    std::vector<double> step = interleaved_medians(
        {[&] { (void)n.train_step(); }, [&] { (void)t.train_step(); }}, warmup, runs);
    const double state_diff = max_state_difference(n, t, worst);
    const bool same_loss = std::fabs(n_first - t_first) <= 1e-4 * std::max(1.0, std::fabs(t_first));
    const bool same_state = first_diff <= 0.1;
    nlohmann::json j = {{"case", "model"},
                        {"file", path},
                        {"input_shape", shape},
                        {"threads", threads},
                        {"runs", runs},
                        {"eval_forward_ms", eval[0]},
                        {"train_forward_ms", train[0]},
                        {"train_step_ms", step[0]},
                        {"libtorch_eval_forward_ms", eval[1]},
                        {"libtorch_train_forward_ms", train[1]},
                        {"libtorch_train_step_ms", step[1]},
                        {"ratio_eval_forward", eval[0] / eval[1]},
                        {"ratio_train_forward", train[0] / train[1]},
                        {"ratio_train_step", step[0] / step[1]},
                        {"first_loss", {{"nnscope", n_first}, {"libtorch", t_first}}},
                        {"first_step_difference", first_diff},
                        {"first_step_difference_at", first_worst},
                        {"final_state_difference", state_diff},
                        {"final_state_difference_at", worst},
                        {"libtorch_version", TORCH_VERSION}};
    if (as_json) {
        std::cout << j.dump() << "\n";
    } else {
        std::printf("%s at %s, %d threads, median of %d (LibTorch %s)\n", path.c_str(),
                    shape_text.c_str(), threads, runs, TORCH_VERSION);
        std::printf("%-14s %10s %10s %8s\n", "figure", "nnscope", "LibTorch", "ratio");
        const char* names[] = {"eval_forward", "train_forward", "train_step"};
        const std::vector<double>* figs[] = {&eval, &train, &step};
        for (int k = 0; k < 3; ++k)
            std::printf("%-14s %10.2f %10.2f %8.3f\n", names[k], (*figs[k])[0], (*figs[k])[1],
                        (*figs[k])[0] / (*figs[k])[1]);
        std::printf("first loss: nnscope %.6f, LibTorch %.6f%s\n", n_first, t_first,
                    same_loss ? "" : "  MISMATCH");
        std::printf(
            "after the first training step: largest difference %.3g of a tensor's scale (%s)%s\n",
            first_diff, first_worst.c_str(), same_state ? "" : "  MISMATCH");
        std::printf("after %d training steps each: %.3g (%s)\n", 1 + warmup + runs, state_diff,
                    worst.c_str());
    }
    return same_loss && same_state ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    bool as_json = false;
    int threads = 1, runs = 0;
    std::string case_list = "small,large", model, input_shape;
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
        else if (a == "--model")
            model = value();
        else if (a == "--input-shape")
            input_shape = value();
        else {
            std::fprintf(stderr, "error: unknown option '%s'\n", a.c_str());
            return 2;
        }
    }
    nnscope::set_cpu_threads(threads);
    torch::set_num_threads(threads);
    if (!model.empty()) {
        try {
            return model_main(model, input_shape, threads, runs > 0 ? runs : 10, as_json);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 2;
        }
    }
    int status = 0;
    if (!as_json)
        std::printf("%-6s %-14s %10s %10s %8s %10s %10s\n", "case", "figure", "nnscope", "LibTorch",
                    "ratio", "roof", "vs roof");
    for (Case c : nnscope::bench::select_cases(case_list)) {
        if (runs > 0) c.runs = runs;
        const int warmup = runs > 0 ? 1 : 5;
        MlpSides sides(c);
        // The first step from the same weights: losses and every tensor after it must agree.
        const double n_first = sides.step(), t_first = sides.torch_step();
        const double first_diff = sides.state_difference();
        using nnscope::bench::interleaved_medians;
        const std::vector<double> train = interleaved_medians(
            {[&] { sides.forward(true); }, [&] { sides.torch_forward(true); }}, warmup, c.runs);
        const std::vector<double> eval = interleaved_medians(
            {[&] { sides.forward(false); }, [&] { sides.torch_forward(false); }}, warmup, c.runs);
        const std::vector<double> step = interleaved_medians(
            {[&] { (void)sides.step(); }, [&] { (void)sides.torch_step(); }}, warmup, c.runs);
        const double final_diff = sides.state_difference();
        Figures r = nnscope::bench::run_roof(c, warmup);
        const bool same =
            std::fabs(n_first - t_first) <= 1e-4 * std::max(1.0, std::fabs(t_first)) &&
            first_diff <= 1e-4;
        if (!same) status = 1;
        Figures n;
        n.train_forward_ms = train[0], n.eval_forward_ms = eval[0], n.train_step_ms = step[0];
        struct Row {
            const char* figure;
            double nn, lt, roof;
        } rows[] = {{"train_forward", train[0], train[1], r.train_forward_ms},
                    {"eval_forward", eval[0], eval[1], r.eval_forward_ms},
                    {"train_step", step[0], step[1], r.train_step_ms}};
        if (as_json) {
            nlohmann::json j = nnscope::bench::to_json(c, "cpu", n);
            j["threads"] = threads;
            j["first_loss"] = {{"nnscope", n_first}, {"libtorch", t_first}};
            j["first_step_difference"] = first_diff;
            j["final_state_difference"] = final_diff;
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
            std::printf("%-6s first step: loss nnscope %.6f, LibTorch %.6f; state differs by %.3g "
                        "of scale%s; "
                        "after every timed step by %.3g\n",
                        c.name.c_str(), n_first, t_first, first_diff, same ? "" : "  MISMATCH",
                        final_diff);
        }
    }
    return status;
}
