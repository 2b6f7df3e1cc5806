// model_spec.cpp: builds module trees from JSON specs (nlohmann/json, ordered objects so
// registration order is the file's order).
#include "model_spec.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "json_text.h"
#include "layers/layers.h"
#include "layers/registry.h"
#include "random.h"

namespace nnscope {

using json = nlohmann::ordered_json;

namespace {

constexpr int k_max_depth = 64;

// Where we are in the file, for messages: "children[1] (BatchNorm1d)".
struct Ctx {
    const std::string& path;
    std::string where;
    Generator& gen;
    [[noreturn]] void fail(const std::string& msg) const {
        throw FormatError(path, (where.empty() ? std::string("top level") : where) + ": " + msg);
    }
};

const json* get(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

int64_t get_int(const Ctx& c, const json& obj, const char* key,
                std::optional<int64_t> def = std::nullopt) {
    const json* v = get(obj, key);
    if (!v) {
        if (def) return *def;
        c.fail(std::string("missing required key '") + key + "'");
    }
    if (!v->is_number_integer())
        c.fail(std::string("'") + key + "' must be an integer, got " + v->dump());
    return v->get<int64_t>();
}

double get_double(const Ctx& c, const json& obj, const char* key, double def) {
    const json* v = get(obj, key);
    if (!v) return def;
    if (!v->is_number()) c.fail(std::string("'") + key + "' must be a number, got " + v->dump());
    return v->get<double>();
}

bool get_bool(const Ctx& c, const json& obj, const char* key, bool def) {
    const json* v = get(obj, key);
    if (!v) return def;
    if (!v->is_boolean())
        c.fail(std::string("'") + key + "' must be true or false, got " + v->dump());
    return v->get<bool>();
}

std::optional<int64_t> get_opt_int(const Ctx& c, const json& obj, const char* key) {
    const json* v = get(obj, key);
    if (!v || v->is_null()) return std::nullopt;
    return get_int(c, obj, key);
}

std::array<int64_t, 2> get_pair(const Ctx& c, const json& obj, const char* key, int64_t def) {
    const json* v = get(obj, key);
    if (!v) return {def, def};
    if (v->is_number_integer()) return {v->get<int64_t>(), v->get<int64_t>()};
    if (v->is_array() && v->size() == 2 && (*v)[0].is_number_integer() &&
        (*v)[1].is_number_integer())
        return {(*v)[0].get<int64_t>(), (*v)[1].get<int64_t>()};
    c.fail(std::string("'") + key + "' must be an integer or a list of two integers, got " +
           v->dump());
}

void check_keys(const Ctx& c, const json& obj, std::initializer_list<const char*> allowed) {
    if (!obj.is_object())
        c.fail(std::string("expected an object, got ") + obj.type_name() + " " +
               cut_utf8(obj.dump(), 60));
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || it.key() == a;
        if (!ok) c.fail("unknown key '" + it.key() + "'");
    }
}

// --- declared tensors of a "Module" entry -----------------------------------------------------

void flatten_values(const Ctx& c, const json& v, std::vector<double>& out, Shape& shape,
                    size_t depth) {
    if (v.is_array()) {
        if (depth == shape.size())
            shape.push_back(int64_t(v.size()));
        else if (shape[depth] != int64_t(v.size()))
            c.fail("literal values are ragged (not a rectangular nested list)");
        for (const auto& e : v) flatten_values(c, e, out, shape, depth + 1);
    } else if (v.is_number() || v.is_boolean()) {
        if (depth != shape.size())
            c.fail("literal values are ragged (not a rectangular nested list)");
        out.push_back(v.is_boolean() ? double(v.get<bool>()) : v.get<double>());
    } else {
        c.fail("literal values must be numbers, got " + v.dump());
    }
}

Tensor build_tensor(const Ctx& c, const json& spec) {
    if (!spec.is_object())
        c.fail("must be an object with shape, dtype and init, got " + spec.dump());
    DType dtype = DType::Float32;
    if (const json* d = get(spec, "dtype")) {
        auto parsed = d->is_string() ? dtype_from_name(d->get<std::string>()) : std::nullopt;
        if (!parsed) c.fail("unknown dtype " + d->dump());
        dtype = *parsed;
    }
    std::optional<Shape> shape;
    if (const json* s = get(spec, "shape")) {
        if (!s->is_array()) c.fail("'shape' must be a list of integers, got " + s->dump());
        Shape sh;
        for (const auto& e : *s) {
            if (!e.is_number_integer() || e.get<int64_t>() < 0)
                c.fail("'shape' must be a list of non-negative integers, got " + s->dump());
            sh.push_back(e.get<int64_t>());
        }
        if (sh.size() > 16)
            c.fail("rank " + std::to_string(sh.size()) + " exceeds the limit of 16");
        shape = sh;
    }
    const json* init = get(spec, "init");
    std::string kind = init == nullptr     ? "zeros"
                       : init->is_string() ? init->get<std::string>()
                                           : "";
    if (init && (init->is_array())) {
        std::vector<double> values;
        Shape lit_shape;
        flatten_values(c, *init, values, lit_shape, 0);
        if (shape && shape_numel(*shape) != int64_t(values.size()))
            c.fail("init has " + std::to_string(values.size()) + " values but shape " +
                   shape_str(*shape) + " needs " + std::to_string(shape_numel(*shape)));
        return from_doubles(values, shape ? *shape : lit_shape, TensorOptions(dtype));
    }
    if (!shape) c.fail("missing required key 'shape'");
    if (shape_numel(*shape) > (int64_t(1) << 31))
        c.fail("shape " + shape_str(*shape) + " is too large for a spec");
    if (init && init->is_number())
        return full(*shape,
                    init->is_number_integer() ? Scalar(init->get<int64_t>())
                                              : Scalar(init->get<double>()),
                    TensorOptions(dtype));
    if (kind == "zeros") return zeros(*shape, TensorOptions(dtype));
    if (kind == "ones") return ones(*shape, TensorOptions(dtype));
    if (kind == "arange") {
        Tensor t = arange(shape_numel(*shape), TensorOptions(dtype));
        return t.reshape(*shape);
    }
    if (kind == "randn" || kind == "rand" || kind == "uniform") {
        if (!dtype_is_floating(dtype)) c.fail("init '" + kind + "' needs a floating-point dtype");
        Tensor t = empty(*shape, TensorOptions(dtype));
        if (kind == "randn")
            normal_(t, get_double(c, spec, "mean", 0), get_double(c, spec, "std", 1), c.gen);
        else
            uniform_(t, get_double(c, spec, "low", 0), get_double(c, spec, "high", 1), c.gen);
        return t;
    }
    c.fail("unknown init " + (init ? init->dump() : std::string()) +
           " (expected zeros, ones, arange, randn, rand, uniform, a number or a nested list of "
           "values)");
}

ModulePtr build_module(const Ctx& c, const json& spec, int depth);

// A layer's hyper-parameters from its spec object, with PyTorch's defaults (registry.h).
class SpecArgs : public LayerArgs {
  public:
    SpecArgs(const Ctx& c, const json& spec) : LayerArgs(c.gen), m_c(c), m_spec(spec) {}
    int64_t integer(const char* key, std::optional<int64_t> dflt) override {
        return get_int(m_c, m_spec, key, dflt);
    }
    double number(const char* key, double dflt) override {
        return get_double(m_c, m_spec, key, dflt);
    }
    bool boolean(const char* key, bool dflt) override { return get_bool(m_c, m_spec, key, dflt); }
    std::array<int64_t, 2> pair(const char* key, std::optional<int64_t> dflt) override {
        if (!dflt && !get(m_spec, key)) m_c.fail(std::string("missing required key '") + key + "'");
        return get_pair(m_c, m_spec, key, dflt.value_or(0));
    }
    std::optional<int64_t> optional_integer(const char* key) override {
        return get_opt_int(m_c, m_spec, key);
    }
    int64_t single(const char* key, std::optional<int64_t> dflt) override {
        const json* v = get(m_spec, key);
        if (v && v->is_array() && v->size() == 1 && (*v)[0].is_number_integer())
            return (*v)[0].get<int64_t>();
        if (v && !v->is_number_integer())
            m_c.fail(std::string("'") + key +
                     "' must be an integer or a list of one integer, got " + v->dump());
        return integer(key, dflt);
    }
    std::optional<bool> optional_boolean(const char* key) override {
        const json* v = get(m_spec, key);
        if (!v || v->is_null()) return std::nullopt;
        return boolean(key, false);
    }
    std::optional<double> optional_number(const char* key, std::optional<double> dflt) override {
        const json* v = get(m_spec, key);
        if (!v) return dflt;
        if (v->is_null()) return std::nullopt;
        return get_double(m_c, m_spec, key, 0);
    }
    Shape shape(const char* key) override {
        const json* v = get(m_spec, key);
        if (!v) m_c.fail(std::string("missing required key '") + key + "'");
        const std::string bad =
            std::string("'") + key + "' must be an integer or a list of integers";
        if (v->is_number_integer()) return {v->get<int64_t>()};
        if (!v->is_array()) m_c.fail(bad);
        Shape out;
        for (const auto& e : *v) {
            if (!e.is_number_integer()) m_c.fail(bad);
            out.push_back(e.get<int64_t>());
        }
        return out;
    }
    std::string text(const char* key, const std::string& dflt) override {
        const json* v = get(m_spec, key);
        if (!v) return dflt;
        if (!v->is_string())
            m_c.fail(std::string("'") + key + "' must be a string, got " + v->dump());
        return v->get<std::string>();
    }
    bool has_bias() override { return boolean("bias", true); }
    [[noreturn]] void fail(const std::string& what) override { m_c.fail(what); }

  private:
    const Ctx& m_c;
    const json& m_spec;
};

void build_custom(const Ctx& c, const json& spec, Module& m, int depth) {
    auto each = [&](const char* key,
                    const std::function<void(const std::string&, const json&, const Ctx&)>& f) {
        const json* obj = get(spec, key);
        if (!obj) return;
        if (!obj->is_object()) c.fail(std::string("'") + key + "' must be an object of name: spec");
        for (auto it = obj->begin(); it != obj->end(); ++it) {
            Ctx sub{c.path, c.where + (c.where.empty() ? "" : ".") + key + "." + it.key(), c.gen};
            try {
                f(it.key(), it.value(), sub);
            } catch (const FormatError&) {
                throw;
            } catch (const Error& e) {
                sub.fail(e.what());
            }
        }
    };
    each("parameters", [&](const std::string& name, const json& v, const Ctx& sub) {
        check_keys(sub, v,
                   {"shape", "dtype", "init", "requires_grad", "mean", "std", "low", "high"});
        Tensor t = build_tensor(sub, v);
        m.register_parameter(name, t, get_bool(sub, v, "requires_grad", true));
    });
    each("buffers", [&](const std::string& name, const json& v, const Ctx& sub) {
        check_keys(sub, v, {"shape", "dtype", "init", "persistent", "mean", "std", "low", "high"});
        m.register_buffer(name, build_tensor(sub, v), get_bool(sub, v, "persistent", true));
    });
    each("attributes", [&](const std::string& name, const json& v, const Ctx& sub) {
        check_keys(sub, v, {"shape", "dtype", "init", "mean", "std", "low", "high"});
        if (m.has_attr(name)) sub.fail("attribute '" + name + "' already exists");
        m.set_attr(name, build_tensor(sub, v));
    });
    if (const json* children = get(spec, "children")) {
        if (!children->is_object())
            c.fail("'children' of a Module must be an object of name: spec");
        for (auto it = children->begin(); it != children->end(); ++it) {
            Ctx sub{c.path, c.where + (c.where.empty() ? "" : ".") + "children." + it.key(), c.gen};
            ModulePtr child = build_module(sub, it.value(), depth + 1);
            try {
                m.register_module(it.key(), child);
            } catch (const Error& e) {
                sub.fail(e.what());
            }
        }
    }
}

ModulePtr build_module(const Ctx& c0, const json& spec, int depth) {
    if (depth > k_max_depth)
        c0.fail("modules nested deeper than " + std::to_string(k_max_depth) + " levels");
    if (!spec.is_object())
        c0.fail("a module must be a JSON object, got " + spec.dump().substr(0, 40));
    const json* type_v = get(spec, "type");
    if (!type_v || !type_v->is_string()) c0.fail("missing required key 'type'");
    const std::string type = type_v->get<std::string>();
    Ctx c{c0.path, c0.where.empty() ? type : c0.where + " (" + type + ")", c0.gen};
    const bool top = depth == 0;
    auto keys_in = [&](const std::vector<const char*>& extra) {
        std::vector<const char*> allowed{"type", "name", "class", "comment"};
        if (top) allowed.insert(allowed.end(), {"title", "lesson", "seed"});
        allowed.insert(allowed.end(), extra.begin(), extra.end());
        for (auto it = spec.begin(); it != spec.end(); ++it) {
            bool ok = false;
            for (const char* a : allowed) ok = ok || it.key() == a;
            if (!ok) c.fail("unknown key '" + it.key() + "'");
        }
    };
    auto keys = [&](std::initializer_list<const char*> extra) {
        keys_in(std::vector<const char*>(extra));
    };
    ModulePtr m;
    try {
        if (type == "Sequential") {
            keys({"children"});
            auto seq = std::make_shared<Sequential>();
            const json* children = get(spec, "children");
            if (children && !children->is_array())
                c.fail("'children' of a Sequential must be a list");
            if (children)
                for (size_t i = 0; i < children->size(); ++i) {
                    Ctx sub{c.path, c.where + ".children[" + std::to_string(i) + "]", c.gen};
                    const json& cs = (*children)[i];
                    ModulePtr child = build_module(sub, cs, depth + 1);
                    std::string name;
                    if (cs.is_object() && cs.contains("name")) {
                        if (!cs["name"].is_string()) sub.fail("'name' must be a string");
                        name = cs["name"].get<std::string>();
                    }
                    try {
                        seq->append(child, name);
                    } catch (const Error& e) {
                        sub.fail(e.what());
                    }
                }
            m = seq;
        } else if (const LayerType* layer = find_layer_type(type)) {
            std::vector<const char*> allowed(layer->keys.begin(), layer->keys.end());
            keys_in(allowed);
            SpecArgs args(c, spec);
            m = layer->make(args);
        } else if (type == "Module") {
            keys({"parameters", "buffers", "attributes", "children"});
            m = std::make_shared<Module>("Module");
            build_custom(c, spec, *m, depth);
        } else {
            std::string known;
            for (const auto& t : spec_module_types()) known += (known.empty() ? "" : ", ") + t;
            c.fail("unknown module type '" + type + "' (known: " + known + ")");
        }
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        c.fail(e.what());
    }
    if (const json* cls = get(spec, "class")) {
        if (!cls->is_string() || cls->get<std::string>().empty())
            c.fail("'class' must be a non-empty string");
        m->set_type_name(cls->get<std::string>());
    }
    return m;
}

} // namespace

std::vector<std::string> spec_module_types() {
    std::vector<std::string> out{"Sequential", "Module"};
    for (const auto& t : layer_types()) out.push_back(t.name);
    return out;
}

ModelSpec parse_model_spec(const std::string& text, const std::string& path,
                           std::optional<uint64_t> seed_override, uint64_t max_tensor_bytes) {
    json doc = parse_json(text, path, "invalid JSON");
    if (!doc.is_object()) throw FormatError(path, "top level: a model spec must be a JSON object");
    ModelSpec out;
    uint64_t seed = 0;
    if (const json* s = get(doc, "seed")) {
        if (!s->is_number_unsigned())
            throw FormatError(path, "top level: 'seed' must be a non-negative integer");
        seed = s->get<uint64_t>();
    }
    if (seed_override) seed = *seed_override;
    Generator gen(seed);
    Ctx c{path, "", gen};
    AllocationLimit limit(max_tensor_bytes);
    out.root = build_module(c, doc, 0);
    out.seed = seed;
    if (const json* t = get(doc, "title"); t && t->is_string()) out.title = t->get<std::string>();
    if (const json* l = get(doc, "lesson"); l && l->is_string()) out.lesson = l->get<std::string>();
    return out;
}

ModelSpec load_model_spec(const std::string& path, std::optional<uint64_t> seed) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FormatError(path, "cannot open: " + std::string(std::strerror(errno)));
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_model_spec(ss.str(), path, seed);
}

} // namespace nnscope
