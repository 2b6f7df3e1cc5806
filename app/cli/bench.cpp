// bench.cpp: `nnscope-cli bench [--json] [--threads N] [--device D] [--cases small,large]
// [--roof] [--runs N]`: the reference benchmark (app/bench/bench_cases.h), one line or JSON object
// per case; --roof adds the OpenBLAS matrix products alone at the same shapes. On
// --device cuda:0 it is the GPU benchmark. nnscope-bench-libtorch runs the same cases
// side by side with LibTorch. `bench --model FILE --input-shape N,C,H,W [--memory]` times a
// model file instead (app/bench/bench_model.h).
#include <iostream>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>

#include "../bench/bench_cases.h"
#include "../bench/bench_model.h"
#include "../bench/process_memory.h"
#include "common.h"
#include "conv_dnnl.h"
#include "document.h"
#include "examples.h"
#include "model_spec.h"
#include "step_engine.h"

namespace nnscope::cli {

namespace {

// Bytes a training step of the case needs: parameters with their gradients and momentum
// buffers, BatchNorm buffers, the input and target, and every layer's output with its
// gradient.
uint64_t needed_bytes(const bench::Case& c) {
    const uint64_t in = uint64_t(c.in), h = uint64_t(c.hidden), out = uint64_t(c.out),
                   b = uint64_t(c.batch);
    const uint64_t trainable = in * h + h + h * h + h + h * out + out // Linear weights, biases
                               + 2 * 2 * h;                           // BatchNorm weight, bias
    const uint64_t floats = 3 * trainable            // values, gradients, momentum buffers
                            + 2 * 2 * h              // running_mean, running_var
                            + b * (in + out)         // input and target
                            + 2 * b * (6 * h + out); // layer outputs and their gradients
    return 4 * floats + 2 * 8;                       // + num_batches_tracked
}

int soak(int64_t steps, int64_t every, bool as_json) {
    Document doc = open_example("mlp-batchnorm");
    StepEngine engine(doc.root);
    engine.set_optimizer("sgd:lr=0.01,momentum=0.9");
    auto start = std::chrono::steady_clock::now();
    uint64_t first = 0, last = 0;
    for (int64_t s = 1; s <= steps; ++s) {
        engine.step();
        if (s % every == 0 || s == steps) {
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            last = bench::rss_bytes();
            if (!first) first = last;
            json j = {
                {"step", s}, {"rss_mib", double(last) / (1 << 20)}, {"steps_per_s", s / secs}};
            if (as_json)
                std::cout << j.dump() << "\n";
            else
                std::cout << "step " << s << ": " << j["rss_mib"].get<double>() << " MiB resident, "
                          << int64_t(s / secs) << " steps/s\n";
            std::cout.flush();
        }
    }
    // Stable: the resident set at the end within 10% (and 4 MiB) of the first sample.
    const bool stable = last <= first + std::max<uint64_t>(first / 10, 4 << 20);
    if (!as_json)
        std::cout << (stable ? "memory stable" : "memory GREW") << ": " << first / (1 << 20)
                  << " MiB -> " << last / (1 << 20) << " MiB\n";
    return stable ? k_exit_ok : k_exit_failed;
}

int file_bench(const std::string& path, bool as_json) {
    auto median_of_5 = [](const std::function<void()>& f) { return bench::median_ms(f, 1, 5); };
    const double open_ms = median_of_5([&] { (void)open_document(path); });
    const double read_ms = median_of_5([&] {
        std::ifstream in(path, std::ios::binary);
        in.seekg(0, std::ios::end);
        const auto n = std::streamsize(in.tellg());
        std::unique_ptr<char[]> bytes(new char[size_t(n)]); // not zero-filled, as clone()'s
        in.seekg(0);
        in.read(bytes.get(), n);
    });
    const double load_ms = median_of_5([&] {
        Document doc = open_document(path);
        std::vector<Tensor> owned;
        for (const auto& e : doc.root->tensor_entries()) owned.push_back(e.tensor.clone());
    });
    json j = {{"file", path},
              {"open_ms", open_ms},
              {"read_bytes_ms", read_ms},
              {"load_values_ms", load_ms},
              {"load_vs_read", load_ms / read_ms}};
    if (as_json)
        std::cout << j.dump() << "\n";
    else
        std::cout << path << ": open (header) " << open_ms << " ms, read bytes " << read_ms
                  << " ms, load all values " << load_ms << " ms (" << load_ms / read_ms
                  << " x reading)\n";
    return k_exit_ok;
}

// A model file: the three figures, and with `memory` the peak resident memory the first
// three training steps add (after one eval forward pass has read every weight).
int model_bench(const std::string& path, const std::string& shape_text, const std::string& device,
                int runs, bool memory, bool roof, bool as_json) {
    Shape shape;
    try {
        shape = bench::parse_shape(shape_text);
    } catch (const std::exception&) {
        throw UsageError(
            "--input-shape takes positive sizes separated by commas, e.g. 8,3,112,112; got '" +
            shape_text + "'");
    }
    bench::NnscopeModel m(path, shape, Device::parse(device));
    json j = {{"case", "model"},          {"file", path},     {"input_shape", shape},
              {"threads", cpu_threads()}, {"device", device}, {"runs", runs}};
    if (memory) {
        m.eval_forward();           // every weight read, as PyTorch's load reads them
        conv_dnnl::clear_weights(); // no eval-only copies held, as PyTorch holds none
        const uint64_t base = bench::rss_bytes();
        bench::reset_peak_rss();
        for (int i = 0; i < 3; ++i) m.train_step();
        j["tensor_mib"] = double(m.tensor_bytes()) / (1 << 20);
        j["peak_rss_added_mib"] = double(bench::peak_rss_bytes() - base) / (1 << 20);
    }
    j["eval_forward_ms"] = bench::interleaved_medians({[&] { m.eval_forward(); }}, 2, runs)[0];
    j["train_forward_ms"] = bench::interleaved_medians({[&] { m.train_forward(); }}, 2, runs)[0];
    double loss = 0;
    j["train_step_ms"] = bench::interleaved_medians({[&] { loss = m.train_step(); }}, 2, runs)[0];
    j["last_loss"] = loss;
    if (roof) {
        const bench::ConvRoof r = bench::conv_roof(m);
        j["convolutions"] = r.convolutions;
        j["conv_gflop"] = r.gflop;
        j["roof_sgemm_ms"] = r.sgemm_ms;
        j["eval_gflops"] = r.gflop / (j["eval_forward_ms"].get<double>() / 1e3);
        j["roof_gflops"] = r.gflop / (r.sgemm_ms / 1e3);
    }
    if (as_json) {
        std::cout << j.dump() << "\n";
        return k_exit_ok;
    }
    std::cout << path << " at " << shape_text << " (" << device << ", " << cpu_threads()
              << " threads): eval forward " << j["eval_forward_ms"].get<double>()
              << " ms, train forward " << j["train_forward_ms"].get<double>()
              << " ms, training step " << j["train_step_ms"].get<double>() << " ms";
    if (roof)
        std::cout << "; convolutions " << j["conv_gflop"].get<double>()
                  << " GFLOP: eval forward reaches " << j["eval_gflops"].get<double>()
                  << " GFLOP/s, OpenBLAS sgemm on the same products "
                  << j["roof_gflops"].get<double>() << " GFLOP/s";
    if (memory)
        std::cout << "; peak memory added by training steps "
                  << j["peak_rss_added_mib"].get<double>() << " MiB for "
                  << j["tensor_mib"].get<double>() << " MiB of parameters and buffers";
    std::cout << "\n";
    return k_exit_ok;
}

} // namespace

int cmd_bench(const std::vector<std::string>& argv) {
    bool as_json = false, roof = false, memory = false;
    int threads = 0, runs = 0;
    int64_t soak_steps = 0, every = 100'000;
    std::string file, model, input_shape;
    std::string device = "cpu", case_list = "small,large";
    for (size_t i = 0; i < argv.size(); ++i) {
        auto value = [&] {
            if (i + 1 >= argv.size()) throw UsageError(argv[i] + " needs a value");
            return argv[++i];
        };
        if (argv[i] == "--json")
            as_json = true;
        else if (argv[i] == "--roof")
            roof = true;
        else if (argv[i] == "--threads")
            threads = std::stoi(value());
        else if (argv[i] == "--device")
            device = value();
        else if (argv[i] == "--cases")
            case_list = value();
        else if (argv[i] == "--runs")
            runs = std::stoi(value());
        else if (argv[i] == "--memory")
            memory = true;
        else if (argv[i] == "--file")
            file = value();
        else if (argv[i] == "--model")
            model = value();
        else if (argv[i] == "--input-shape")
            input_shape = value();
        else if (argv[i] == "--soak")
            soak_steps = std::stoll(value());
        else if (argv[i] == "--every")
            every = std::max<int64_t>(1, std::stoll(value()));
        else
            throw UsageError("unknown option '" + argv[i] + "'");
    }
    set_cpu_threads(threads);
    if (soak_steps > 0) return soak(soak_steps, every, as_json);
    if (!file.empty()) return file_bench(file, as_json);
    if (!model.empty() || !input_shape.empty()) {
        if (model.empty() || input_shape.empty())
            throw UsageError("--model FILE needs --input-shape N,C,H,W");
        return model_bench(model, input_shape, device, runs > 0 ? runs : 10, memory, roof, as_json);
    }
    const Device dev = Device::parse(device);
    for (bench::Case c : bench::select_cases(case_list)) {
        if (runs > 0) c.runs = runs;
        const uint64_t rss_before = bench::rss_bytes();
        bench::reset_peak_rss();
        bench::Figures f = bench::run_nnscope(c, dev);
        json j = bench::to_json(c, device, f);
        j["runs"] = c.runs;
        j["first_loss"] = f.first_loss; // what the timed step computed, for checking
        if (memory) {
            j["peak_rss_added_mib"] = double(bench::peak_rss_bytes() - rss_before) / (1 << 20);
            j["needed_mib"] = double(needed_bytes(c)) / (1 << 20);
        }
        bench::Figures r;
        if (roof) {
            r = bench::run_roof(c);
            j["roof_forward_ms"] = r.train_forward_ms;
            j["roof_step_ms"] = r.train_step_ms;
        }
        if (as_json) {
            std::cout << j.dump() << "\n";
            continue;
        }
        std::cout << c.name << " (batch " << c.batch << ", " << device << "): train forward "
                  << f.train_forward_ms << " ms, eval forward " << f.eval_forward_ms
                  << " ms, training step " << f.train_step_ms << " ms";
        if (roof)
            std::cout << "; OpenBLAS products alone: forward " << r.train_forward_ms << " ms, step "
                      << r.train_step_ms << " ms";
        if (memory)
            std::cout << "; peak memory added " << j["peak_rss_added_mib"].get<double>()
                      << " MiB for " << j["needed_mib"].get<double>() << " MiB of tensors";
        std::cout << "\n";
    }
    return k_exit_ok;
}

} // namespace nnscope::cli
