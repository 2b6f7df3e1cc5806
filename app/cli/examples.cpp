// examples.cpp: `nnscope-cli examples`: the built-in examples with their titles.
#include <iostream>

#include "common.h"
#include "examples.h"
#include "model_spec.h"

namespace nnscope::cli {

int cmd_examples(Args args) {
    if (!args.positional.empty()) throw UsageError("examples takes no arguments");
    json list = json::array();
    for (const auto& ex : builtin_examples()) {
        ModelSpec spec = parse_model_spec(ex.json, "example:" + ex.name);
        list.push_back(
            {{"name", ex.name}, {"title", spec.title}, {"default", ex.name == k_default_example}});
    }
    if (args.json) {
        std::cout << list.dump(2) << "\n";
        return k_exit_ok;
    }
    for (const auto& e : list)
        std::cout << e["name"].get<std::string>() << (e["default"].get<bool>() ? " (default)" : "")
                  << "\n    " << e["title"].get<std::string>() << "\n";
    std::cout << "\nuse: nnscope-cli inspect --example NAME\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
