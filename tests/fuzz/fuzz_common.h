// fuzz_common.h: what every libFuzzer target shares. An input becomes a file in a private
// folder under /dev/shm (the readers take paths, as users give them); the call under test
// may throw nnscope's own errors (a clear one-line refusal is the expected outcome for bad
// input) and nothing else: any other exception aborts, so the fuzzer reports it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>

#include "errors.h"

namespace nnscope::fuzz {

inline const std::filesystem::path& work_dir() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                         ? "/dev/shm"
                                         : std::filesystem::temp_directory_path();
        std::filesystem::path d = base / ("nnscope-fuzz-" + std::to_string(getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
    std::string path = (work_dir() / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    return path;
}

// Runs `fn`; nnscope::Error is the expected refusal, anything else is a finding.
template <class Fn> void expect_clean_refusal(Fn&& fn) {
    try {
        fn();
    } catch (const nnscope::Error& e) {
        static const bool verbose = std::getenv("NNSCOPE_FUZZ_VERBOSE") != nullptr;
        if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "finding: std::bad_alloc escaped (a limit is missing)\n");
        std::abort();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "finding: non-nnscope exception escaped: %s\n", e.what());
        std::abort();
    }
}

} // namespace nnscope::fuzz
