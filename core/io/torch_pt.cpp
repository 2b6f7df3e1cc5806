// torch_pt.cpp: interpreting torch.save pickles (inert values -> tensors, state dicts,
// module trees). Writing is torch_pt_writer.cpp's.
#include "torch_pt.h"

#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "layers/layers.h"
#include "layers/registry.h"
#include "pickle.h"
#include "state_dict_tree.h"
#include "torch_archive.h"

namespace nnscope::torchpt {

namespace {

// --- what the file holds ----------------------------------------------------------------------

bool is_module_object(const ValuePtr& v) {
    return v && v->is(Kind::Object) && v->state && dict_get(v->state, "_modules") &&
           dict_get(v->state, "_parameters");
}

// Plain pickled data (a state dict's _metadata) as JSON; anything else as null.
nlohmann::ordered_json plain_json(const ValuePtr& v, int depth = 0) {
    if (!v || depth > 16) return nullptr;
    switch (v->kind) {
    case Kind::Bool:
        return v->b;
    case Kind::Int:
        return v->i;
    case Kind::Float:
        return v->f;
    case Kind::String:
        return v->s;
    case Kind::Tuple:
    case Kind::List: {
        auto a = nlohmann::ordered_json::array();
        for (const auto& x : v->items) a.push_back(plain_json(x, depth + 1));
        return a;
    }
    default:
        break;
    }
    if (auto items = dict_items(v)) {
        auto o = nlohmann::ordered_json::object();
        for (const auto& [k, x] : *items)
            if (k && k->is(Kind::String)) o[k->s] = plain_json(x, depth + 1);
        return o;
    }
    return nullptr;
}

// A dict whose keys are strings and values tensors (or None): a state dict.
bool is_state_dict(const ValuePtr& v) {
    auto items = dict_items(v);
    if (!items) return false;
    bool any = false;
    for (const auto& [k, val] : *items) {
        if (!k || !k->is(Kind::String)) return false;
        if (Archive::is_tensor(val))
            any = true;
        else if (!(val && val->is(Kind::None)))
            return false;
    }
    return any || items->empty();
}

std::string entry_summary(const ValuePtr& v) {
    if (is_module_object(v)) return "module " + v->name;
    if (Archive::is_tensor(v)) return "tensor";
    if (is_state_dict(v))
        return "state dict (" + std::to_string(dict_items(v)->size()) + " tensors)";
    if (auto items = dict_items(v)) return "dict (" + std::to_string(items->size()) + " entries)";
    return pickle::describe(v, 1);
}

// --- whole modules ----------------------------------------------------------------------------

// Thrown by PickleArgs: the pickled attributes are not those of the class nnscope knows.
struct NotThisLayer {};

// A layer's hyper-parameters from a pickled torch.nn module's __dict__ (registry.h): every
// attribute of the class must be there with its type, or the module is not that layer.
// The keys no pickle holds take their defaults (takes_default).
class PickleArgs : public LayerArgs {
  public:
    PickleArgs(const ValuePtr& state, Generator& gen,
               std::function<bool(const std::vector<int64_t>&)> fits)
        : LayerArgs(gen), m_state(state), m_fits(std::move(fits)) {}

    int64_t integer(const char* key, std::optional<int64_t> dflt) override {
        if (takes_default(key)) return dflt.value_or(0);
        const ValuePtr& v = need(key);
        if (!v->is(Kind::Int)) throw NotThisLayer{};
        return v->i;
    }
    double number(const char* key, double dflt) override {
        if (takes_default(key)) return dflt;
        const ValuePtr& v = need(key);
        if (v->is(Kind::Float)) return v->f;
        if (v->is(Kind::Int)) return double(v->i);
        throw NotThisLayer{};
    }
    bool boolean(const char* key, bool) override {
        const ValuePtr& v = need(key);
        if (!v->is(Kind::Bool)) throw NotThisLayer{};
        return v->b;
    }
    std::array<int64_t, 2> pair(const char* key, std::optional<int64_t>) override {
        const ValuePtr& v = need(key);
        if (v->is(Kind::Int)) return {v->i, v->i};
        if (v->is(Kind::Tuple) && v->items.size() == 2 && v->items[0]->is(Kind::Int) &&
            v->items[1]->is(Kind::Int))
            return {v->items[0]->i, v->items[1]->i};
        throw NotThisLayer{};
    }
    int64_t single(const char* key, std::optional<int64_t>) override {
        const ValuePtr& v = need(key);
        if (v->is(Kind::Int)) return v->i;
        if (v->is(Kind::Tuple) && v->items.size() == 1 && v->items[0]->is(Kind::Int))
            return v->items[0]->i;
        throw NotThisLayer{};
    }
    std::optional<bool> optional_boolean(const char* key) override {
        const ValuePtr& v = need(key);
        if (v->is(Kind::None)) return std::nullopt;
        if (!v->is(Kind::Bool)) throw NotThisLayer{};
        return v->b;
    }
    std::optional<int64_t> optional_integer(const char* key) override {
        const ValuePtr& v = need(key);
        if (v->is(Kind::None)) return std::nullopt;
        if (!v->is(Kind::Int)) throw NotThisLayer{};
        return v->i;
    }
    std::optional<double> optional_number(const char* key, std::optional<double>) override {
        const ValuePtr& v = need(key);
        if (v->is(Kind::None)) return std::nullopt;
        return number(key, 0);
    }
    Shape shape(const char* key) override {
        const ValuePtr& v = need(key);
        if (!v->is(Kind::Tuple)) throw NotThisLayer{};
        Shape out;
        for (const auto& x : v->items) {
            if (!x->is(Kind::Int)) throw NotThisLayer{};
            out.push_back(x->i);
        }
        return out;
    }
    std::string text(const char* key, const std::string& dflt) override {
        if (std::string_view(key) == "activation") {
            // The Transformer layers keep a function (torch.nn.functional.relu), and the
            // encoder layer a flag as well: 1 relu, 2 gelu.
            if (const ValuePtr* flag = dict_get(m_state, "activation_relu_or_gelu");
                flag && *flag && (*flag)->is(Kind::Int)) {
                if ((*flag)->i == 1) return "relu";
                if ((*flag)->i == 2) return "gelu";
                throw NotThisLayer{};
            }
            const ValuePtr& f = need(key);
            const std::string name = f->is(Kind::Global) ? f->qualified_name() : "";
            if (name == "torch.nn.functional.relu") return "relu";
            if (name == "torch.nn.functional.gelu") return "gelu";
            throw NotThisLayer{};
        }
        if (takes_default(key)) return dflt;
        const ValuePtr* v = dict_get(m_state, key);
        if (!v || !*v) throw NotThisLayer{};
        if (!(*v)->is(Kind::String)) throw NotThisLayer{};
        return (*v)->s;
    }
    bool has_bias() override {
        const ValuePtr* d = dict_get(m_state, "_parameters");
        const ValuePtr* t = d ? dict_get(*d, "bias") : nullptr;
        return t && Archive::is_tensor(*t);
    }
    void check_size(const std::vector<int64_t>& dims) override {
        if (!m_fits(dims)) throw NotThisLayer{};
    }
    bool children_given() const override { return true; }
    [[noreturn]] void fail(const std::string&) override { throw NotThisLayer{}; }

  private:
    // Keys a pickled module does not hold, which take the layer's default: nnscope's own
    // (Dropout's seed), constructor arguments PyTorch does not keep (PReLU's init), and
    // attributes older versions lack (GELU's approximate before PyTorch 1.12).
    bool takes_default(std::string_view key) const {
        if (key == "seed" || key == "init") return true;
        if (key == "approximate") {
            const ValuePtr* v = dict_get(m_state, std::string(key));
            return !v || !*v;
        }
        return false;
    }
    const ValuePtr& need(const char* key) {
        const ValuePtr* v = dict_get(m_state, key);
        if (!v || !*v) throw NotThisLayer{};
        return *v;
    }
    const ValuePtr& m_state;
    std::function<bool(const std::vector<int64_t>&)> m_fits;
};

// The classes of a module's pickled forward hooks (_forward_pre_hooks or _forward_hooks),
// with the tensor name each reparametrisation hook recomputes ("weight"), if it says.
std::vector<std::pair<std::string, std::string>> hooks_of(const ValuePtr& state, const char* dict) {
    std::vector<std::pair<std::string, std::string>> out;
    const ValuePtr* d = dict_get(state, dict);
    if (auto items = dict_items(d ? *d : nullptr))
        for (const auto& [k, h] : *items) {
            if (!h) continue;
            // spectral_norm's and weight_norm's hooks say `name`, prune's `_tensor_name`.
            const ValuePtr* name = h->state ? dict_get(h->state, "name") : nullptr;
            if (!name && h->state) name = dict_get(h->state, "_tensor_name");
            out.emplace_back(h->is(Kind::Object) || h->is(Kind::Global) ? h->qualified_name()
                                                                        : std::string("a function"),
                             name && *name && (*name)->is(Kind::String) ? (*name)->s : "");
        }
    return out;
}

// Why a pickled module cannot run, from its class and state.
std::string reason_for(const ValuePtr& obj, bool known_class, bool names_differ) {
    const std::string cls = obj->qualified_name();
    for (const char* dict : {"_parameters", "_buffers"}) {
        const ValuePtr* d = dict_get(obj->state, dict);
        if (auto items = dict_items(d ? *d : nullptr))
            for (const auto& [k, v] : *items)
                if (v && v->is(Kind::Object) && v->module == "torch.nn.parameter")
                    return "its " + std::string(dict[1] == 'p' ? "parameters" : "buffers") +
                           " are uninitialized (a lazy module before its first call): run one "
                           "forward "
                           "pass in PyTorch, then save it";
    }
    const auto pre = hooks_of(obj->state, "_forward_pre_hooks"),
               post = hooks_of(obj->state, "_forward_hooks");
    if (!pre.empty()) {
        // torch.nn.utils' reparametrisations: the hook writes `name` from its parts.
        const auto& [hook, name] = pre.front();
        std::string parts;
        if (!name.empty()) {
            std::vector<std::string> found;
            for (const char* dict : {"_parameters", "_buffers"}) {
                const ValuePtr* d = dict_get(obj->state, dict);
                if (auto items = dict_items(d ? *d : nullptr))
                    for (const auto& [k, v] : *items)
                        if (k && k->is(Kind::String) && k->s.starts_with(name + "_"))
                            found.push_back(k->s);
            }
            for (size_t i = 0; i < found.size(); ++i)
                parts += (i ? (i + 1 == found.size() ? " and " : ", ") : "") + found[i];
        }
        return "a forward pre-hook (" + hook + ") recomputes " +
               (name.empty() ? "its tensors" : name) + (parts.empty() ? "" : " from " + parts) +
               " before each call, and nnscope does not run forward hooks";
    }
    if (!post.empty())
        return "a forward hook (" + post.front().first + ") changes what " + obj->name +
               " returns, and nnscope does not run forward hooks";
    if (known_class && names_differ)
        return "its parameters and buffers are not those of " + cls +
               " (a subclass, or another PyTorch version)";
    if (!obj->module.starts_with("torch.nn."))
        return "no forward code: a pickle holds a module's data, not its class's code; save it "
               "with torch.jit.script(model).save(path) (or torch.jit.trace) for a file nnscope "
               "runs";
    return "nnscope does not implement " + cls +
           " yet; a TorchScript save of the model "
           "(torch.jit.script(model).save(path)) runs";
}

struct ModuleBuilder {
    Archive& archive;
    std::vector<NotRunnable> reasons; // every module shown but not runnable, and why
    bool last_oversized = false;      // set by runnable_layer()

    std::optional<bool> get_bool(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        if (!v || !*v || !(*v)->is(Kind::Bool)) return std::nullopt;
        return (*v)->b;
    }
    // A runnable nnscope layer for the torch.nn classes nnscope implements, from the
    // pickled hyper-parameters; nullptr when the class is not one or its attributes are
    // not what that class has.
    ModulePtr runnable_layer(const ValuePtr& obj) {
        const std::string& cls = obj->name;
        const ValuePtr& st = obj->state;
        if (!obj->module.starts_with("torch.nn.modules.")) return nullptr;
        static Generator gen(0); // initial values are replaced by the file's tensors
        SkipInitGuard skip_init; // so none are drawn
        // The layer is built with its pickled hyper-parameters, then every tensor of it is
        // replaced by the file's. Sizes the file's storages cannot hold (even at one byte an
        // element) are not that layer: inspect-only, and nothing allocated for them (a
        // hostile Linear(10^5, 10^5) would otherwise reserve 40 GB first).
        last_oversized = false;
        auto fits = [&](const std::vector<int64_t>& dims) {
            int64_t n = 1;
            for (int64_t d : dims)
                if (d < 0 || __builtin_mul_overflow(n, d, &n)) return !(last_oversized = true);
            return !(last_oversized = uint64_t(n) > archive.storage_bytes());
        };
        const LayerType* type = find_layer_type(cls);
        if (cls == "Sequential") return std::make_shared<Sequential>();
        if (cls == "ModuleList") return std::make_shared<ModuleList>();
        if (!type || !type->torch_nn) return nullptr;
        PickleArgs args(st, gen, fits);
        try {
            return type->make(args);
        } catch (const NotThisLayer&) {
            return nullptr;
        }
    }

    ModulePtr build(const ValuePtr& obj, const std::string& where, int depth) {
        if (depth > 200)
            throw FormatError(archive.path(), where + ": modules nested deeper than 200 levels");
        const ValuePtr& st = obj->state;
        ModulePtr m = runnable_layer(obj);
        const bool known = m != nullptr;
        if (!m) {
            m = std::make_shared<Module>(obj->name);
            if (last_oversized) {
                reasons.push_back({where, obj->qualified_name(),
                                   "its hyper-parameters ask for more elements than the file's "
                                   "storages hold"});
            } else if (obj->module != "torch.nn.modules.container" ||
                       (obj->name != "Sequential" && obj->name != "ModuleList")) {
                reasons.push_back({where, obj->qualified_name(), reason_for(obj, false, false)});
            }
        }
        m->set_strict_names(false);
        // A known layer's registered names must be exactly the file's; otherwise the class
        // is not the one nnscope knows (a subclass, another version) and stays inspect-only.
        auto names_of = [&](const char* dict) {
            std::set<std::string> out;
            if (auto items = dict_items(dict_get(st, dict) ? *dict_get(st, dict) : nullptr))
                for (const auto& [k, v] : *items)
                    if (k && k->is(Kind::String)) out.insert(k->s);
            return out;
        };
        if (known) {
            std::set<std::string> have_p, have_b;
            for (const auto& [k, v] : m->own_parameters()) have_p.insert(k);
            for (const auto& [k, v] : m->own_buffers()) have_b.insert(k);
            const bool differ = have_p != names_of("_parameters") || have_b != names_of("_buffers");
            // A hook would change what the layer computes: not runnable either.
            const bool hooked = !hooks_of(st, "_forward_pre_hooks").empty() ||
                                !hooks_of(st, "_forward_hooks").empty();
            if (differ || hooked) {
                m = std::make_shared<Module>(obj->name);
                m->set_strict_names(false);
                reasons.push_back({where, obj->qualified_name(), reason_for(obj, true, differ)});
            }
        }
        const std::vector<std::string> non_persistent =
            string_set(dict_get(st, "_non_persistent_buffers_set")
                           ? *dict_get(st, "_non_persistent_buffers_set")
                           : nullptr);
        auto prefixed = [&](const std::string& k) { return where.empty() ? k : where + "." + k; };
        if (auto items =
                dict_items(dict_get(st, "_parameters") ? *dict_get(st, "_parameters") : nullptr))
            for (const auto& [k, v] : *items) {
                if (!k || !k->is(Kind::String)) continue;
                if (v && v->is(Kind::None))
                    m->register_parameter(k->s, Tensor());
                else {
                    Tensor t = archive.tensor(v, prefixed(k->s));
                    m->register_parameter(k->s, t, t.requires_grad());
                }
            }
        if (auto items = dict_items(dict_get(st, "_buffers") ? *dict_get(st, "_buffers") : nullptr))
            for (const auto& [k, v] : *items) {
                if (!k || !k->is(Kind::String)) continue;
                bool persistent = std::find(non_persistent.begin(), non_persistent.end(), k->s) ==
                                  non_persistent.end();
                m->register_buffer(
                    k->s, v && v->is(Kind::None) ? Tensor() : archive.tensor(v, prefixed(k->s)),
                    persistent);
            }
        if (auto items = dict_items(dict_get(st, "_modules") ? *dict_get(st, "_modules") : nullptr))
            for (const auto& [k, v] : *items) {
                if (!k || !k->is(Kind::String)) continue;
                if (v && v->is(Kind::None))
                    m->register_module(k->s, nullptr);
                else if (is_module_object(v))
                    m->register_module(k->s, build(v, prefixed(k->s), depth + 1));
                else
                    throw FormatError(archive.path(), prefixed(k->s) + ": child is not a module: " +
                                                          pickle::describe(v, 1));
            }
        // Plain tensor attributes: tensors in __dict__ outside the three registries.
        if (auto items = dict_items(st))
            for (const auto& [k, v] : *items)
                if (k && k->is(Kind::String) && Archive::is_tensor(v))
                    m->set_attr(k->s, archive.tensor(v, prefixed(k->s)));
        if (auto training = get_bool(st, "training")) set_own_training(*m, *training);
        return m;
    }
};

LoadedModel from_value(Archive& archive, const ValuePtr& v, const std::string& path,
                       const std::string& label) {
    LoadedModel doc;
    doc.format = "pt";
    if (is_module_object(v)) {
        ModuleBuilder b{archive, {}, false};
        doc.root = b.build(v, "", 0);
        doc.kind_source = KindSource::Declared;
        doc.not_runnable = b.reasons;
        if (!b.reasons.empty()) doc.note = "inspect-only: " + not_runnable_summary(b.reasons);
        return doc;
    }
    std::vector<std::pair<std::string, Tensor>> entries;
    if (Archive::is_tensor(v)) {
        entries.emplace_back(label.empty() ? "tensor" : label, archive.tensor(v, label));
    } else if (is_state_dict(v)) {
        for (const auto& [k, t] : *dict_items(v))
            if (!t->is(Kind::None)) entries.emplace_back(k->s, archive.tensor(t, k->s));
        // state_dict._metadata, set on the OrderedDict by BUILD: kept for saving as .pt.
        if (v->is(Kind::Object) && v->state)
            if (const ValuePtr* md = dict_get(v->state, "_metadata"); md && dict_items(*md))
                doc.torch_metadata = plain_json(*md).dump();
    } else {
        throw FormatError(path, std::string(label.empty() ? "" : "entry '" + label + "': ") +
                                    "holds " + entry_summary(v) +
                                    ", not a state dict, a tensor or a module");
    }
    // A lazy module's uninitialized entries say what they are by their class.
    std::vector<std::pair<std::string, std::string>> said;
    for (const auto& [name, t] : entries)
        if (t.is_uninitialized())
            said.emplace_back(name, t.impl()->is_parameter ? "parameter" : "buffer");
    try {
        doc.root = tree_from_state_dict(entries, said.empty() ? nullptr : &said, nullptr);
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(path, e.what());
    }
    doc.kind_source = KindSource::Inferred;
    return doc;
}

// Storages are mapped from the file; those that could not be (compressed or unaligned
// entries, a big-endian file) were read, and the document says so.
void note_storages_read(LoadedModel& doc, const Archive& archive) {
    if (archive.storages_read() == 0) return;
    const std::string note =
        std::to_string(archive.storages_read()) + " of " +
        std::to_string(archive.storages().size()) +
        " storages read into memory (compressed, unaligned or big-endian zip entries); "
        "the others are mapped from the file";
    doc.note = doc.note.empty() ? note : doc.note + "; " + note;
}

} // namespace

LoadedModel open_pt(const std::string& path, const std::string& entry) {
    Archive archive(path);
    const ValuePtr& root = archive.root();
    // A checkpoint dict: a dict that is neither a state dict nor a module.
    if (!is_state_dict(root) && !is_module_object(root) && dict_items(root)) {
        std::vector<std::pair<std::string, std::string>> entries;
        std::vector<std::string> openable;
        for (const auto& [k, v] : *dict_items(root)) {
            std::string key = k && k->is(Kind::String) ? k->s : pickle::describe(k, 1);
            entries.emplace_back(key, entry_summary(v));
            if (is_state_dict(v) || is_module_object(v) || Archive::is_tensor(v))
                openable.push_back(key);
        }
        std::string chosen = entry;
        if (chosen.empty()) {
            if (openable.size() != 1) {
                std::string list;
                for (const auto& [k, what] : entries)
                    list += (list.empty() ? "" : ", ") + k + " (" + what + ")";
                throw FormatError(path, "a checkpoint with entries " + list +
                                            ": choose one with --entry NAME");
            }
            chosen = openable[0];
        }
        const ValuePtr* value = dict_get(root, chosen);
        if (!value) {
            std::string list;
            for (const auto& [k, what] : entries) list += (list.empty() ? "" : ", ") + k;
            throw FormatError(path, "no entry '" + chosen + "' (entries: " + list + ")");
        }
        LoadedModel doc = from_value(archive, *value, path, chosen);
        doc.format = "pt-checkpoint";
        doc.checkpoint_entries = entries;
        doc.entry = chosen;
        std::string note = "opened checkpoint entry '" + chosen + "'";
        doc.note = doc.note.empty() ? note : note + "; " + doc.note;
        note_storages_read(doc, archive);
        return doc;
    }
    if (!entry.empty())
        throw FormatError(path, "--entry " + entry + ": the file is not a checkpoint dict");
    LoadedModel doc = from_value(archive, root, path, "");
    note_storages_read(doc, archive);
    return doc;
}

} // namespace nnscope::torchpt
