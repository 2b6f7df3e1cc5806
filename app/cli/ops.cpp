// ops.cpp: `nnscope-cli ops`: the operator table TorchScript code runs on (core/script/ops.h):
// each PyTorch operator, its schema with defaults, and what it runs in nnscope's core.
// --markdown prints the table the README keeps; --json one object per operator.
#include <iostream>

#include "common.h"
#include "ops.h"

namespace nnscope::cli {

int cmd_ops(Args args, bool markdown) {
    if (!args.positional.empty())
        throw UsageError("ops takes no arguments but --json or --markdown");
    const auto ops = script::all_ops();
    if (args.json) {
        json list = json::array();
        for (const auto* op : ops)
            list.push_back({{"name", op->name}, {"schema", op->schema}, {"runs", op->maps_to}});
        std::cout << list.dump(2) << "\n";
        return k_exit_ok;
    }
    if (markdown)
        std::cout << "| operator | arguments (defaults) | runs in nnscope |\n|---|---|---|\n";
    for (const auto* op : ops) {
        const std::string args_text = op->schema.substr(op->schema.find('('));
        if (markdown)
            std::cout << "| `" << op->name << "` | `" << args_text << "` | " << op->maps_to
                      << " |\n";
        else
            std::cout << op->name << args_text << "\n    " << op->maps_to << "\n";
    }
    if (!markdown) std::cout << "\n" << ops.size() << " operators\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
