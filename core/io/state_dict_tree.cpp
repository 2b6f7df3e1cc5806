// state_dict_tree.cpp: a module tree from a bare state dict, kinds inferred from PyTorch's
// naming conventions where the file declares none.
#include "state_dict_tree.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "errors.h"

namespace nnscope {

const char* infer_tensor_kind(const std::string& name, DType dtype,
                              const std::function<bool(const std::string&)>& has_key) {
    const size_t dot = name.rfind('.');
    const std::string prefix = dot == std::string::npos ? "" : name.substr(0, dot + 1);
    const std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    if (leaf == "running_mean" || leaf == "running_var" || leaf == "num_batches_tracked")
        return "buffer";
    // nn.Parameter must be floating point or complex to require grad, so integer and bool tensors
    // in a state dict are in practice buffers (counters, index tables, masks).
    if (!dtype_is_floating(dtype) && !dtype_is_complex(dtype)) return "buffer";
    // torch.nn.utils' reparametrisations (spectral_norm.py, weight_norm.py, prune.py): the
    // base name with a suffix, told apart by the siblings each one registers.
    auto sibling = [&](const std::string& base, const char* suffix) {
        return has_key(prefix + base + suffix);
    };
    auto base_of = [&](const char* suffix) -> std::optional<std::string> {
        const std::string s = suffix;
        if (leaf.size() > s.size() && leaf.ends_with(s))
            return leaf.substr(0, leaf.size() - s.size());
        return std::nullopt;
    };
    if (auto base = base_of("_mask"); base && sibling(*base, "_orig")) return "buffer"; // prune
    if (auto base = base_of("_u"); base && sibling(*base, "_orig"))
        return "buffer"; // spectral_norm
    if (auto base = base_of("_v")) {
        if (sibling(*base, "_g")) return "parameter";                         // weight_norm
        if (sibling(*base, "_orig") && sibling(*base, "_u")) return "buffer"; // spectral_norm
    }
    // torch.nn.utils.parametrize: parametrizations.NAME.original(N) are the parameters; the
    // tensors of the parametrization modules (parametrizations.NAME.K.*) are their buffers.
    const size_t p = ("." + prefix).rfind(".parametrizations.");
    if (p != std::string::npos) {
        const std::string rest = ("." + prefix).substr(p + 18); // "NAME." or "NAME.K."
        const size_t parts = size_t(std::count(rest.begin(), rest.end(), '.'));
        if (parts == 1 && leaf.starts_with("original")) return "parameter";
        if (parts >= 2) return "buffer";
    }
    return "parameter";
}

ModulePtr
tree_from_state_dict(const std::vector<std::pair<std::string, Tensor>>& entries,
                     const std::vector<std::pair<std::string, std::string>>* declared_kinds,
                     const std::vector<std::pair<std::string, std::string>>* module_types) {
    std::unordered_map<std::string, std::string> types, kinds;
    if (module_types)
        for (const auto& [n, t] : *module_types) types.emplace(n, t);
    if (declared_kinds)
        for (const auto& [n, k] : *declared_kinds) kinds.emplace(n, k);
    auto type_of = [&](const std::string& name) -> std::string {
        auto it = types.find(name);
        return it == types.end() ? "" : it->second;
    };
    // A state dict may hold names no nn.Module attribute could have ("float", "to"): the
    // tree built to show it accepts them.
    auto make = [](const std::string& type) {
        auto m = std::make_shared<Module>(type);
        m->set_strict_names(false);
        return m;
    };
    auto root = make(type_of(""));
    // Declared modules first, so childless modules (ReLU) are part of the tree too.
    auto module_at = [&](const std::string& prefix) {
        ModulePtr m = root;
        std::string path;
        size_t start = 0;
        while (start < prefix.size()) {
            size_t dot = prefix.find('.', start);
            std::string part =
                prefix.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (part.empty()) throw Error("key '" + prefix + "' has an empty name component");
            path = path.empty() ? part : path + "." + part;
            const ModulePtr* child = m->own_children().find(part);
            if (child && *child)
                m = *child;
            else {
                if (m->own_parameters().contains(part) || m->own_buffers().contains(part))
                    throw Error("'" + path + "' is both a tensor and a module prefix");
                auto c = make(type_of(path));
                m->register_module(part, c);
                m = c;
            }
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        return m;
    };
    if (module_types)
        for (const auto& [n, t] : *module_types)
            if (!n.empty()) module_at(n);
    std::unordered_set<std::string> keys;
    for (const auto& entry : entries) keys.insert(entry.first);
    const auto has_key = [&](const std::string& k) { return keys.count(k) > 0; };
    for (const auto& entry : entries) {
        const std::string& name = entry.first;
        const Tensor& t = entry.second;
        if (name.empty()) throw Error("a tensor has an empty name");
        size_t dot = name.rfind('.');
        std::string prefix = dot == std::string::npos ? "" : name.substr(0, dot);
        std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
        if (leaf.empty()) throw Error("key '" + name + "' has an empty name component");
        ModulePtr m = module_at(prefix);
        if (m->own_children().contains(leaf))
            throw Error("'" + name + "' is both a tensor and a module prefix");
        std::string kind = infer_tensor_kind(name, t.dtype(), has_key);
        const auto declared = kinds.find(name);
        if (declared != kinds.end()) kind = declared->second;
        try {
            if (kind == "parameter")
                m->register_parameter(
                    leaf, t, declared != kinds.end() ? t.is_floating_point() : t.requires_grad());
            else
                m->register_buffer(leaf, t, true);
        } catch (const Error& e) {
            throw Error("cannot place '" + name + "' in a module tree: " + e.what());
        }
    }
    return root;
}

} // namespace nnscope
