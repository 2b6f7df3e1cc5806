// model_facts.h: what the window's status bar, log and actions tell about a model, computed
// once here so the CLI can say the same: tensor totals per kind and per device, PyTorch's
// load_state_dict report, finding a tensor by its dotted name, and BatchNorm's
// reset_running_stats().
#pragma once

#include <map>
#include <optional>
#include <string>

#include "document.h"
#include "module.h"

namespace nnscope {

struct KindTotals {
    int64_t tensors = 0, elements = 0;
    uint64_t bytes = 0;
};
// Every tensor of the tree counted once (a tied parameter once), attributes included.
struct TensorTotals {
    KindTotals parameters, buffers, attributes;
    uint64_t bytes = 0;                        // all of the above
    std::map<std::string, uint64_t> by_device; // "cpu", "sim:0": sums to `bytes`
};
TensorTotals tensor_totals(Module& root);

// PyTorch's repr of a load result: "<All keys matched successfully>" or
// "_IncompatibleKeys(missing_keys=['a'], unexpected_keys=['b'])".
std::string load_result_text(const LoadResult& r);

// The entry of a dotted tensor name ("1.running_mean"), or nullopt.
std::optional<TensorEntry> find_tensor_entry(Module& root, const std::string& name);

// BatchNorm's reset_running_stats() on every BatchNorm that tracks statistics: running
// mean 0, running variance 1, num_batches_tracked 0. Returns how many were reset.
int reset_running_stats(Module& root);

// Why forward() cannot run, naming the modules without forward code by type, e.g.
// "no forward code for ResNet (the model), BasicBlock (layer1.0, layer1.1 and 6 more),
// MaxPool2d (maxpool)"; "" for a runnable model.
std::string why_not_runnable(Module& root);

// Every module that cannot run, and why: the reader's reasons where it has them (whole
// pickled modules: no forward code in a pickle, a class nnscope lacks, a reparametrisation
// hook), else each module without forward code. Empty for a runnable model.
std::vector<NotRunnable> not_runnable_modules(const Document& doc);

} // namespace nnscope
