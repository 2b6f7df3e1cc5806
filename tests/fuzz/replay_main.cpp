// replay_main.cpp: runs a fuzz target's LLVMFuzzerTestOneInput over files, without
// libFuzzer, so the normal and sanitizer builds replay every seed and every input a fuzz
// run found (tests/fuzz/regressions). Arguments: files or folders (not recursive).
// Files whose name does not suit the target (by the suffix list in NNSCOPE_REPLAY_SUFFIXES)
// are skipped, so a fixtures folder can serve several targets.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

static bool suits(const fs::path& p) {
    std::string suffixes = NNSCOPE_REPLAY_SUFFIXES, name = p.filename().string();
    if (suffixes.empty()) return true;
    size_t start = 0;
    while (start <= suffixes.size()) {
        size_t end = suffixes.find(',', start);
        std::string s = suffixes.substr(start, end == std::string::npos ? end : end - start);
        if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
            return true;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return false;
}

int main(int argc, char** argv) {
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        fs::path p = argv[i];
        if (fs::is_directory(p)) {
            for (auto& e : fs::directory_iterator(p))
                if (e.is_regular_file() && suits(e.path())) files.push_back(e.path());
        } else if (fs::exists(p)) {
            files.push_back(p);
        }
    }
    for (const fs::path& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("replayed %zu inputs\n", files.size());
    return files.empty() ? 1 : 0;
}
