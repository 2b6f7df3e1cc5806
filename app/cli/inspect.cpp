// inspect.cpp: `nnscope-cli inspect`: the module tree with parameters, buffers (persistent
// or not) and plain attributes told apart, and totals that count buffers too.
#include <iostream>
#include <set>
#include <sstream>

#include "common.h"
#include "model_facts.h"

namespace nnscope::cli {

namespace {

struct Totals {
    int64_t parameters = 0, parameter_elements = 0, buffers = 0, buffer_elements = 0,
            attributes = 0, attribute_elements = 0;
    uint64_t bytes = 0;
};

Totals count(const std::vector<TensorEntry>& entries) {
    Totals t;
    std::set<const TensorImpl*> seen; // shared tensors count once
    for (const auto& e : entries) {
        if (!seen.insert(e.tensor.impl()).second) continue;
        switch (e.kind) {
        case TensorKind::Parameter:
            ++t.parameters;
            t.parameter_elements += e.tensor.numel();
            break;
        case TensorKind::Buffer:
            ++t.buffers;
            t.buffer_elements += e.tensor.numel();
            break;
        case TensorKind::Attribute:
            ++t.attributes;
            t.attribute_elements += e.tensor.numel();
            break;
        }
        t.bytes += e.tensor.nbytes();
    }
    return t;
}

const char* kind_source_name(KindSource k) {
    return k == KindSource::Declared ? "declared" : "inferred";
}

std::string note_for(const TensorEntry& e) {
    if (e.kind == TensorKind::Attribute) return "not registered: not saved, not moved";
    if (e.kind == TensorKind::Buffer && !e.persistent) return "not in state_dict";
    if (e.kind == TensorKind::Parameter && e.tensor.requires_grad()) return "requires_grad";
    return "";
}

std::string pad(const std::string& s, size_t w) {
    return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

void print_text(const Document& doc, std::vector<TensorEntry>& entries) {
    std::ostringstream out;
    out << "file: " << doc.path << "  (" << doc.format << ", kinds "
        << kind_source_name(doc.kind_source) << ")\n";
    if (!doc.title.empty()) out << "title: " << doc.title << "\n";
    if (!doc.checkpoint_entries.empty()) {
        out << "checkpoint entries:";
        for (const auto& [k, what] : doc.checkpoint_entries)
            out << "  " << k << " (" << what << ")";
        out << "\n";
    }
    if (!doc.note.empty()) out << "note: " << doc.note << "\n";
    out << "\n";
    const size_t wn = 40, wk = 11, ws = 16, wd = 10, wv = 8, we = 11;
    out << pad("name", wn) << pad("kind", wk) << pad("shape", ws) << pad("dtype", wd)
        << pad("device", wv) << pad("elements", we) << "note\n";
    // Tree order: each module, then its own tensors, then its children (PyTorch's order).
    std::set<const TensorImpl*> seen;
    for (auto& [name, m] : doc.root->named_modules("", false)) {
        size_t depth = name.empty() ? 0 : size_t(std::count(name.begin(), name.end(), '.') + 1);
        std::string type = m->type_name().empty() ? "?" : m->type_name();
        out << pad(std::string(depth * 2, ' ') + (name.empty() ? "(root)" : name), wn)
            << pad(type, wk) << "\n";
        for (auto& e : entries) {
            if (e.owner != m.get() ||
                (name.empty() ? e.name != e.local_name : e.name != name + "." + e.local_name))
                continue;
            std::string note = note_for(e);
            if (!seen.insert(e.tensor.impl()).second) note = "shared (counted once)";
            out << pad(std::string(depth * 2 + 2, ' ') + e.name, wn)
                << pad(tensor_kind_name(e.kind), wk)
                << pad(e.tensor.is_uninitialized() ? "uninitialized" : shape_str(e.tensor.shape()),
                       ws)
                << pad(std::string(dtype_name(e.tensor.dtype())), wd)
                << pad(e.tensor.device().str(), wv) << pad(group_digits(e.tensor.numel()), we)
                << note << "\n";
        }
    }
    Totals t = count(entries);
    out << "\nparameters: " << t.parameters << " (" << group_digits(t.parameter_elements)
        << " elements)"
        << "   buffers: " << t.buffers << " (" << group_digits(t.buffer_elements) << " elements)"
        << "   attributes: " << t.attributes << " (" << group_digits(t.attribute_elements)
        << " elements)"
        << "   memory: " << human_bytes(t.bytes) << "\n";
    if (doc.kind_source == KindSource::Inferred)
        out << "note: a bare state dict declares no kinds; parameter/buffer inferred from names "
               "(running_mean, running_var, num_batches_tracked, integer dtypes, spectral_norm's "
               "_u/_v and prune's _mask are buffers; README lists the rules)\n";
    const auto blocked = not_runnable_modules(doc);
    for (size_t i = 0; i < blocked.size() && i < 10; ++i)
        out << (i ? "              " : "not runnable: ")
            << (blocked[i].module.empty() ? "(model)" : blocked[i].module)
            << (blocked[i].type.empty() ? "" : " (" + blocked[i].type + ")") << ": "
            << blocked[i].reason << "\n";
    if (blocked.size() > 10) out << "              and " << blocked.size() - 10 << " more\n";
    std::cout << out.str();
}

} // namespace

int cmd_inspect(Args args) {
    size_t next = 0;
    Document doc = open_source(args, next, "FILE");
    if (next < args.positional.size()) throw UsageError("inspect takes one FILE");
    auto entries = doc.root->tensor_entries();
    if (!args.json) {
        print_text(doc, entries);
        return k_exit_ok;
    }
    json j;
    j["file"] = doc.path;
    j["format"] = doc.format;
    if (!doc.entry.empty()) j["entry"] = doc.entry;
    json modules = json::array();
    for (auto& [name, m] : doc.root->named_modules())
        modules.push_back(
            {{"name", name},
             {"type", m->type_name().empty() ? json(nullptr) : json(m->type_name())}});
    j["modules"] = modules;
    json tensors = json::array();
    for (const auto& e : entries) {
        json t;
        t["name"] = e.name;
        t["kind"] = tensor_kind_name(e.kind);
        t["kind_source"] = kind_source_name(doc.kind_source);
        t["persistent"] = e.persistent;
        t["dtype"] = std::string(dtype_name(e.tensor.dtype()));
        if (e.tensor.is_uninitialized())
            t["uninitialized"] = true; // a lazy module's, before its first call: no shape
        else
            t["shape"] = shape_json(e.tensor.shape());
        t["device"] = e.tensor.device().str();
        t["requires_grad"] = e.tensor.requires_grad();
        tensors.push_back(t);
    }
    j["tensors"] = tensors;
    j["runnable"] = doc.root->runnable();
    json blocked = json::array();
    for (const auto& b : not_runnable_modules(doc))
        blocked.push_back({{"module", b.module},
                           {"type", b.type.empty() ? json(nullptr) : json(b.type)},
                           {"reason", b.reason}});
    j["not_runnable"] = blocked;
    Totals t = count(entries);
    j["totals"] = {{"parameters", t.parameters}, {"parameter_elements", t.parameter_elements},
                   {"buffers", t.buffers},       {"buffer_elements", t.buffer_elements},
                   {"attributes", t.attributes}, {"bytes", t.bytes}};
    std::cout << j.dump(2) << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
