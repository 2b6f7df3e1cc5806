// show.cpp: `nnscope-cli show FILE TENSOR`: one tensor as PyTorch prints it, or as JSON.
#include <iostream>

#include "common.h"
#include "errors.h"

namespace nnscope::cli {

int cmd_show(Args args) {
    size_t next = 0;
    Document doc = open_source(args, next, "FILE");
    if (next >= args.positional.size())
        throw UsageError("missing TENSOR (a dotted name, see: nnscope-cli inspect)");
    const std::string name = args.positional[next++];
    if (next < args.positional.size()) throw UsageError("show takes one FILE and one TENSOR");
    for (const auto& e : doc.root->tensor_entries()) {
        if (e.name != name) continue;
        if (args.json) {
            json j;
            j["name"] = e.name;
            j["dtype"] = std::string(dtype_name(e.tensor.dtype()));
            j["shape"] = shape_json(e.tensor.shape());
            j["values"] = tensor_values_json(e.tensor);
            std::cout << j.dump() << "\n";
        } else {
            std::cout << e.tensor.repr() << "\n";
        }
        return k_exit_ok;
    }
    throw FormatError(doc.path,
                      "no tensor named '" + name + "' (run 'nnscope-cli inspect' to list them)");
}

} // namespace nnscope::cli
