// device.h: where a tensor lives ("cpu", "cuda:0", "sim:0") and the registry of backends.
//
// The CPU backend is always registered. The GPU part (gpu/) registers the CUDA backend and
// the simulated device at start-up when it is built; the registry then answers which
// devices exist, which are usable, and why not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nnscope {

class Backend;

enum class DeviceKind { CPU, CUDA, Sim };

struct Device {
    DeviceKind kind = DeviceKind::CPU;
    int index = -1; // -1 for the CPU

    static Device cpu() { return {}; }
    // "cpu", "cuda", "cuda:1", "sim:0"; throws ValueError on anything else.
    static Device parse(const std::string& text);
    std::string str() const;
    bool is_cpu() const { return kind == DeviceKind::CPU; }
    // Spelled out (not "= default") so the CUDA compiler, in C++17 mode, can read this header.
    bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
};

struct DeviceInfo {
    std::string name; // "cpu", "cuda:0", "sim:0"
    bool available = false;
    bool simulated = false;
    std::string reason; // why not available
};

// Registers a backend for its device. Later registrations replace earlier ones.
void register_backend(std::shared_ptr<Backend> backend);
// Records a device that exists in principle but cannot be used, and why.
void register_unavailable_device(const std::string& name, const std::string& reason,
                                 bool simulated = false);
// The backend for a device; throws DeviceError when the device is unknown or unusable.
Backend& backend_for(const Device& device);
std::vector<DeviceInfo> list_devices();
// Bytes as PyTorch prints them: "1024 bytes", "1.50 KiB", "20.00 MiB", "2.00 GiB".
std::string format_bytes(uint64_t bytes);
struct MemoryStats;
// The one wording of an allocation that failed, for every device: PyTorch's for the CPU
// ("DefaultCPUAllocator: not enough memory: you tried to allocate N bytes.") and its CUDA
// wording for devices ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total
// capacity of 79.19 GiB of which 1.06 GiB is free. ..."), "sim:0" naming the simulated one.
std::string out_of_memory_message(const Device& device, uint64_t requested, uint64_t total,
                                  uint64_t free, const MemoryStats& stats);

// Threads the CPU backend uses (OpenBLAS matrix products, OpenMP loops); 0 keeps the default
// (every core).
void set_cpu_threads(int threads);
// Threads the CPU backend uses now.
int cpu_threads();

} // namespace nnscope
