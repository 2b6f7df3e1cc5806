// convert.cpp: `nnscope-cli convert IN OUT`: writes IN's state dict in OUT's format.
// The write is atomic, so a failure never leaves a partly written OUT.
#include <iostream>

#include "common.h"

namespace nnscope::cli {

int cmd_convert(Args args) {
    size_t next = 0;
    Document doc = open_source(args, next, "IN");
    if (next >= args.positional.size()) throw UsageError("missing OUT");
    const std::string out = args.positional[next++];
    if (next < args.positional.size()) throw UsageError("convert takes IN and OUT");
    save_document_state(doc, out);
    auto sd = doc.root->state_dict();
    std::cerr << "wrote " << sd.tensors.size() << " tensors to " << out << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
