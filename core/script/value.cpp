// value.cpp: names, texts and conversions of runtime values (see value.h).
#include "value.h"

#include <cmath>
#include <cstdio>

#include "ast.h"
#include "errors.h"
#include "script_error.h"

namespace nnscope::script {

namespace {

// c10::ScalarType numbering, which TorchScript code uses for dtypes.
struct DTypeNumber {
    DType dtype;
    int64_t number;
};
constexpr DTypeNumber k_dtype_numbers[] = {
    {DType::UInt8, 0}, {DType::Int8, 1},      {DType::Int16, 2},   {DType::Int32, 3},
    {DType::Int64, 4}, {DType::Float16, 5},   {DType::Float32, 6}, {DType::Float64, 7},
    {DType::Bool, 11}, {DType::BFloat16, 15},
};

std::string float_repr(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
    char buf[40];
    for (int prec = 1; prec <= 17; ++prec) { // shortest text that reads back the same
        std::snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    std::string s = buf;
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
}

std::string sequence(const Value& v, bool quote) {
    std::string out = v.kind == Value::Kind::Tuple ? "(" : "[";
    for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        out += quote ? repr((*v.list)[k]) : repr((*v.list)[k]);
    }
    if (v.kind == Value::Kind::Tuple && v.list->size() == 1) out += ",";
    out += v.kind == Value::Kind::Tuple ? ")" : "]";
    return out;
}

} // namespace

std::vector<Shape> tensor_shapes(const Value& v) {
    std::vector<Shape> out;
    std::vector<const Value*> stack{&v};
    while (!stack.empty()) {
        const Value* x = stack.back();
        stack.pop_back();
        if (x->kind == Value::Kind::Tensor && x->t.defined()) out.push_back(x->t.shape());
        if (x->is_sequence() && x->list)
            for (auto it = x->list->rbegin(); it != x->list->rend(); ++it) stack.push_back(&*it);
    }
    return out;
}

std::string type_name(const Value& v) {
    switch (v.kind) {
    case Value::Kind::None:
        return "NoneType";
    case Value::Kind::Bool:
        return "bool";
    case Value::Kind::Int:
        return "int";
    case Value::Kind::Float:
        return "float";
    case Value::Kind::Str:
        return "str";
    case Value::Kind::Tensor:
        return "Tensor";
    case Value::Kind::List:
        return v.list->empty() ? "List[t]" : "List[" + type_name(v.list->front()) + "]";
    case Value::Kind::Tuple: {
        std::string out = "Tuple[";
        for (size_t k = 0; k < v.list->size(); ++k)
            out += (k ? ", " : "") + type_name((*v.list)[k]);
        return out + "]";
    }
    case Value::Kind::Dict:
        return "Dict";
    case Value::Kind::Device:
        return "Device";
    case Value::Kind::Module:
        return v.module ? v.module->type_name() : "Module";
    case Value::Kind::Function:
        return "Function";
    case Value::Kind::Class:
        return "Class";
    }
    return "?";
}

std::string str(const Value& v) {
    if (v.kind == Value::Kind::Str) return v.s;
    return repr(v);
}

std::string repr(const Value& v) {
    switch (v.kind) {
    case Value::Kind::None:
        return "None";
    case Value::Kind::Bool:
        return v.b ? "True" : "False";
    case Value::Kind::Int:
        return std::to_string(v.i);
    case Value::Kind::Float:
        return float_repr(v.f);
    case Value::Kind::Str: {
        std::string out = "'";
        for (char c : v.s) {
            if (c == '\'' || c == '\\') out += '\\';
            out += c;
        }
        return out + "'";
    }
    case Value::Kind::Tensor:
        return v.t.repr();
    case Value::Kind::List:
    case Value::Kind::Tuple:
        return sequence(v, true);
    case Value::Kind::Dict: {
        std::string out = "{";
        for (size_t k = 0; k < v.dict->items.size(); ++k)
            out += (k ? ", " : "") + repr(v.dict->items[k].first) + ": " +
                   repr(v.dict->items[k].second);
        return out + "}";
    }
    case Value::Kind::Device:
        return v.device.str();
    case Value::Kind::Module:
        return type_name(v);
    case Value::Kind::Function:
        return v.fn ? "<function " + v.fn->qualified + ">" : "<function>";
    case Value::Kind::Class:
        return v.cls ? "<class " + v.cls->qualified + ">" : "<class>";
    }
    return "?";
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Value::Kind::Float || b.kind == Value::Kind::Float)
            return to_double(a, "") == to_double(b, "");
        return to_int(a, "") == to_int(b, "");
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case Value::Kind::None:
        return true;
    case Value::Kind::Str:
        return a.s == b.s;
    case Value::Kind::Tensor:
        return a.t.is_same(b.t);
    case Value::Kind::List:
    case Value::Kind::Tuple:
        if (a.list->size() != b.list->size()) return false;
        for (size_t k = 0; k < a.list->size(); ++k)
            if (!equal((*a.list)[k], (*b.list)[k])) return false;
        return true;
    case Value::Kind::Device:
        return a.device == b.device;
    case Value::Kind::Module:
        return a.module == b.module;
    case Value::Kind::Function:
        return a.fn == b.fn;
    default:
        return false;
    }
}

static std::string expected(const char* what, const char* type, const Value& v) {
    return std::string(what) + ": expected " + type + ", got " + type_name(v);
}

int64_t to_int(const Value& v, const char* what) {
    if (v.kind == Value::Kind::Int) return v.i;
    if (v.kind == Value::Kind::Bool) return v.b;
    if (v.kind == Value::Kind::Tensor && v.t.numel() == 1 && !v.t.is_floating_point())
        return v.t.item_int();
    throw TypeError(expected(what, "int", v));
}

double to_double(const Value& v, const char* what) {
    if (v.kind == Value::Kind::Float) return v.f;
    if (v.kind == Value::Kind::Int) return double(v.i);
    if (v.kind == Value::Kind::Bool) return v.b;
    if (v.kind == Value::Kind::Tensor && v.t.numel() == 1) return v.t.item();
    throw TypeError(expected(what, "float", v));
}

bool to_bool(const Value& v, const char* what) {
    switch (v.kind) {
    case Value::Kind::Bool:
        return v.b;
    case Value::Kind::Int:
        return v.i != 0;
    case Value::Kind::Float:
        return v.f != 0;
    case Value::Kind::Tensor:
        if (v.t.numel() == 1) return v.t.item() != 0;
        throw Error("Boolean value of Tensor with more than one value is ambiguous");
    default:
        throw TypeError(expected(what, "bool", v));
    }
}

const Tensor& to_tensor(const Value& v, const char* what) {
    if (v.kind != Value::Kind::Tensor) throw TypeError(expected(what, "Tensor", v));
    return v.t;
}

Tensor to_optional_tensor(const Value& v, const char* what) {
    if (v.is_none()) return {};
    return to_tensor(v, what);
}

std::vector<int64_t> to_ints(const Value& v, const char* what) {
    if (!v.is_sequence()) throw TypeError(expected(what, "List[int]", v));
    std::vector<int64_t> out;
    out.reserve(v.list->size());
    for (const Value& x : *v.list) out.push_back(to_int(x, what));
    return out;
}

std::vector<int64_t> to_ints(const Value& v, size_t n, const char* what) {
    if (v.kind == Value::Kind::Int) return std::vector<int64_t>(n, v.i);
    std::vector<int64_t> out = to_ints(v, what);
    if (out.size() == 1 && n > 1) out.resize(n, out[0]);
    if (out.size() != n)
        throw Error(std::string(what) + ": expected " + std::to_string(n) + " values, got " +
                    std::to_string(out.size()));
    return out;
}

Scalar to_scalar(const Value& v, const char* what) {
    switch (v.kind) {
    case Value::Kind::Bool:
        return Scalar(v.b);
    case Value::Kind::Int:
        return Scalar(v.i);
    case Value::Kind::Float:
        return Scalar(v.f);
    default:
        throw TypeError(expected(what, "number", v));
    }
}

DType to_dtype(const Value& v, const char* what) {
    const int64_t n = to_int(v, what);
    for (const auto& d : k_dtype_numbers)
        if (d.number == n) return d.dtype;
    throw Error(std::string(what) + ": dtype number " + std::to_string(n) + " is not supported");
}

int64_t dtype_number(DType dtype) {
    for (const auto& d : k_dtype_numbers)
        if (d.dtype == dtype) return d.number;
    return -1;
}

Value from_scalar(Scalar s) {
    switch (s.kind) {
    case Scalar::Kind::Bool:
        return Value::boolean(s.i != 0);
    case Scalar::Kind::Int:
        return Value::integer(s.i);
    case Scalar::Kind::Float:
        return Value::number(s.f);
    }
    return {};
}

Value literal_value(const Expr& e, const std::string& where) {
    switch (e.kind) {
    case Expr::Kind::None:
        return Value::none();
    case Expr::Kind::True:
        return Value::boolean(true);
    case Expr::Kind::False:
        return Value::boolean(false);
    case Expr::Kind::Int:
        return Value::integer(e.i);
    case Expr::Kind::Float:
        return Value::number(e.f);
    case Expr::Kind::Str:
        return Value::str(e.s);
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
        ValueList items;
        for (const auto& x : e.items) items.push_back(literal_value(*x, where));
        return Value::make_list(std::move(items), e.kind == Expr::Kind::List ? Value::Kind::List
                                                                             : Value::Kind::Tuple);
    }
    case Expr::Kind::Unary:
        if (e.unop == UnOp::Neg) {
            Value v = literal_value(*e.a, where);
            if (v.kind == Value::Kind::Int)
                v.i = -v.i;
            else if (v.kind == Value::Kind::Float)
                v.f = -v.f;
            else
                break;
            return v;
        }
        break;
    case Expr::Kind::Call: // float("inf"), float("nan")
        if (e.a->kind == Expr::Kind::Name && e.a->name == "float" && e.items.size() == 1 &&
            e.items[0]->kind == Expr::Kind::Str) {
            const std::string& s = e.items[0]->s;
            if (s == "inf") return Value::number(INFINITY);
            if (s == "-inf") return Value::number(-INFINITY);
            if (s == "nan") return Value::number(NAN);
        }
        break;
    default:
        break;
    }
    throw ScriptError(where, e.line, "expected a constant value", "SyntaxError");
}

} // namespace nnscope::script
