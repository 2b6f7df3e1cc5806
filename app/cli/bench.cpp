// bench.cpp: `nnscope-cli bench [--json] [--threads N] [--device D] [--cases small,large]
// [--roof] [--runs N]`: the reference benchmark (app/bench/bench_cases.h), one line or JSON object
// per case; --roof adds the OpenBLAS matrix products alone at the same shapes. On
// --device cuda:0 it is the GPU benchmark. nnscope-bench-libtorch runs the same cases
// side by side with LibTorch.
#include <iostream>

#include "../bench/bench_cases.h"
#include "common.h"

namespace nnscope::cli {

int cmd_bench(const std::vector<std::string>& argv) {
    bool as_json = false, roof = false;
    int threads = 0, runs = 0;
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
        else
            throw UsageError("unknown option '" + argv[i] + "'");
    }
    set_cpu_threads(threads);
    const Device dev = Device::parse(device);
    for (bench::Case c : bench::select_cases(case_list)) {
        if (runs > 0) c.runs = runs;
        bench::Figures f = bench::run_nnscope(c, dev);
        json j = bench::to_json(c, device, f);
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
        std::cout << "\n";
    }
    return k_exit_ok;
}

} // namespace nnscope::cli
