// loaded_model.cpp: the one-line summary of a model's modules that cannot run.
#include "loaded_model.h"

namespace nnscope {

std::string not_runnable_summary(const std::vector<NotRunnable>& modules) {
    if (modules.empty()) return {};
    const NotRunnable& first = modules.front();
    std::string out = (first.module.empty() ? "the model" : first.module) +
                      (first.type.empty() ? "" : " (" + first.type + ")") + ": " + first.reason;
    if (modules.size() > 1)
        out += "; and " + std::to_string(modules.size() - 1) + " more module" +
               (modules.size() > 2 ? "s" : "") + " (nnscope-cli inspect lists each)";
    return out;
}

} // namespace nnscope
