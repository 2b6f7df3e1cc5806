// ops_scalar.cpp: TorchScript's operators on ints, floats, bools, strings, lists and dicts
// (the arithmetic of shapes and sizes, torch.format, list building), and the prim::
// operators that ask a value what it is. Arithmetic on tensors goes to ops_tensor.cpp.
#include <algorithm>
#include <climits>
#include <cmath>

#include "autograd.h"
#include "errors.h"
#include "ops.h"

namespace nnscope::script {

namespace {

using K = Value::Kind;

bool is_float(const Value& v) {
    return v.kind == K::Float;
}

int64_t py_floordiv(int64_t a, int64_t b) {
    if (b == 0) throw Error("ZeroDivisionError: integer division or modulo by zero");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

int64_t py_mod(int64_t a, int64_t b) {
    if (b == 0) throw Error("ZeroDivisionError: integer division or modulo by zero");
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

double py_fmod(double a, double b) {
    double r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

Value arith(Arith op, ValueList& a) {
    const char* name = arith_name(op);
    const Value& x = a[0];
    const Value& y = a[1];
    if (x.kind == K::Tensor || y.kind == K::Tensor)
        return tensor_binary(op, x, y, a.size() > 2 ? a[2] : Value::integer(1));
    if (op == Arith::Add && x.kind == K::Str && y.kind == K::Str) return Value::str(x.s + y.s);
    if (op == Arith::Add && x.kind == K::List && y.kind == K::List) {
        ValueList items = *x.list;
        items.insert(items.end(), y.list->begin(), y.list->end());
        return Value::make_list(std::move(items));
    }
    if (op == Arith::Mul && x.kind == K::List && (y.kind == K::Int)) {
        if (y.i > 0 && x.list->size() * uint64_t(y.i) > 100'000'000)
            throw ValueError("list * int: more than 10^8 elements");
        ValueList items;
        for (int64_t k = 0; k < y.i; ++k) items.insert(items.end(), x.list->begin(), x.list->end());
        return Value::make_list(std::move(items));
    }
    if (!x.is_number() || !y.is_number())
        throw TypeError(std::string("unsupported operand types for aten::") + name + ": '" +
                        type_name(x) + "' and '" + type_name(y) + "'");
    if (is_float(x) || is_float(y) || op == Arith::Div || op == Arith::Pow) {
        const double p = to_double(x, name), q = to_double(y, name);
        if (op == Arith::Add) return Value::number(p + q);
        if (op == Arith::Sub) return Value::number(p - q);
        if (op == Arith::Mul) return Value::number(p * q);
        if (op == Arith::Div) {
            if (q == 0) throw Error("ZeroDivisionError: float division by zero");
            return Value::number(p / q);
        }
        if (op == Arith::FloorDiv) return Value::number(std::floor(p / q));
        if (op == Arith::Remainder) return Value::number(py_fmod(p, q));
        if (op == Arith::Pow) return Value::number(std::pow(p, q));
    }
    const int64_t p = to_int(x, name), q = to_int(y, name);
    int64_t r = 0;
    // TorchScript's ints are 64-bit: an overflow is an error, not a wrap-around.
    if ((op == Arith::Add && __builtin_add_overflow(p, q, &r)) ||
        (op == Arith::Sub && __builtin_sub_overflow(p, q, &r)) ||
        (op == Arith::Mul && __builtin_mul_overflow(p, q, &r)) ||
        ((op == Arith::FloorDiv || op == Arith::Remainder) && p == INT64_MIN && q == -1))
        throw Error(std::string("integer overflow in aten::") + name);
    if (op == Arith::Add || op == Arith::Sub || op == Arith::Mul) return Value::integer(r);
    if (op == Arith::FloorDiv) return Value::integer(py_floordiv(p, q));
    if (op == Arith::Remainder) return Value::integer(py_mod(p, q));
    throw Error(std::string("aten::") + name + ": unsupported");
}

Value compare(Arith op, ValueList& a) {
    const char* name = arith_name(op);
    const Value& x = a[0];
    const Value& y = a[1];
    if (x.kind == K::Tensor || y.kind == K::Tensor)
        return tensor_binary(op, x, y, Value::integer(1));
    if (op == Arith::Eq) return Value::boolean(equal(x, y));
    if (op == Arith::Ne) return Value::boolean(!equal(x, y));
    int c;
    if (x.kind == K::Str && y.kind == K::Str) {
        c = x.s.compare(y.s);
    } else if (x.is_number() && y.is_number()) {
        if (is_float(x) || is_float(y)) {
            const double p = to_double(x, name), q = to_double(y, name);
            c = p < q ? -1 : p > q ? 1 : 0;
            if (std::isnan(p) || std::isnan(q)) return Value::boolean(false);
        } else {
            const int64_t p = to_int(x, name), q = to_int(y, name);
            c = p < q ? -1 : p > q ? 1 : 0;
        }
    } else {
        throw TypeError(std::string("'") + name + "' not supported between instances of '" +
                        type_name(x) + "' and '" + type_name(y) + "'");
    }
    if (op == Arith::Lt) return Value::boolean(c < 0);
    if (op == Arith::Gt) return Value::boolean(c > 0);
    if (op == Arith::Le) return Value::boolean(c <= 0);
    return Value::boolean(c >= 0);
}

#define ARITH(name) [](ValueList& a, OpContext&) { return arith(name, a); }
#define COMPARE(name) [](ValueList& a, OpContext&) { return compare(name, a); }

Value bitwise(Arith op, ValueList& a) {
    const char* name = arith_name(op);
    const Value& x = a[0];
    const Value& y = a[1];
    if (x.kind == K::Tensor || y.kind == K::Tensor)
        return tensor_binary(op, x, y, Value::integer(1));
    if (x.kind == K::Bool && y.kind == K::Bool) {
        if (op == Arith::And) return Value::boolean(x.b && y.b);
        if (op == Arith::Or) return Value::boolean(x.b || y.b);
        return Value::boolean(x.b != y.b);
    }
    const int64_t p = to_int(x, name), q = to_int(y, name);
    if (op == Arith::And) return Value::integer(p & q);
    if (op == Arith::Or) return Value::integer(p | q);
    if (op == Arith::Xor) return Value::integer(p ^ q);
    if (q < 0 || q > 63) throw ValueError("negative or too large shift count");
    if (op == Arith::LShift) return Value::integer(int64_t(uint64_t(p) << q));
    return Value::integer(p >> q);
}

// torch.format: Python's str.format with positional {} fields only, as the serializer emits.
Value format(ValueList& a, OpContext&) {
    if (a.empty() || a[0].kind != K::Str) throw TypeError("aten::format expects a format string");
    const std::string& f = a[0].s;
    std::string out;
    size_t next = 1;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '{' && i + 1 < f.size() && f[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (f[i] == '}' && i + 1 < f.size() && f[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (f[i] == '{') {
            const size_t close = f.find('}', i);
            if (close == std::string::npos)
                throw ValueError("Single '{' encountered in format string");
            const std::string field = f.substr(i + 1, close - i - 1);
            size_t idx = next++;
            if (!field.empty() && std::all_of(field.begin(), field.end(), ::isdigit))
                idx = std::stoul(field) + 1;
            if (idx >= a.size())
                throw IndexError("Replacement index out of range for positional args tuple");
            const Value& v = a[idx];
            // Python prints tensors and sizes with str(); a list of ints as [1, 2].
            out += str(v);
            i = close;
        } else {
            out += f[i];
        }
    }
    return Value::str(out);
}

Value raise_exception(ValueList& a, OpContext&) {
    std::string message = a.empty() ? "Exception" : str(a[0]);
    std::string kind = a.size() > 1 && a[1].kind == K::Str ? a[1].s : "builtins.RuntimeError";
    const size_t dot = kind.rfind('.');
    if (dot != std::string::npos) kind = kind.substr(dot + 1);
    // Raised as the Python exception it names, with Python's "Kind: message" text.
    if (kind == "ValueError") throw ValueError(kind + ": " + message);
    if (kind == "TypeError") throw TypeError(kind + ": " + message);
    if (kind == "IndexError") throw IndexError(kind + ": " + message);
    if (kind == "KeyError") throw KeyError(kind + ": " + message);
    if (kind == "AttributeError") throw AttributeError(kind + ": " + message);
    if (kind == "NotImplementedError") throw NotImplementedError(kind + ": " + message);
    throw Error(kind + ": " + message);
}

Value length(ValueList& a, OpContext&) {
    const Value& v = a[0];
    if (v.is_sequence()) return Value::integer(int64_t(v.list->size()));
    if (v.kind == K::Str) return Value::integer(int64_t(v.s.size()));
    if (v.kind == K::Dict) return Value::integer(int64_t(v.dict->items.size()));
    if (v.kind == K::Tensor) {
        if (v.t.dim() == 0) throw TypeError("len() of a 0-d tensor");
        return Value::integer(v.t.size(0));
    }
    throw TypeError("object of type '" + type_name(v) + "' has no len()");
}

Value contains(ValueList& a, OpContext&) {
    const Value& c = a[0];
    const Value& x = a[1];
    if (c.is_sequence()) {
        for (const auto& v : *c.list)
            if (equal(v, x)) return Value::boolean(true);
        return Value::boolean(false);
    }
    if (c.kind == K::Dict) {
        for (const auto& [k, v] : c.dict->items)
            if (equal(k, x)) return Value::boolean(true);
        return Value::boolean(false);
    }
    if (c.kind == K::Str && x.kind == K::Str)
        return Value::boolean(c.s.find(x.s) != std::string::npos);
    throw TypeError("argument of type '" + type_name(c) + "' is not iterable");
}

bool same(const Value& a, const Value& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case K::None:
        return true;
    case K::Tensor:
        return a.t.is_same(b.t);
    case K::List:
    case K::Tuple:
        return a.list == b.list;
    case K::Dict:
        return a.dict == b.dict;
    case K::Module:
        return a.module == b.module;
    default:
        return equal(a, b);
    }
}

Value to_int_value(ValueList& a, OpContext&) {
    const Value& v = a[0];
    if (v.kind == K::Float) {
        if (!std::isfinite(v.f))
            throw ValueError("cannot convert float " + repr(v) + " to integer");
        return Value::integer(int64_t(v.f));
    }
    if (v.kind == K::Str) {
        try {
            size_t used = 0;
            int64_t i = std::stoll(v.s, &used);
            if (used == v.s.size()) return Value::integer(i);
        } catch (...) {
        }
        throw ValueError("invalid literal for int() with base 10: " + repr(v));
    }
    if (v.kind == K::Tensor) {
        if (v.t.numel() != 1)
            throw ValueError("only one element tensors can be converted to Python scalars");
        return Value::integer(v.t.is_floating_point() ? int64_t(v.t.item()) : v.t.item_int());
    }
    return Value::integer(to_int(v, "int()"));
}

Value to_float_value(ValueList& a, OpContext&) {
    const Value& v = a[0];
    if (v.kind == K::Str) {
        if (v.s == "inf" || v.s == "+inf") return Value::number(INFINITY);
        if (v.s == "-inf") return Value::number(-INFINITY);
        if (v.s == "nan") return Value::number(NAN);
        try {
            size_t used = 0;
            double d = std::stod(v.s, &used);
            if (used == v.s.size()) return Value::number(d);
        } catch (...) {
        }
        throw ValueError("could not convert string to float: " + repr(v));
    }
    return Value::number(to_double(v, "float()"));
}

Value min_max(bool is_max, ValueList& a) {
    ValueList items;
    if (a.size() == 1 && a[0].is_sequence())
        items = *a[0].list;
    else
        items = a;
    if (items.empty())
        throw ValueError(std::string(is_max ? "max" : "min") + "() arg is an empty sequence");
    Value best = items[0];
    for (size_t k = 1; k < items.size(); ++k) {
        ValueList pair{items[k], best};
        if (to_bool(compare(is_max ? Arith::Gt : Arith::Lt, pair), "min/max")) best = items[k];
    }
    return best;
}

void list_check(const Value& v, const char* op) {
    if (v.kind != K::List)
        throw TypeError(std::string(op) + ": expected a list, got " + type_name(v));
}

} // namespace

void register_scalar_ops() {
    auto pure = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("aten", schema, fn, maps_to);
    };
    // Replace the op table's rows of the same name: these take numbers, lists and strings too.
    auto pure_override = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("aten", schema, fn, maps_to, OpRegistration::Override);
    };
    auto prim = [](const char* schema, OpFn fn, const char* maps_to) {
        register_op("prim", schema, fn, maps_to);
    };

    pure_override("add(self, other, alpha=1)", ARITH(Arith::Add),
                  "Tensor::add, or int/float/str/list +");
    pure_override("sub(self, other, alpha=1)", ARITH(Arith::Sub), "Tensor::sub, or int/float -");
    pure_override("mul(self, other)", ARITH(Arith::Mul), "Tensor::mul, or int/float/list *");
    pure_override("div(self, other, rounding_mode=None)", ARITH(Arith::Div),
                  "Tensor::div, or true division");
    pure("floordiv(self, other)", ARITH(Arith::FloorDiv), "Python's // (floors)");
    pure("remainder(self, other)", ARITH(Arith::Remainder), "Python's % (sign of the divisor)");
    pure_override("pow(self, exponent)", ARITH(Arith::Pow), "Tensor::pow, or float **");
    pure("eq(self, other)", COMPARE(Arith::Eq), "== (values; tensors elementwise)");
    pure("ne(self, other)", COMPARE(Arith::Ne), "!=");
    pure("lt(self, other)", COMPARE(Arith::Lt), "<");
    pure("gt(self, other)", COMPARE(Arith::Gt), ">");
    pure("le(self, other)", COMPARE(Arith::Le), "<=");
    pure("ge(self, other)", COMPARE(Arith::Ge), ">=");
    pure(
        "__and__(self, other)", [](ValueList& a, OpContext&) { return bitwise(Arith::And, a); },
        "and, bitwise and");
    pure(
        "__or__(self, other)", [](ValueList& a, OpContext&) { return bitwise(Arith::Or, a); },
        "or, bitwise or");
    pure(
        "__xor__(self, other)", [](ValueList& a, OpContext&) { return bitwise(Arith::Xor, a); },
        "^");
    pure(
        "__lshift__(self, other)",
        [](ValueList& a, OpContext&) { return bitwise(Arith::LShift, a); }, "<<");
    pure(
        "__rshift__(self, other)",
        [](ValueList& a, OpContext&) { return bitwise(Arith::RShift, a); }, ">>");
    pure(
        "__not__(self)",
        [](ValueList& a, OpContext&) { return Value::boolean(!to_bool(a[0], "not")); }, "not");
    pure(
        "__is__(self, obj)",
        [](ValueList& a, OpContext&) { return Value::boolean(same(a[0], a[1])); }, "is");
    pure(
        "__isnot__(self, obj)",
        [](ValueList& a, OpContext&) { return Value::boolean(!same(a[0], a[1])); }, "is not");
    pure("__contains__(self, key)", contains, "in");
    pure("len(a)", length, "len()");
    pure("format(*args)", format, "str.format with {} fields");
    pure("str(elem)", [](ValueList& a, OpContext&) { return Value::str(str(a[0])); }, "str()");
    pure("Int(a)", to_int_value, "int()");
    pure("Float(a)", to_float_value, "float()");
    pure(
        "Bool(a)", [](ValueList& a, OpContext&) { return Value::boolean(to_bool(a[0], "bool()")); },
        "bool()");
    pure(
        "ScalarImplicit(a)",
        [](ValueList& a, OpContext&) {
            const Tensor& t = to_tensor(a[0], "ScalarImplicit");
            return t.is_floating_point() ? Value::number(t.item()) : Value::integer(t.item_int());
        },
        "a one-element tensor's number");
    pure(
        "list(l)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind == K::Str) {
                ValueList items;
                for (char c : a[0].s) items.push_back(Value::str(std::string(1, c)));
                return Value::make_list(std::move(items));
            }
            if (!a[0].is_sequence())
                throw TypeError("list(): expected a list, got " + type_name(a[0]));
            return Value::make_list(*a[0].list);
        },
        "a shallow copy of a list");
    pure(
        "copy(self)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind == K::Dict) {
                Value d;
                d.kind = K::Dict;
                d.dict = std::make_shared<DictData>(*a[0].dict);
                return d;
            }
            if (!a[0].is_sequence())
                throw TypeError("copy(): expected a list or dict, got " + type_name(a[0]));
            return Value::make_list(*a[0].list, a[0].kind);
        },
        "a shallow copy of a list or dict");
    pure(
        "append(self, el)",
        [](ValueList& a, OpContext&) {
            list_check(a[0], "aten::append");
            if (a[0].list->size() >= 100'000'000)
                throw ValueError("aten::append: list longer than 10^8 elements");
            a[0].list->push_back(a[1]);
            return a[0];
        },
        "list.append");
    pure(
        "_set_item(l, idx, el)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind == K::Dict) {
                for (auto& [k, v] : a[0].dict->items)
                    if (equal(k, a[1])) {
                        v = a[2];
                        return Value::none();
                    }
                a[0].dict->items.emplace_back(a[1], a[2]);
                return Value::none();
            }
            list_check(a[0], "aten::_set_item");
            int64_t i = to_int(a[1], "index"), n = int64_t(a[0].list->size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) throw IndexError("list index out of range");
            (*a[0].list)[size_t(i)] = a[2];
            return a[0];
        },
        "l[idx] = el");
    pure(
        "__getitem__(self, idx)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind == K::Dict) {
                for (const auto& [k, v] : a[0].dict->items)
                    if (equal(k, a[1])) return v;
                throw KeyError(repr(a[1]));
            }
            if (!a[0].is_sequence())
                throw TypeError("'" + type_name(a[0]) + "' object is not subscriptable");
            int64_t i = to_int(a[1], "index"), n = int64_t(a[0].list->size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) throw IndexError("list index out of range");
            return (*a[0].list)[size_t(i)];
        },
        "l[idx]");
    pure(
        "find(self, substr, start=0, end=-1)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind != K::Str || a[1].kind != K::Str)
                throw TypeError("aten::find expects strings");
            const size_t at =
                a[0].s.find(a[1].s, size_t(std::max<int64_t>(0, to_int(a[2], "start"))));
            return Value::integer(at == std::string::npos ? -1 : int64_t(at));
        },
        "str.find");
    pure(
        "__range_length(lo, hi, step)",
        [](ValueList& a, OpContext&) {
            const int64_t lo = to_int(a[0], "lo"), hi = to_int(a[1], "hi"),
                          st = to_int(a[2], "step");
            if (st == 0) throw ValueError("range() arg 3 must not be zero");
            // In unsigned arithmetic: hi - lo may not fit in int64.
            if (st > 0 && lo < hi)
                return Value::integer(
                    int64_t(1 + (uint64_t(hi) - uint64_t(lo) - 1) / uint64_t(st)));
            if (st < 0 && lo > hi)
                return Value::integer(
                    int64_t(1 + (uint64_t(lo) - uint64_t(hi) - 1) / (0 - uint64_t(st))));
            return Value::integer(0);
        },
        "the length of range(lo, hi, step)");
    pure(
        "__derive_index(index, start, step)",
        [](ValueList& a, OpContext&) {
            int64_t prod = 0, r = 0;
            if (__builtin_mul_overflow(to_int(a[0], "index"), to_int(a[2], "step"), &prod) ||
                __builtin_add_overflow(to_int(a[1], "start"), prod, &r))
                throw Error("integer overflow in aten::__derive_index");
            return Value::integer(r);
        },
        "start + index * step");
    pure(
        "warn(message, stacklevel=2)", [](ValueList&, OpContext&) { return Value::none(); },
        "nothing (warnings are not shown)");
    pure(
        "is_grad_enabled()", [](ValueList&, OpContext&) { return Value::boolean(grad_enabled()); },
        "autograd's grad mode");
    pure(
        "is_autocast_enabled()", [](ValueList&, OpContext&) { return Value::boolean(false); },
        "False: no autocast");
    pure("is_scripting()", [](ValueList&, OpContext&) { return Value::boolean(true); }, "True");
    pure(
        "floor(a)",
        [](ValueList& a, OpContext&) {
            return Value::integer(int64_t(std::floor(to_double(a[0], "floor"))));
        },
        "math.floor");
    pure(
        "ceil(a)",
        [](ValueList& a, OpContext&) {
            return Value::integer(int64_t(std::ceil(to_double(a[0], "ceil"))));
        },
        "math.ceil");
    pure(
        "round(a)",
        [](ValueList& a, OpContext&) {
            return Value::number(std::nearbyint(to_double(a[0], "round")));
        },
        "round()");
    pure(
        "divmod(x, y)",
        [](ValueList& a, OpContext& c) {
            ValueList q{a[0], a[1]};
            ValueList r{a[0], a[1]};
            (void)c;
            return Value::tuple({arith(Arith::FloorDiv, q), arith(Arith::Remainder, r)});
        },
        "divmod()");
    register_op(
        "math", "sqrt(x)",
        [](ValueList& a, OpContext&) { return Value::number(std::sqrt(to_double(a[0], "sqrt"))); },
        "math.sqrt");
    register_op(
        "math", "log(x)",
        [](ValueList& a, OpContext&) { return Value::number(std::log(to_double(a[0], "log"))); },
        "math.log");
    register_op(
        "math", "exp(x)",
        [](ValueList& a, OpContext&) { return Value::number(std::exp(to_double(a[0], "exp"))); },
        "math.exp");
    register_op(
        "math", "floor(x)",
        [](ValueList& a, OpContext&) {
            return Value::integer(int64_t(std::floor(to_double(a[0], "floor"))));
        },
        "math.floor");
    register_op(
        "math", "ceil(x)",
        [](ValueList& a, OpContext&) {
            return Value::integer(int64_t(std::ceil(to_double(a[0], "ceil"))));
        },
        "math.ceil");

    prim("RaiseException(*args)", raise_exception, "raises the exception it names, with its text");
    prim("min(*args)", [](ValueList& a, OpContext&) { return min_max(false, a); }, "min()");
    prim("max(*args)", [](ValueList& a, OpContext&) { return min_max(true, a); }, "max()");
    prim(
        "abs(x)",
        [](ValueList& a, OpContext&) {
            if (a[0].kind == K::Float) return Value::number(std::fabs(a[0].f));
            const int64_t v = to_int(a[0], "abs");
            if (v == INT64_MIN) throw Error("integer overflow in abs");
            return Value::integer(v < 0 ? -v : v);
        },
        "abs()");
    prim(
        "tuple(*args)",
        [](ValueList& a, OpContext&) {
            if (a.size() == 1 && a[0].is_sequence()) return Value::tuple(*a[0].list);
            return Value::tuple(a);
        },
        "tuple()");
    prim(
        "TupleConstruct(*args)", [](ValueList& a, OpContext&) { return Value::tuple(a); },
        "a tuple");
    prim(
        "ListConstruct(*args)", [](ValueList& a, OpContext&) { return Value::make_list(a); },
        "a list");
    prim(
        "unchecked_unwrap_optional(optional)", [](ValueList& a, OpContext&) { return a[0]; },
        "its argument");
    prim("unchecked_cast(x)", [](ValueList& a, OpContext&) { return a[0]; }, "its argument");
    prim(
        "enumerate(*args)",
        [](ValueList& a, OpContext&) {
            if (a.empty() || !a[0].is_sequence()) throw TypeError("enumerate() expects a list");
            ValueList items;
            int64_t k = a.size() > 1 ? to_int(a[1], "start") : 0;
            for (const auto& v : *a[0].list)
                items.push_back(Value::tuple({Value::integer(k++), v}));
            return Value::make_list(std::move(items));
        },
        "enumerate()");
    prim(
        "zip(*args)",
        [](ValueList& a, OpContext&) {
            size_t n = SIZE_MAX;
            for (const auto& v : a) {
                if (!v.is_sequence()) throw TypeError("zip() expects lists");
                n = std::min(n, v.list->size());
            }
            ValueList items;
            for (size_t k = 0; k < (a.empty() ? 0 : n); ++k) {
                ValueList row;
                for (const auto& v : a) row.push_back((*v.list)[k]);
                items.push_back(Value::tuple(std::move(row)));
            }
            return Value::make_list(std::move(items));
        },
        "zip()");
}

} // namespace nnscope::script
