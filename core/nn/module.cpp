// module.cpp: registration rules, the recursive walks, state_dict and load_state_dict.
#include "module.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "autograd.h"
#include "errors.h"

namespace nnscope {

namespace {
// Attributes every torch.nn.Module has (dir(nn.Module()) in PyTorch 1.13, without the
// dunders): registering a tensor under one of these names is refused, as in PyTorch.
constexpr const char* k_module_attributes[] = {
    "T_destination",
    "_apply",
    "_backward_hooks",
    "_buffers",
    "_call_impl",
    "_forward_hooks",
    "_forward_pre_hooks",
    "_get_backward_hooks",
    "_get_name",
    "_is_full_backward_hook",
    "_load_from_state_dict",
    "_load_state_dict_post_hooks",
    "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook",
    "_modules",
    "_named_members",
    "_non_persistent_buffers_set",
    "_parameters",
    "_register_load_state_dict_pre_hook",
    "_register_state_dict_hook",
    "_replicate_for_data_parallel",
    "_save_to_state_dict",
    "_slow_forward",
    "_state_dict_hooks",
    "_version",
    "add_module",
    "apply",
    "bfloat16",
    "buffers",
    "children",
    "cpu",
    "cuda",
    "double",
    "dump_patches",
    "eval",
    "extra_repr",
    "float",
    "forward",
    "get_buffer",
    "get_extra_state",
    "get_parameter",
    "get_submodule",
    "half",
    "ipu",
    "load_state_dict",
    "modules",
    "named_buffers",
    "named_children",
    "named_modules",
    "named_parameters",
    "parameters",
    "register_backward_hook",
    "register_buffer",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_load_state_dict_post_hook",
    "register_module",
    "register_parameter",
    "requires_grad_",
    "set_extra_state",
    "share_memory",
    "state_dict",
    "to",
    "to_empty",
    "train",
    "training",
    "type",
    "xpu",
    "zero_grad",
};

bool is_module_attribute(const std::string& name) {
    if (name.size() > 4 && name.starts_with("__") && name.ends_with("__")) return true;
    for (const char* a : k_module_attributes)
        if (name == a) return true;
    return false;
}

std::string join_name(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}
} // namespace

const char* tensor_kind_name(TensorKind kind) {
    switch (kind) {
    case TensorKind::Parameter:
        return "parameter";
    case TensorKind::Buffer:
        return "buffer";
    case TensorKind::Attribute:
        return "attribute";
    }
    return "?";
}

std::string tensor_type_name(const Tensor& t) {
    return dtype_legacy_type_name(t.dtype(), t.device().kind == DeviceKind::CUDA);
}

Module::Module(std::string type_name) : m_type_name(std::move(type_name)) {}

// --- registration ---------------------------------------------------------------------------

bool Module::has_attr(const std::string& name) const {
    return m_parameters.contains(name) || m_buffers.contains(name) || m_children.contains(name) ||
           m_attributes.contains(name) || (m_strict_names && is_module_attribute(name));
}

void Module::check_new_name(const std::string& name, const char* what, bool in_own_map) const {
    if (name.find('.') != std::string::npos)
        throw KeyError(std::string(what) + " name can't contain \".\"");
    if (name.empty()) throw KeyError(std::string(what) + " name can't be empty string \"\"");
    if (has_attr(name) && !in_own_map) throw KeyError("attribute '" + name + "' already exists");
}

Tensor Module::register_parameter(const std::string& name, const Tensor& param,
                                  bool requires_grad) {
    check_new_name(name, "parameter", m_parameters.contains(name));
    if (param.defined() && requires_grad && !param.is_floating_point())
        throw Error("Only Tensors of floating point and complex dtype can require gradients");
    Tensor p = param.defined() ? (param.is_parameter() && param.requires_grad() == requires_grad
                                      ? param
                                      : make_parameter(param, requires_grad))
                               : Tensor();
    m_parameters.set(name, p);
    return p;
}

Tensor Module::register_buffer(const std::string& name, const Tensor& tensor, bool persistent) {
    check_new_name(name, "buffer", m_buffers.contains(name));
    m_buffers.set(name, tensor);
    if (persistent)
        m_non_persistent.erase(name);
    else
        m_non_persistent.set(name, true);
    return tensor;
}

ModulePtr Module::register_module(const std::string& name, ModulePtr module) {
    // add_module checks the existing attribute before the dot and the empty name.
    if (has_attr(name) && !m_children.contains(name))
        throw KeyError("attribute '" + name + "' already exists");
    if (name.find('.') != std::string::npos)
        throw KeyError("module name can't contain \".\", got: " + name);
    if (name.empty()) throw KeyError("module name can't be empty string \"\"");
    m_children.set(name, module);
    return module;
}

void Module::set_attr(const std::string& name, const Tensor& value) {
    if (value.is_parameter()) {
        m_attributes.erase(name);
        m_buffers.erase(name);
        m_children.erase(name);
        m_non_persistent.erase(name);
        register_parameter(name, value, value.requires_grad());
        return;
    }
    if (m_parameters.contains(name)) {
        if (value.defined())
            throw TypeError("cannot assign '" + tensor_type_name(value) + "' as parameter '" +
                            name + "' (torch.nn.Parameter or None expected)");
        m_parameters.set(name, Tensor());
        return;
    }
    if (m_children.contains(name)) {
        if (value.defined())
            throw TypeError("cannot assign '" + tensor_type_name(value) + "' as child module '" +
                            name + "' (torch.nn.Module or None expected)");
        m_children.set(name, nullptr);
        return;
    }
    if (m_buffers.contains(name)) {
        m_buffers.set(name, value);
        return;
    }
    m_attributes.set(name, value);
}

void Module::set_attr(const std::string& name, ModulePtr module) {
    if (!module && m_children.contains(name)) {
        m_children.set(name, nullptr);
        return;
    }
    m_attributes.erase(name);
    m_parameters.erase(name);
    m_buffers.erase(name);
    m_non_persistent.erase(name);
    m_children.set(name, std::move(module));
}

Tensor Module::attr(const std::string& name) const {
    if (auto p = m_parameters.find(name)) return *p;
    if (auto b = m_buffers.find(name)) return *b;
    if (auto a = m_attributes.find(name)) return *a;
    throw AttributeError("'" + m_type_name + "' object has no attribute '" + name + "'");
}

ModulePtr Module::child(const std::string& name) const {
    if (auto c = m_children.find(name)) return *c;
    throw AttributeError("'" + m_type_name + "' object has no attribute '" + name + "'");
}

void Module::del_attr(const std::string& name) {
    if (m_parameters.erase(name)) return;
    if (m_buffers.erase(name)) {
        m_non_persistent.erase(name);
        return;
    }
    if (m_children.erase(name) || m_attributes.erase(name)) return;
    throw AttributeError(name);
}

// --- walks -------------------------------------------------------------------------------------

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules(const std::string& prefix,
                                                                     bool remove_duplicate) {
    std::vector<std::pair<std::string, ModulePtr>> out;
    std::set<const Module*> memo;
    // Iterative pre-order walk (deep trees must not overflow the stack).
    struct Frame {
        std::string prefix;
        ModulePtr module;
    };
    std::vector<Frame> stack{{prefix, shared_from_this()}};
    while (!stack.empty()) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        if (remove_duplicate && !memo.insert(f.module.get()).second) continue;
        out.emplace_back(f.prefix, f.module);
        const auto& children = f.module->m_children.items();
        for (auto it = children.rbegin(); it != children.rend(); ++it)
            if (it->second) stack.push_back({join_name(f.prefix, it->first), it->second});
    }
    return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_children() const {
    std::vector<std::pair<std::string, ModulePtr>> out;
    std::set<const Module*> memo;
    for (const auto& [name, m] : m_children)
        if (m && memo.insert(m.get()).second) out.emplace_back(name, m);
    return out;
}

namespace {
template <class GetMembers>
NamedTensors named_members(Module& self, const std::string& prefix, bool recurse,
                           bool remove_duplicate, GetMembers&& get) {
    NamedTensors out;
    std::set<const TensorImpl*> memo;
    std::vector<std::pair<std::string, ModulePtr>> modules;
    if (recurse)
        modules = self.named_modules(prefix, remove_duplicate);
    else
        modules.emplace_back(prefix, self.shared_from_this());
    for (const auto& [module_prefix, module] : modules)
        for (const auto& [k, v] : get(*module)) {
            if (!v.defined()) continue;
            if (remove_duplicate && !memo.insert(v.impl()).second) continue;
            out.emplace_back(join_name(module_prefix, k), v);
        }
    return out;
}
} // namespace

NamedTensors Module::named_parameters(const std::string& prefix, bool recurse,
                                      bool remove_duplicate) const {
    auto& self = const_cast<Module&>(*this);
    return named_members(
        self, prefix, recurse, remove_duplicate,
        [](const Module& m) -> const OrderedDict<Tensor>& { return m.m_parameters; });
}

NamedTensors Module::named_buffers(const std::string& prefix, bool recurse,
                                   bool remove_duplicate) const {
    auto& self = const_cast<Module&>(*this);
    return named_members(self, prefix, recurse, remove_duplicate,
                         [](const Module& m) -> const OrderedDict<Tensor>& { return m.m_buffers; });
}

std::vector<Tensor> Module::parameters(bool recurse) const {
    std::vector<Tensor> out;
    for (auto& [n, t] : named_parameters("", recurse)) out.push_back(t);
    return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
    std::vector<Tensor> out;
    for (auto& [n, t] : named_buffers("", recurse)) out.push_back(t);
    return out;
}

std::vector<TensorEntry> Module::tensor_entries() {
    std::vector<TensorEntry> in_state, rest;
    // The state-dict walk does not de-duplicate modules, like PyTorch's state_dict().
    struct Frame {
        std::string prefix;
        Module* module;
    };
    std::vector<Frame> stack{{"", this}};
    std::set<const Module*> seen_for_rest;
    while (!stack.empty()) {
        Frame f = stack.back();
        stack.pop_back();
        Module& m = *f.module;
        for (auto& [k, v] : m.m_parameters)
            if (v.defined())
                in_state.push_back({join_name(f.prefix, k), TensorKind::Parameter, true, v, &m, k});
        for (auto& [k, v] : m.m_buffers)
            if (v.defined() && m.is_persistent_buffer(k))
                in_state.push_back({join_name(f.prefix, k), TensorKind::Buffer, true, v, &m, k});
        if (seen_for_rest.insert(&m).second) {
            for (auto& [k, v] : m.m_buffers)
                if (v.defined() && !m.is_persistent_buffer(k))
                    rest.push_back({join_name(f.prefix, k), TensorKind::Buffer, false, v, &m, k});
            for (auto& [k, v] : m.m_attributes)
                if (v.defined())
                    rest.push_back(
                        {join_name(f.prefix, k), TensorKind::Attribute, false, v, &m, k});
        }
        const auto& children = m.m_children.items();
        for (auto it = children.rbegin(); it != children.rend(); ++it)
            if (it->second) stack.push_back({join_name(f.prefix, it->first), it->second.get()});
    }
    in_state.insert(in_state.end(), rest.begin(), rest.end());
    return in_state;
}

// --- state dict ----------------------------------------------------------------------------------

void Module::collect_state(StateDict& sd, const std::string& prefix) const {
    sd.versions.set(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1), version());
    for (const auto& [k, v] : m_parameters)
        if (v.defined()) sd.tensors.set(prefix + k, v.detach());
    for (const auto& [k, v] : m_buffers)
        if (v.defined() && is_persistent_buffer(k)) sd.tensors.set(prefix + k, v.detach());
    for (const auto& [k, m] : m_children)
        if (m) m->collect_state(sd, prefix + k + ".");
}

StateDict Module::state_dict(const std::string& prefix) const {
    StateDict sd;
    collect_state(sd, prefix);
    return sd;
}

void Module::collect_load(StateDict& sd, const std::string& prefix, LoadResult& result,
                          std::vector<std::string>& errors,
                          std::vector<std::pair<Tensor, Tensor>>& copies) const {
    before_load(sd, prefix);
    OrderedDict<Tensor> local;
    for (const auto& [k, v] : m_parameters)
        if (v.defined()) local.set(k, v);
    for (const auto& [k, v] : m_buffers)
        if (v.defined() && is_persistent_buffer(k)) local.set(k, v);
    for (const auto& [name, param] : local) {
        const std::string key = prefix + name;
        const Tensor* found = sd.tensors.find(key);
        if (!found) {
            result.missing_keys.push_back(key);
            continue;
        }
        Tensor input = *found;
        // PyTorch's backward compatibility: a 1-dim checkpoint entry for a 0-dim tensor.
        if (param.dim() == 0 && input.dim() == 1 && input.size(0) > 0) input = input.select(0, 0);
        if (input.shape() != param.shape()) {
            errors.push_back("size mismatch for " + key + ": copying a param with shape " +
                             torch_size_str(input.shape()) +
                             " from checkpoint, the shape in current model is " +
                             torch_size_str(param.shape()) + ".");
            continue;
        }
        copies.emplace_back(param, input);
    }
    for (const auto& [key, v] : sd.tensors) {
        if (!key.starts_with(prefix)) continue;
        std::string input_name = key.substr(prefix.size());
        input_name = input_name.substr(0, input_name.find('.'));
        if (!m_children.contains(input_name) && !local.contains(input_name))
            result.unexpected_keys.push_back(key);
    }
    for (const auto& [name, child] : m_children) {
        if (!child) continue;
        const std::string child_prefix = prefix + name + ".";
        StateDict child_sd;
        child_sd.versions = sd.versions;
        for (const auto& [k, v] : sd.tensors)
            if (k.starts_with(child_prefix)) child_sd.tensors.set(k, v);
        child->collect_load(child_sd, child_prefix, result, errors, copies);
    }
}

LoadResult Module::load_state_dict(const StateDict& state_dict, bool strict) {
    LoadResult result;
    std::vector<std::string> errors;
    std::vector<std::pair<Tensor, Tensor>> copies;
    StateDict sd = state_dict; // hooks may add entries to the loader's copy
    collect_load(sd, "", result, errors, copies);
    if (strict) {
        auto quoted = [](const std::vector<std::string>& keys) {
            std::string s;
            for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", \"" : "\"") + keys[i] + "\"";
            return s;
        };
        if (!result.unexpected_keys.empty())
            errors.insert(errors.begin(), "Unexpected key(s) in state_dict: " +
                                              quoted(result.unexpected_keys) + ". ");
        if (!result.missing_keys.empty())
            errors.insert(errors.begin(),
                          "Missing key(s) in state_dict: " + quoted(result.missing_keys) + ". ");
    }
    if (!errors.empty()) {
        std::string msg = "Error(s) in loading state_dict for " + m_type_name + ":";
        for (const auto& e : errors) msg += "\n\t" + e;
        throw Error(msg);
    }
    // All checks passed. Copy through host-staged temporaries first so that a failure in
    // any conversion leaves the model untouched, then commit (not recorded by autograd).
    NoGradGuard no_grad;
    std::vector<Tensor> staged;
    staged.reserve(copies.size());
    for (auto& [dst, src] : copies) {
        Tensor tmp = empty(dst.shape(), TensorOptions(dst.dtype()).with_device(dst.device()));
        tmp.copy_(src);
        staged.push_back(tmp);
    }
    for (size_t i = 0; i < copies.size(); ++i) copies[i].first.copy_(staged[i]);
    return result;
}

Tensor Module::forward(const Tensor&) {
    throw NotImplementedError("Module [" +
                              (m_type_name.empty() ? std::string("Module") : m_type_name) +
                              "] is missing the required \"forward\" function");
}

Tensor Module::operator()(const Tensor& x) {
    const uint64_t before = m_outputs_set;
    Tensor y = forward(x);
    if (m_outputs_set == before) record_output(y); // forward may have recorded a tuple's
    return y;
}

// --- modes and devices
// -----------------------------------------------------------------------------

void Module::train(bool mode) {
    for (auto& [name, m] : named_modules()) m->m_training = mode;
}

void Module::to(const Device& device) {
    // Validate the device before moving anything.
    backend_for(device);
    // Every copy first, then the swap: a move that fails part-way (the device fills up)
    // leaves every tensor where it was, and the copies made so far are freed.
    struct Move {
        TensorImpl* impl;
        Tensor moved, grad;
    };
    std::vector<Move> moves;
    std::unordered_set<const TensorImpl*> seen; // a tied parameter moves once
    for (auto& [name, m] : named_modules())
        for (auto* slots : {&m->m_parameters, &m->m_buffers})
            for (auto& [k, v] : *slots) {
                if (!v.defined() || v.device() == device || !seen.insert(v.impl()).second) continue;
                Move mv{v.impl(), v.to(device), {}};
                if (v.impl()->grad) mv.grad = Tensor(v.impl()->grad).to(device);
                moves.push_back(std::move(mv));
            }
    // In place, as PyTorch's `param.data = fn(param)`: the tensor object (and every handle
    // to it) stays the same, only its storage moves.
    for (auto& mv : moves) {
        mv.impl->storage = mv.moved.impl()->storage;
        mv.impl->strides = mv.moved.impl()->strides;
        mv.impl->offset = mv.moved.impl()->offset;
        if (mv.grad.defined()) mv.impl->grad = mv.grad.impl_ptr();
    }
}

void Module::to(DType dtype) {
    if (!dtype_is_floating(dtype))
        throw TypeError("nn.Module.to only accepts floating point or complex dtypes, but got "
                        "desired dtype=torch." +
                        std::string(dtype_name(dtype)));
    for (auto& [name, m] : named_modules())
        for (auto* slots : {&m->m_parameters, &m->m_buffers})
            for (auto& [k, v] : *slots) {
                if (!v.defined() || !v.is_floating_point() || v.dtype() == dtype) continue;
                Tensor cast = v.to(dtype);
                v.impl()->storage = cast.impl()->storage;
                v.impl()->strides = cast.impl()->strides;
                v.impl()->offset = cast.impl()->offset;
                v.impl()->dtype = dtype;
            }
}

// --- repr
// ------------------------------------------------------------------------------------------

std::string Module::repr() const {
    // PyTorch's Module.__repr__: "Name(extra)" or "Name(\n  (child): ...\n)".
    std::vector<std::string> lines;
    std::string extra = extra_repr();
    size_t start = 0;
    while (!extra.empty() && start <= extra.size()) {
        size_t nl = extra.find('\n', start);
        lines.push_back(
            extra.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    std::vector<std::string> child_lines;
    for (const auto& [name, m] : m_children) {
        std::string mod = m ? m->repr() : "None";
        std::string indented;
        for (char c : mod) {
            indented += c;
            if (c == '\n') indented += "  ";
        }
        child_lines.push_back("(" + name + "): " + indented);
    }
    lines.insert(lines.end(), child_lines.begin(), child_lines.end());
    std::string name = m_type_name.empty() ? "Module" : m_type_name;
    std::string s = name + "(";
    if (!lines.empty()) {
        if (lines.size() == 1 && child_lines.empty())
            s += extra;
        else {
            s += "\n";
            for (const auto& l : lines) s += "  " + l + "\n";
        }
    }
    return s + ")";
}

} // namespace nnscope
