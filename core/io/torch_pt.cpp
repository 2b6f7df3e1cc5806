// torch_pt.cpp: interpreting torch.save pickles (inert values -> tensors, state dicts,
// module trees). Writing is torch_pt_writer.cpp's.
#include "torch_pt.h"

#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "../errors.h"
#include "../layers/layers.h"
#include "pickle.h"
#include "torch_archive.h"

namespace nnscope::torchpt {

namespace {

// --- what the file holds ----------------------------------------------------------------------

bool is_module_object(const ValuePtr& v) {
    return v && v->is(Kind::Object) && v->state && dict_get(v->state, "_modules") &&
           dict_get(v->state, "_parameters");
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

struct ModuleBuilder {
    Archive& archive;
    std::vector<std::string> not_runnable; // class names shown but not runnable
    std::vector<std::string> oversized;    // "Linear at 0.fc": sizes the file cannot hold
    bool last_oversized = false;           // set by runnable_layer()

    std::optional<int64_t> get_int(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        if (!v || !*v) return std::nullopt;
        if ((*v)->is(Kind::Int)) return (*v)->i;
        return std::nullopt;
    }
    std::optional<double> get_float(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        if (!v || !*v) return std::nullopt;
        if ((*v)->is(Kind::Float)) return (*v)->f;
        if ((*v)->is(Kind::Int)) return double((*v)->i);
        return std::nullopt;
    }
    std::optional<bool> get_bool(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        if (!v || !*v || !(*v)->is(Kind::Bool)) return std::nullopt;
        return (*v)->b;
    }
    std::optional<std::array<int64_t, 2>> get_pair(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        if (!v || !*v) return std::nullopt;
        if ((*v)->is(Kind::Int)) return std::array<int64_t, 2>{(*v)->i, (*v)->i};
        if ((*v)->is(Kind::Tuple) && (*v)->items.size() == 2 && (*v)->items[0]->is(Kind::Int) &&
            (*v)->items[1]->is(Kind::Int))
            return std::array<int64_t, 2>{(*v)->items[0]->i, (*v)->items[1]->i};
        return std::nullopt;
    }
    bool is_none(const ValuePtr& state, const char* key) {
        const ValuePtr* v = dict_get(state, key);
        return v && *v && (*v)->is(Kind::None);
    }
    bool has_tensor(const ValuePtr& state, const char* dict, const char* name) {
        const ValuePtr* d = dict_get(state, dict);
        const ValuePtr* t = d ? dict_get(*d, name) : nullptr;
        return t && Archive::is_tensor(*t);
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
        using Op = Stateless::Op;
        auto stateless = [&](Op op) { return std::make_shared<Stateless>(op, cls); };
        if (cls == "Sequential") return std::make_shared<Sequential>();
        if (cls == "Linear") {
            auto in = get_int(st, "in_features"), out = get_int(st, "out_features");
            if (!in || !out || !fits({*in, *out})) return nullptr;
            return std::make_shared<Linear>(*in, *out, has_tensor(st, "_parameters", "bias"), gen);
        }
        if (cls == "Conv2d") {
            auto in = get_int(st, "in_channels"), out = get_int(st, "out_channels"),
                 groups = get_int(st, "groups");
            auto k = get_pair(st, "kernel_size"), s = get_pair(st, "stride"),
                 p = get_pair(st, "padding"), d = get_pair(st, "dilation");
            const ValuePtr* mode = dict_get(st, "padding_mode");
            if (!in || !out || !groups || !k || !s || !p || !d || !mode ||
                !(*mode)->is(Kind::String) || (*mode)->s != "zeros" || *groups <= 0 ||
                !fits({*out, *in / *groups, (*k)[0], (*k)[1]}))
                return nullptr;
            return std::make_shared<Conv2d>(*in, *out, *k, *s, *p, *d, *groups,
                                            has_tensor(st, "_parameters", "bias"), gen);
        }
        if (cls == "BatchNorm1d" || cls == "BatchNorm2d") {
            auto n = get_int(st, "num_features");
            auto eps = get_float(st, "eps");
            auto affine = get_bool(st, "affine"), track = get_bool(st, "track_running_stats");
            std::optional<double> momentum = get_float(st, "momentum");
            if (!n || !eps || !affine || !track || (!momentum && !is_none(st, "momentum")) ||
                !fits({*n}))
                return nullptr;
            return std::make_shared<BatchNorm>(cls, *n, *eps, momentum, *affine, *track);
        }
        if (cls == "LayerNorm") {
            const ValuePtr* ns = dict_get(st, "normalized_shape");
            auto eps = get_float(st, "eps");
            auto affine = get_bool(st, "elementwise_affine");
            if (!ns || !(*ns)->is(Kind::Tuple) || !eps || !affine) return nullptr;
            Shape shape;
            for (const auto& x : (*ns)->items) {
                if (!x->is(Kind::Int)) return nullptr;
                shape.push_back(x->i);
            }
            if (!fits(shape)) return nullptr;
            return std::make_shared<LayerNorm>(shape, *eps, *affine);
        }
        if (cls == "Embedding") {
            auto num = get_int(st, "num_embeddings"), dim = get_int(st, "embedding_dim");
            std::optional<int64_t> pad = get_int(st, "padding_idx");
            if (!num || !dim || (!pad && !is_none(st, "padding_idx")) || !is_none(st, "max_norm") ||
                !fits({*num, *dim}))
                return nullptr;
            return std::make_shared<Embedding>(*num, *dim, pad, gen);
        }
        if (cls == "ReLU") return stateless(Op::ReLU);
        if (cls == "Sigmoid") return stateless(Op::Sigmoid);
        if (cls == "Tanh") return stateless(Op::Tanh);
        if (cls == "Identity") return stateless(Op::Identity);
        if (cls == "GELU") {
            const ValuePtr* a = dict_get(st, "approximate");
            auto m = std::make_shared<Stateless>(Op::GELU, cls);
            m->tanh_approximation = a && (*a)->is(Kind::String) && (*a)->s == "tanh";
            return m;
        }
        if (cls == "Flatten") {
            auto s = get_int(st, "start_dim"), e = get_int(st, "end_dim");
            if (!s || !e) return nullptr;
            auto m = stateless(Op::Flatten);
            m->start_dim = *s;
            m->end_dim = *e;
            return m;
        }
        if (cls == "Dropout") {
            auto p = get_float(st, "p");
            if (!p) return nullptr;
            auto m = stateless(Op::Dropout);
            m->p = *p;
            return m;
        }
        if (cls == "Softmax" || cls == "LogSoftmax") {
            auto m = stateless(cls == "Softmax" ? Op::Softmax : Op::LogSoftmax);
            m->dim = get_int(st, "dim");
            if (!m->dim && !is_none(st, "dim")) return nullptr;
            return m;
        }
        return nullptr;
    }

    ModulePtr build(const ValuePtr& obj, const std::string& where, int depth) {
        if (depth > 200)
            throw FormatError(archive.path(), where + ": modules nested deeper than 200 levels");
        const ValuePtr& st = obj->state;
        ModulePtr m = runnable_layer(obj);
        const bool known = m != nullptr;
        if (!m) {
            m = std::make_shared<Module>(obj->name);
            if (last_oversized)
                oversized.push_back(obj->name + " at " + (where.empty() ? "(root)" : where));
            else if (obj->module != "torch.nn.modules.container" || obj->name != "Sequential")
                not_runnable.push_back(obj->module + "." + obj->name);
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
            if (have_p != names_of("_parameters") || have_b != names_of("_buffers")) {
                m = std::make_shared<Module>(obj->name);
                m->set_strict_names(false);
                not_runnable.push_back(obj->module + "." + obj->name);
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

Document from_value(Archive& archive, const ValuePtr& v, const std::string& path,
                    const std::string& label) {
    Document doc;
    doc.path = path;
    doc.format = "pt";
    if (is_module_object(v)) {
        ModuleBuilder b{archive, {}, {}, false};
        doc.root = b.build(v, "", 0);
        doc.kind_source = KindSource::Declared;
        if (!b.not_runnable.empty()) {
            std::set<std::string> unique(b.not_runnable.begin(), b.not_runnable.end());
            std::string list;
            for (const auto& c : unique) list += (list.empty() ? "" : ", ") + c;
            doc.note = "inspect-only: nnscope does not implement " + list;
        }
        if (!b.oversized.empty()) {
            std::string list;
            for (size_t i = 0; i < b.oversized.size() && i < 3; ++i)
                list += (list.empty() ? "" : ", ") + b.oversized[i];
            if (b.oversized.size() > 3)
                list += " and " + std::to_string(b.oversized.size() - 3) + " more";
            doc.note += (doc.note.empty() ? "inspect-only: " : "; ") + list +
                        ": hyper-parameters ask for more elements than the file's storages hold";
        }
        return doc;
    }
    std::vector<std::pair<std::string, Tensor>> entries;
    if (Archive::is_tensor(v)) {
        entries.emplace_back(label.empty() ? "tensor" : label, archive.tensor(v, label));
    } else if (is_state_dict(v)) {
        for (const auto& [k, t] : *dict_items(v))
            if (!t->is(Kind::None)) entries.emplace_back(k->s, archive.tensor(t, k->s));
    } else {
        throw FormatError(path, std::string(label.empty() ? "" : "entry '" + label + "': ") +
                                    "holds " + entry_summary(v) +
                                    ", not a state dict, a tensor or a module");
    }
    try {
        doc.root = tree_from_state_dict(entries, nullptr, nullptr);
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(path, e.what());
    }
    doc.kind_source = KindSource::Inferred;
    return doc;
}

} // namespace

Document open_pt(const std::string& path, const std::string& entry) {
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
        Document doc = from_value(archive, *value, path, chosen);
        doc.format = "pt-checkpoint";
        doc.checkpoint_entries = entries;
        doc.entry = chosen;
        std::string note = "opened checkpoint entry '" + chosen + "'";
        doc.note = doc.note.empty() ? note : note + "; " + doc.note;
        return doc;
    }
    if (!entry.empty())
        throw FormatError(path, "--entry " + entry + ": the file is not a checkpoint dict");
    return from_value(archive, root, path, "");
}

} // namespace nnscope::torchpt
