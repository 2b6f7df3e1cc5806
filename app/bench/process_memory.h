// process_memory.h: this process's resident memory, from /proc/self/status (Linux):
// VmRSS now and VmHWM, the peak since start (or since reset_peak_rss()).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace nnscope::bench {

inline uint64_t status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size()));
    return 0;
}
inline uint64_t rss_bytes() {
    return status_kib("VmRSS") * 1024;
}
inline uint64_t peak_rss_bytes() {
    return status_kib("VmHWM") * 1024;
}
// Resets VmHWM to the current RSS (writing "5" to /proc/self/clear_refs).
inline void reset_peak_rss() {
    std::ofstream("/proc/self/clear_refs") << "5";
}

} // namespace nnscope::bench
