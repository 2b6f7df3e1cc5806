// ops.cpp: the operator registry, schema parsing and argument binding (see ops.h).
#include "ops.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

#include "errors.h"
#include "parser.h"

namespace nnscope::script {

// Each ops_*.cpp registers its operators; the core's op table's rows first, so that the
// hand-written entries (which also take numbers) replace them.
void register_table_rows();
void register_scalar_ops();
void register_tensor_ops();
void register_nn_ops();

namespace {

std::map<std::string, Op, std::less<>>& registry() {
    static std::map<std::string, Op, std::less<>> table;
    return table;
}

void ensure_registered() {
    static std::once_flag once;
    std::call_once(once, [] {
        register_table_rows();
        register_scalar_ops();
        register_tensor_ops();
        register_nn_ops();
    });
}

} // namespace

void register_op(const char* ns, const char* schema, OpFn fn, const char* maps_to,
                 OpRegistration how) {
    Op op;
    const std::string s = schema;
    const size_t open = s.find('('), close = s.rfind(')');
    op.name = std::string(ns) + "::" + s.substr(0, open);
    op.schema = s;
    op.fn = fn;
    op.maps_to = maps_to;
    // Split the parameters at top-level commas.
    std::string inner = s.substr(open + 1, close - open - 1);
    std::vector<std::string> parts;
    int depth = 0;
    std::string cur;
    for (char c : inner) {
        if (c == '[' || c == '(') ++depth;
        if (c == ']' || c == ')') --depth;
        if (c == ',' && depth == 0) {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) parts.push_back(cur);
    for (std::string p : parts) {
        p.erase(0, p.find_first_not_of(' '));
        p.erase(p.find_last_not_of(' ') + 1);
        if (p == "*") continue;
        if (p == "*args") {
            op.variadic = true;
            continue;
        }
        const size_t eq = p.find('=');
        op.params.push_back(p.substr(0, eq));
        if (eq == std::string::npos) {
            op.defaults.emplace_back();
            op.has_default.push_back(false);
        } else {
            op.defaults.push_back(
                literal_value(*parse_expression(p.substr(eq + 1), "schema " + s), "schema " + s));
            op.has_default.push_back(true);
        }
    }
    const bool exists = registry().count(op.name) > 0;
    if (exists && how != OpRegistration::Override)
        throw std::logic_error("operator " + op.name +
                               " registered twice (mark the second OpRegistration::Override)");
    if (!exists && how == OpRegistration::Override)
        throw std::logic_error("operator " + op.name +
                               " marked Override but nothing was registered before it");
    registry()[op.name] = std::move(op);
}

const char* arith_name(Arith op) {
    static constexpr const char* names[] = {
        "add", "sub", "mul", "div", "floordiv", "remainder", "pow",     "eq",         "ne",
        "lt",  "gt",  "le",  "ge",  "__and__",  "__or__",    "__xor__", "__lshift__", "__rshift__"};
    return names[int(op)];
}

const Op* find_op(std::string_view name) {
    ensure_registered();
    auto it = registry().find(name);
    return it == registry().end() ? nullptr : &it->second;
}

std::vector<const Op*> all_ops() {
    ensure_registered();
    std::vector<const Op*> out;
    for (const auto& [_, op] : registry()) out.push_back(&op);
    return out;
}

ValueList bind_arguments(const Op& op, ValueList positional,
                         std::vector<std::pair<std::string, Value>> keywords) {
    if (op.variadic) {
        if (!keywords.empty())
            throw TypeError(op.name + "() takes no keyword argument '" + keywords[0].first + "'");
        return positional;
    }
    const size_t n = op.params.size();
    if (positional.size() > n)
        throw TypeError(op.name + "() expected at most " + std::to_string(n) +
                        " argument(s) but received " + std::to_string(positional.size()) +
                        " argument(s)");
    std::vector<bool> given(n, false);
    for (size_t k = 0; k < positional.size(); ++k) given[k] = true;
    positional.resize(n);
    for (auto& [name, v] : keywords) {
        auto it = std::find(op.params.begin(), op.params.end(), name);
        if (it == op.params.end())
            throw TypeError(op.name + "() got an unexpected keyword argument '" + name + "'");
        const size_t k = size_t(it - op.params.begin());
        if (given[k])
            throw TypeError(op.name + "() got multiple values for argument '" + name + "'");
        positional[k] = std::move(v);
        given[k] = true;
    }
    for (size_t k = 0; k < n; ++k) {
        if (given[k]) continue;
        if (!op.has_default[k])
            throw TypeError(op.name + "() is missing value for argument '" + op.params[k] + "'");
        positional[k] = op.defaults[k];
    }
    return positional;
}

} // namespace nnscope::script
