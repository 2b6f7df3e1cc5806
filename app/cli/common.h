// common.h: what the nnscope-cli commands share: argument handling, opening a FILE or an
// example, JSON helpers, and the exit-code contract (0 ok, 1 usage, 2 bad input).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "document.h"

namespace nnscope::cli {

using json = nlohmann::ordered_json;

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_usage = 1;
inline constexpr int k_exit_failed = 2;

// A usage mistake: printed as "error: ..." with a hint, exit code 1.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Command-line arguments after the command name: flags (--json, --example NAME) and
// positionals, in order.
struct Args {
    std::vector<std::string> positional;
    bool json = false;
    std::vector<std::string> examples; // --example NAME, in order
    std::string entry;                 // --entry NAME: a .pt checkpoint's entry

    // Parses `argv`; `flags` lists the boolean flags the command accepts besides --json.
    static Args parse(const std::vector<std::string>& argv, bool allow_json = true);
};

// The next model source: an --example or the next positional FILE.
Document open_source(Args& args, size_t& next_positional, const char* what);

json tensor_values_json(const Tensor& t);
json shape_json(const Shape& shape);
std::string human_bytes(uint64_t bytes);
std::string group_digits(int64_t n);

int cmd_inspect(Args args);
int cmd_show(Args args);
int cmd_convert(Args args);
int cmd_diff(Args args);
int cmd_examples(Args args);
int cmd_run(const std::vector<std::string>& argv);
int cmd_devices(Args args);
int cmd_bench(const std::vector<std::string>& argv);
int cmd_ops(Args args, bool markdown);

} // namespace nnscope::cli
