// torch_pt.cpp: interpreting torch.save pickles (inert values -> tensors, state dicts,
// module trees) and writing state dicts as torch.save does.
#include "torch_pt.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "../errors.h"
#include "../layers/layers.h"
#include "pickle.h"
#include "torch_zip.h"

namespace nnscope::torchpt {

namespace fs = std::filesystem;
using pickle::Kind;
using pickle::ValuePtr;

namespace {

// --- storage types ----------------------------------------------------------------------------

struct StorageType {
    const char* name;
    DType dtype;
};
constexpr StorageType k_storage_types[] = {
    {"FloatStorage", DType::Float32}, {"DoubleStorage", DType::Float64},
    {"HalfStorage", DType::Float16},  {"BFloat16Storage", DType::BFloat16},
    {"LongStorage", DType::Int64},    {"IntStorage", DType::Int32},
    {"ShortStorage", DType::Int16},   {"CharStorage", DType::Int8},
    {"ByteStorage", DType::UInt8},    {"BoolStorage", DType::Bool},
    {"UntypedStorage", DType::UInt8},
};

const char* storage_name(DType d) {
    for (const auto& s : k_storage_types)
        if (s.dtype == d && std::strcmp(s.name, "UntypedStorage") != 0) return s.name;
    return "ByteStorage";
}

// Items of a dict or an OrderedDict object (REDUCE'd, then SETITEMS).
const std::vector<std::pair<ValuePtr, ValuePtr>>* dict_items(const ValuePtr& v) {
    if (!v) return nullptr;
    if (v->is(Kind::Dict)) return &v->dict;
    if (v->is(Kind::Object) && v->module == "collections" && v->name == "OrderedDict")
        return &v->dict;
    return nullptr;
}

const ValuePtr* dict_get(const ValuePtr& v, const std::string& key) {
    auto items = dict_items(v);
    if (!items) return nullptr;
    for (const auto& [k, val] : *items)
        if (k && k->is(Kind::String) && k->s == key) return &val;
    return nullptr;
}

std::vector<std::string> string_set(const ValuePtr& v) {
    std::vector<std::string> out;
    if (!v) return out;
    const std::vector<ValuePtr>* items = nullptr;
    if (v->is(Kind::Set) || v->is(Kind::List) || v->is(Kind::Tuple))
        items = &v->items;
    else if (v->is(Kind::Object) && (v->name == "set") && v->args && v->args->is(Kind::Tuple) &&
             !v->args->items.empty() && v->args->items[0] && v->args->items[0]->is(Kind::List))
        items = &v->args->items[0]->items;
    if (items)
        for (const auto& x : *items)
            if (x && x->is(Kind::String)) out.push_back(x->s);
    return out;
}

// --- the archive and its tensors --------------------------------------------------------------

class Archive {
  public:
    explicit Archive(const std::string& path) : m_zip(path) {
        if (m_zip.names().empty())
            throw FormatError(path, "empty zip archive: not a torch.save file");
        const std::string& first = m_zip.names()[0];
        auto slash = first.find('/');
        m_prefix = slash == std::string::npos ? "" : first.substr(0, slash + 1);
        if (!m_zip.has(m_prefix + "data.pkl")) {
            for (const auto& n : m_zip.names())
                if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0) {
                    m_prefix = n.substr(0, n.size() - 8);
                    break;
                }
            if (!m_zip.has(m_prefix + "data.pkl"))
                throw FormatError(path, "no data.pkl in the archive: not a torch.save file");
        }
        if (m_zip.has(m_prefix + "byteorder")) {
            std::string order = m_zip.read(m_prefix + "byteorder", 16);
            if (order == "big")
                m_big_endian = true;
            else if (order != "little")
                throw FormatError(path, "unknown byteorder '" + order.substr(0, 16) + "'");
        }
        std::string pkl = m_zip.read(m_prefix + "data.pkl", torchzip::k_max_pickle_size);
        m_root = pickle::load(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(),
                              path + ": data.pkl");
    }

    ~Archive() { pickle::release(m_root); } // frees self-referencing values too
    Archive(const Archive&) = delete;
    Archive& operator=(const Archive&) = delete;

    const ValuePtr& root() const { return m_root; }
    const std::string& path() const { return m_zip.path(); }

    // Is `v` a tensor (a call of one of the rebuild functions)?
    static bool is_tensor(const ValuePtr& v) {
        return v && v->is(Kind::Object) && v->module.starts_with("torch") &&
               (v->name == "_rebuild_tensor_v2" || v->name == "_rebuild_parameter" ||
                v->name == "_rebuild_parameter_with_state" || v->name == "_rebuild_from_type_v2" ||
                v->name == "_rebuild_tensor");
    }

    // Bytes of every storage entry (data/*): a bound on what the file's tensors can hold.
    uint64_t storage_bytes() {
        if (!m_storage_bytes) {
            uint64_t total = 0;
            for (const auto& n : m_zip.names())
                if (n.starts_with(m_prefix + "data/")) total += m_zip.size(n);
            m_storage_bytes = total;
        }
        return *m_storage_bytes;
    }

    // The tensor `v` rebuilds; the same pickle value always gives the same tensor.
    Tensor tensor(const ValuePtr& v, const std::string& where) {
        if (auto it = m_tensors.find(v.get()); it != m_tensors.end()) return it->second;
        // A record whose data is itself (possible through the memo) must not recurse forever.
        if (!m_building.insert(v.get()).second) fail(where, "a tensor record refers to itself");
        if (m_tensors.size() >= k_max_tensors_per_file)
            fail(where, "more than " + std::to_string(k_max_tensors_per_file) +
                            " tensors in one file (the limit)");
        Tensor t = build_tensor(v, where);
        m_building.erase(v.get());
        m_tensors[v.get()] = t;
        return t;
    }

  private:
    [[noreturn]] void fail(const std::string& where, const std::string& what) const {
        throw FormatError(path(), (where.empty() ? "" : where + ": ") + what);
    }

    const std::vector<ValuePtr>& args_of(const ValuePtr& v, size_t min,
                                         const std::string& where) const {
        if (!v->args || !v->args->is(Kind::Tuple) || v->args->items.size() < min)
            fail(where, v->qualified_name() + " expects at least " + std::to_string(min) +
                            " arguments, got " + pickle::describe(v->args, 1));
        return v->args->items;
    }

    static int64_t as_int(const ValuePtr& v, bool& ok) {
        if (v && v->is(Kind::Int)) return v->i;
        if (v && v->is(Kind::Bool)) return v->b;
        ok = false;
        return 0;
    }

    Shape int_tuple(const ValuePtr& v, const char* what, const std::string& where) const {
        if (!v || !(v->is(Kind::Tuple) || v->is(Kind::List) ||
                    (v->is(Kind::Object) && v->name == "Size")))
            fail(where,
                 std::string(what) + " must be a tuple of integers, got " + pickle::describe(v, 1));
        const auto& items =
            v->is(Kind::Object)
                ? (v->args && !v->args->items.empty() ? v->args->items[0]->items : v->items)
                : v->items;
        Shape out;
        for (const auto& x : items) {
            bool ok = true;
            out.push_back(as_int(x, ok));
            if (!ok)
                fail(where, std::string(what) + " must be a tuple of integers, got " +
                                pickle::describe(v, 1));
        }
        return out;
    }

    Tensor storage(const ValuePtr& pid_value, const std::string& where) {
        if (!pid_value || !pid_value->is(Kind::PersistentId))
            fail(where, "tensor storage is not a persistent id: " + pickle::describe(pid_value, 2));
        const ValuePtr& pid = pid_value->pid;
        if (!pid || !pid->is(Kind::Tuple) || pid->items.size() < 5 ||
            !pid->items[0]->is(Kind::String) || pid->items[0]->s != "storage")
            fail(where, "unknown persistent id " + pickle::describe(pid, 2));
        const ValuePtr& type = pid->items[1];
        const ValuePtr& key = pid->items[2];
        bool ok = true;
        int64_t numel = as_int(pid->items[4], ok);
        if (!type || !type->is(Kind::Global) || !key || !key->is(Kind::String) || !ok || numel < 0)
            fail(where, "malformed storage record " + pickle::describe(pid, 2));
        std::optional<DType> dtype;
        for (const auto& s : k_storage_types)
            if ((type->module == "torch" || type->module == "torch.storage") &&
                type->name == s.name)
                dtype = s.dtype;
        if (!dtype)
            fail(where, "unsupported storage type " + type->qualified_name() + " (storage '" +
                            key->s + "')");
        if (auto it = m_storages.find(key->s); it != m_storages.end()) {
            if (it->second.dtype() != *dtype)
                fail(where, "storage '" + key->s + "' is used with two dtypes");
            return it->second;
        }
        if (key->s.empty() || key->s.find('/') != std::string::npos ||
            key->s.find("..") != std::string::npos)
            fail(where, "invalid storage key '" + key->s + "'");
        const std::string entry = m_prefix + "data/" + key->s;
        if (!m_zip.has(entry))
            fail(where, "storage '" + key->s + "' is missing from the archive (" + entry + ")");
        const uint64_t es = dtype_size(*dtype);
        if (uint64_t(numel) > torchzip::k_max_entry_size / es)
            fail(where, "storage '" + key->s + "' declares " + std::to_string(numel) +
                            " elements: too large");
        const uint64_t nbytes = uint64_t(numel) * es;
        if (m_zip.size(entry) < nbytes)
            fail(where, "storage '" + key->s + "' declares " + std::to_string(numel) +
                            " elements (" + std::to_string(nbytes) +
                            " bytes) but the archive entry holds " +
                            std::to_string(m_zip.size(entry)) + " bytes");
        Tensor s = empty({numel}, TensorOptions(*dtype));
        if (nbytes) m_zip.read_into(entry, s.data_ptr(), nbytes);
        if (m_big_endian && es > 1) {
            auto* b = static_cast<uint8_t*>(s.data_ptr());
            for (uint64_t i = 0; i < nbytes; i += es)
                for (uint64_t j = 0; j < es / 2; ++j) std::swap(b[i + j], b[i + es - 1 - j]);
        }
        m_storages[key->s] = s;
        return s;
    }

    Tensor build_tensor(const ValuePtr& v, const std::string& where) {
        if (!is_tensor(v)) fail(where, "expected a tensor, got " + pickle::describe(v, 2));
        if (v->name == "_rebuild_parameter" || v->name == "_rebuild_parameter_with_state") {
            const auto& a = args_of(v, 2, where);
            Tensor data = tensor(a[0], where);
            bool requires_grad = a[1] && a[1]->is(Kind::Bool) ? a[1]->b : true;
            return make_parameter(data, requires_grad && data.is_floating_point());
        }
        if (v->name == "_rebuild_from_type_v2") {
            // torch 2: (func, new_type, args, state): func rebuilds, new_type may be Parameter.
            const auto& a = args_of(v, 3, where);
            auto inner = std::make_shared<pickle::Value>();
            inner->kind = Kind::Object;
            inner->module = a[0] ? a[0]->module : "";
            inner->name = a[0] ? a[0]->name : "";
            inner->args = a[2];
            Tensor t = build_tensor(inner, where);
            if (a[1] && a[1]->name == "Parameter") return make_parameter(t, t.is_floating_point());
            return t;
        }
        if (v->name == "_rebuild_tensor")
            fail(where, "legacy tensor records (_rebuild_tensor) are not supported");
        const auto& a = args_of(v, 4, where);
        Tensor s = storage(a[0], where);
        bool ok = true;
        int64_t offset = as_int(a[1], ok);
        if (!ok) fail(where, "storage offset must be an integer, got " + pickle::describe(a[1], 1));
        Shape size = int_tuple(a[2], "size", where), stride = int_tuple(a[3], "stride", where);
        try {
            Tensor t = as_strided(s, size, stride, offset);
            if (a.size() > 4 && a[4] && a[4]->is(Kind::Bool) && a[4]->b && t.is_floating_point())
                t.set_requires_grad(true);
            return t;
        } catch (const FormatError&) {
            throw;
        } catch (const Error& e) {
            fail(where, e.what());
        }
    }

    torchzip::ZipReader m_zip;
    std::string m_prefix;
    bool m_big_endian = false;
    std::optional<uint64_t> m_storage_bytes;
    ValuePtr m_root;
    std::map<std::string, Tensor> m_storages;
    std::map<const pickle::Value*, Tensor> m_tensors;
    std::set<const pickle::Value*> m_building;
};

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
        if (auto training = get_bool(st, "training")) {
            // train() recurses; set this module's flag alone, children set theirs.
            bool mode = *training;
            std::vector<bool> child_modes;
            for (const auto& [n, c] : m->own_children())
                child_modes.push_back(c ? c->is_training() : false);
            m->train(mode);
            size_t i = 0;
            for (const auto& [n, c] : m->own_children()) {
                if (c) c->train(child_modes[i]);
                ++i;
            }
        }
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

// --- writing ----------------------------------------------------------------------------------

namespace {

// Protocol 2 opcodes, only those torch's weights_only unpickler accepts.
class PickleWriter {
  public:
    std::string out;
    void op(char c) { out.push_back(c); }
    void proto() { out += "\x80\x02"; }
    void global(const std::string& module, const std::string& name) {
        out += "c" + module + "\n" + name + "\n";
    }
    void str(const std::string& s) {
        op('X');
        uint32_t n = uint32_t(s.size());
        for (int i = 0; i < 4; ++i) out.push_back(char((n >> (8 * i)) & 0xff));
        out += s;
    }
    void integer(int64_t v) {
        if (v >= 0 && v < 256) {
            op('K');
            out.push_back(char(v));
        } else if (v >= 0 && v < 65536) {
            op('M');
            out.push_back(char(v & 0xff));
            out.push_back(char(v >> 8));
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            op('J');
            uint32_t u = uint32_t(int32_t(v));
            for (int i = 0; i < 4; ++i) out.push_back(char((u >> (8 * i)) & 0xff));
        } else { // LONG1: 8 bytes two's complement
            out += "\x8a\x08";
            uint64_t u = uint64_t(v);
            for (int i = 0; i < 8; ++i) out.push_back(char((u >> (8 * i)) & 0xff));
        }
    }
    void int_tuple(const Shape& s) {
        if (s.empty()) {
            op(')');
            return;
        }
        op('(');
        for (int64_t x : s) integer(x);
        op('t');
    }
    void ordered_dict() {
        global("collections", "OrderedDict");
        op(')');
        op('R');
    }
};

} // namespace

void save_pt(const Module& root, const std::string& path) {
    StateDict sd = root.state_dict();
    std::vector<Tensor> storages; // contiguous host copies, alive while writing
    PickleWriter w;
    w.proto();
    w.ordered_dict();
    w.op('(');
    int64_t key = 0;
    for (const auto& [name, t] : sd.tensors) {
        Tensor h = t.to(Device::cpu()).contiguous();
        if (h.storage_offset() != 0 ||
            size_t(h.numel()) * h.element_size() != h.impl()->storage->nbytes)
            h = h.clone();
        storages.push_back(h);
        w.str(name);
        w.global("torch._utils", "_rebuild_tensor_v2");
        w.op('(');
        w.op('(');
        w.str("storage");
        w.global("torch", storage_name(h.dtype()));
        w.str(std::to_string(key++));
        w.str("cpu");
        w.integer(h.numel());
        w.op('t');
        w.op('Q'); // BINPERSID
        w.integer(0);
        w.int_tuple(h.shape());
        w.int_tuple(h.strides());
        w.op('\x89');     // requires_grad=False
        w.ordered_dict(); // backward hooks
        w.op('t');
        w.op('R');
    }
    w.op('u'); // SETITEMS
    // state_dict._metadata: {prefix: {"version": v}}, set through BUILD on the OrderedDict.
    w.op('}');
    w.str("_metadata");
    w.ordered_dict();
    w.op('(');
    for (const auto& [prefix, version] : sd.versions) {
        w.str(prefix);
        w.op('}');
        w.str("version");
        w.integer(version);
        w.op('s');
    }
    w.op('u');
    w.op('s');
    w.op('b'); // BUILD
    w.op('.');

    // The archive's top folder: the file's stem, as torch.save names it.
    std::string stem = fs::path(path).stem().string(), archive;
    for (char c : stem)
        archive += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    if (archive.empty()) archive = "archive";
    static const std::string version = "3\n", byteorder = "little";
    std::vector<torchzip::WriteEntry> entries;
    entries.push_back({archive + "/data.pkl", w.out.data(), w.out.size()});
    entries.push_back({archive + "/byteorder", byteorder.data(), byteorder.size()});
    for (size_t i = 0; i < storages.size(); ++i)
        entries.push_back({archive + "/data/" + std::to_string(i),
                           storages[i].numel() ? storages[i].data_ptr() : "",
                           storages[i].nbytes()});
    entries.push_back({archive + "/version", version.data(), version.size()});
    torchzip::write_archive(path, entries);
}

} // namespace nnscope::torchpt
