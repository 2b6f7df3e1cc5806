// device.cpp: device names and the process-wide registry of backends.
#include "device.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "backend.h"
#include "errors.h"

namespace nnscope {

std::shared_ptr<Backend> make_cpu_backend(); // cpu_backend.cpp

Device Device::parse(const std::string& text) {
    auto fail = [&]() -> Device {
        throw ValueError("Expected one of cpu, cuda, sim device type at start of device string: " +
                         text);
    };
    std::string type = text, index;
    if (auto colon = text.find(':'); colon != std::string::npos) {
        type = text.substr(0, colon);
        index = text.substr(colon + 1);
        if (index.empty() || index.size() > 4 ||
            index.find_first_not_of("0123456789") != std::string::npos)
            throw ValueError("Invalid device string: '" + text + "'");
    }
    Device d;
    if (type == "cpu") {
        if (!index.empty() && index != "0")
            throw ValueError("Invalid device string: '" + text + "'");
        return d;
    }
    if (type == "cuda")
        d.kind = DeviceKind::CUDA;
    else if (type == "sim")
        d.kind = DeviceKind::Sim;
    else
        return fail();
    d.index = index.empty() ? 0 : std::stoi(index);
    return d;
}

std::string Device::str() const {
    switch (kind) {
    case DeviceKind::CPU:
        return "cpu";
    case DeviceKind::CUDA:
        return "cuda:" + std::to_string(index);
    case DeviceKind::Sim:
        return "sim:" + std::to_string(index);
    }
    return "?";
}

std::string format_bytes(uint64_t bytes) {
    // c10's format_size (CUDACachingAllocator.cpp), boundaries included.
    char buf[48];
    if (bytes <= 1024) return std::to_string(bytes) + " bytes";
    if (bytes <= (uint64_t(1) << 20))
        std::snprintf(buf, sizeof buf, "%.2f KiB", double(bytes) / 1024.0);
    else if (bytes <= (uint64_t(1) << 30))
        std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / 1048576.0);
    else
        std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / 1073741824.0);
    return buf;
}

std::string out_of_memory_message(const Device& device, uint64_t requested, uint64_t total,
                                  uint64_t free, const MemoryStats& stats) {
    if (device.is_cpu())
        return "DefaultCPUAllocator: not enough memory: you tried to allocate " +
               std::to_string(requested) + " bytes.";
    const std::string who =
        device.kind == DeviceKind::CUDA ? "GPU " + std::to_string(device.index) : device.str();
    const std::string what = device.kind == DeviceKind::CUDA ? "CUDA" : device.str();
    return what + " out of memory. Tried to allocate " + format_bytes(requested) + ". " + who +
           " has a total capacity of " + format_bytes(total) + " of which " + format_bytes(free) +
           " is free. Of the allocated memory " + format_bytes(stats.in_use) +
           " is allocated by nnscope, and " +
           format_bytes(stats.reserved > stats.in_use ? stats.reserved - stats.in_use : 0) +
           " is reserved by nnscope but unallocated.";
}

namespace {
struct Registry {
    std::mutex mutex;
    std::vector<std::shared_ptr<Backend>> backends;
    std::vector<DeviceInfo> unavailable;
    Registry() { backends.push_back(make_cpu_backend()); }
};
Registry& registry() {
    static Registry r;
    return r;
}
} // namespace

void register_backend(std::shared_ptr<Backend> backend) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (auto& b : r.backends)
        if (b->device() == backend->device()) {
            b = std::move(backend);
            return;
        }
    r.backends.push_back(std::move(backend));
}

void register_unavailable_device(const std::string& name, const std::string& reason,
                                 bool simulated) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    r.unavailable.push_back({name, false, simulated, reason});
}

Backend& backend_for(const Device& device) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (auto& b : r.backends)
        if (b->device() == device) return *b;
    for (auto& u : r.unavailable)
        if (u.name == device.str())
            throw DeviceError("device " + u.name + " is not available: " + u.reason);
    throw DeviceError("device " + device.str() + " is not available: no such device");
}

std::vector<DeviceInfo> list_devices() {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<DeviceInfo> out;
    for (auto& b : r.backends) out.push_back({b->device().str(), true, b->simulated(), {}});
    for (auto& u : r.unavailable) out.push_back(u);
    // cpu, then cuda:N, then sim:N, each by index.
    auto rank = [](const DeviceInfo& d) {
        Device dev = Device::parse(d.name);
        return std::pair<int, int>(int(dev.kind), dev.index);
    };
    std::stable_sort(out.begin(), out.end(),
                     [&](const DeviceInfo& a, const DeviceInfo& b) { return rank(a) < rank(b); });
    return out;
}

} // namespace nnscope
