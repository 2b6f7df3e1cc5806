// model_facts.cpp: totals, load reports, lookups and resets shared by the window and CLI.
#include "model_facts.h"

#include <algorithm>
#include <unordered_set>

#include "autograd.h"
#include "layers/layers.h"

namespace nnscope {

TensorTotals tensor_totals(Module& root) {
    TensorTotals t;
    std::unordered_set<const TensorImpl*> seen;
    for (const auto& e : root.tensor_entries()) {
        if (!e.tensor.defined() || !seen.insert(e.tensor.impl()).second) continue;
        KindTotals& k = e.kind == TensorKind::Parameter ? t.parameters
                        : e.kind == TensorKind::Buffer  ? t.buffers
                                                        : t.attributes;
        const uint64_t bytes = e.tensor.nbytes();
        ++k.tensors;
        k.elements += e.tensor.numel();
        k.bytes += bytes;
        t.bytes += bytes;
        t.by_device[e.tensor.device().str()] += bytes;
    }
    return t;
}

std::string load_result_text(const LoadResult& r) {
    if (r.missing_keys.empty() && r.unexpected_keys.empty())
        return "<All keys matched successfully>";
    auto list = [](const std::vector<std::string>& v) {
        std::string out = "[";
        for (size_t i = 0; i < v.size(); ++i) out += (i ? ", '" : "'") + v[i] + "'";
        return out + "]";
    };
    return "_IncompatibleKeys(missing_keys=" + list(r.missing_keys) +
           ", unexpected_keys=" + list(r.unexpected_keys) + ")";
}

std::optional<TensorEntry> find_tensor_entry(Module& root, const std::string& name) {
    for (auto& e : root.tensor_entries())
        if (e.name == name) return e;
    return std::nullopt;
}

int reset_running_stats(Module& root) {
    NoGradGuard no_grad;
    int n = 0;
    for (auto& [name, m] : root.named_modules())
        if (auto* bn = dynamic_cast<BatchNorm*>(m.get()); bn && bn->track_running_stats) {
            bn->attr("running_mean").zero_();
            bn->attr("running_var").fill_(Scalar(1.0));
            bn->attr("num_batches_tracked").zero_();
            ++n;
        }
    return n;
}

std::vector<NotRunnable> not_runnable_modules(const Document& doc) {
    if (!doc.root || doc.root->runnable()) return {};
    if (!doc.not_runnable.empty()) return doc.not_runnable;
    // A tree rebuilt from a state dict: one reason for all of it.
    if (doc.root->type_name().empty())
        return {{"", "", "a state dict holds tensors, not modules: the module types are unknown"}};
    std::vector<NotRunnable> out;
    for (auto& [name, m] : doc.root->named_modules()) {
        if (m->has_forward() && m->input_count() > 1 && name.empty()) {
            out.push_back({name, m->type_name(),
                           "its forward takes " + std::to_string(m->input_count()) +
                               " inputs (tgt, memory); nnscope runs a model on one input"});
            continue;
        }
        if (m->has_forward()) continue;
        if (m->type_name().empty())
            out.push_back(
                {name, "",
                 "a state dict holds tensors, not modules: the module's type is unknown"});
        else if (doc.format == "spec")
            out.push_back({name, m->type_name(), "declared in the spec without forward code"});
        else
            out.push_back({name, m->type_name(), "no forward code for " + m->type_name()});
    }
    return out;
}

std::string why_not_runnable(Module& root) {
    if (root.runnable()) return {};
    // Types in the order first met, each with the modules of that type.
    std::vector<std::pair<std::string, std::vector<std::string>>> by_type;
    for (auto& [name, m] : root.named_modules()) {
        if (m->has_forward()) continue;
        const std::string type = m->type_name().empty() ? "Module" : m->type_name();
        auto it = std::find_if(by_type.begin(), by_type.end(),
                               [&](const auto& t) { return t.first == type; });
        if (it == by_type.end()) it = by_type.insert(by_type.end(), {type, {}});
        it->second.push_back(name.empty() ? "the model" : name);
    }
    if (by_type.empty()) return "a module it calls cannot run";
    std::string out = "no forward code for ";
    for (size_t t = 0; t < by_type.size(); ++t) {
        const auto& [type, names] = by_type[t];
        out += (t ? ", " : "") + type + " (";
        for (size_t i = 0; i < names.size() && i < 2; ++i) out += (i ? ", " : "") + names[i];
        if (names.size() > 2) out += " and " + std::to_string(names.size() - 2) + " more";
        out += ")";
    }
    return out;
}

} // namespace nnscope
