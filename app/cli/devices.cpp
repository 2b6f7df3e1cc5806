// devices.cpp: `nnscope-cli devices [--json]`: every device, whether it is usable and, when
// not, why (e.g. CUDA's own error text), and whether CUDA support was compiled in.
#include <iostream>

#include "backend.h"
#include "common.h"
#include "gpu.h"

namespace nnscope::cli {

int cmd_devices(Args args) {
    if (!args.positional.empty()) throw UsageError("devices takes no arguments");
    json list = json::array();
    for (const auto& d : list_devices()) {
        json j = {{"name", d.name}, {"available", d.available}};
        if (!d.reason.empty()) j["reason"] = d.reason;
        if (d.simulated) j["simulated"] = true;
        if (d.available) {
            const MemoryStats m = backend_for(Device::parse(d.name)).memory_stats();
            j["bytes_in_use"] = m.in_use;
            j["bytes_reserved"] = m.reserved;
            j["peak_bytes_in_use"] = m.peak_in_use;
            j["device_allocations"] = m.device_allocations;
            j["cache_hits"] = m.cache_hits;
        }
        list.push_back(j);
    }
    if (args.json) {
        std::cout << json{{"cuda_compiled", gpu::cuda_compiled()}, {"devices", list}}.dump(2)
                  << "\n";
        return k_exit_ok;
    }
    for (const auto& d : list) {
        std::cout << d["name"].get<std::string>() << "  "
                  << (d["available"].get<bool>() ? "available" : "not available");
        if (d.contains("simulated"))
            std::cout << "  (simulated: host memory standing in for a GPU)";
        if (d.contains("reason")) std::cout << ": " << d["reason"].get<std::string>();
        std::cout << "\n";
    }
    std::cout << "CUDA support " << (gpu::cuda_compiled() ? "compiled in" : "not compiled in")
              << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
