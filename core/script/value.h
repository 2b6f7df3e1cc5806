// value.h: a TorchScript runtime value: None, bool, int, float, str, Tensor, list, tuple,
// dict, device, a module object, or a function of the archive.
//
// Lists and dicts have Python's reference semantics (torch.append on one is seen through
// every name for it), so they are shared; everything else is copied. A dtype is an int, as
// in TorchScript (ScalarType's number: 6 is float32).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "module.h"

namespace nnscope::script {

struct Expr;
struct Function;
struct ClassDef;
struct Value;
using ValueList = std::vector<Value>;
struct DictData {
    std::vector<std::pair<Value, Value>> items; // in insertion order
};

struct Value {
    enum class Kind {
        None,
        Bool,
        Int,
        Float,
        Str,
        Tensor,
        List,
        Tuple,
        Dict,
        Device,
        Module,
        Function,
        Class
    };
    Kind kind = Kind::None;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;                   // Str
    Tensor t;                        // Tensor
    std::shared_ptr<ValueList> list; // List, Tuple
    std::shared_ptr<DictData> dict;
    Device device;
    ModulePtr module;              // Module (a ScriptModule)
    const Function* fn = nullptr;  // Function
    const ClassDef* cls = nullptr; // Class (a NamedTuple's constructor)

    Value() = default;
    static Value none() { return {}; }
    static Value boolean(bool v) {
        Value x;
        x.kind = Kind::Bool;
        x.b = v;
        return x;
    }
    static Value integer(int64_t v) {
        Value x;
        x.kind = Kind::Int;
        x.i = v;
        return x;
    }
    static Value number(double v) {
        Value x;
        x.kind = Kind::Float;
        x.f = v;
        return x;
    }
    static Value str(std::string v) {
        Value x;
        x.kind = Kind::Str;
        x.s = std::move(v);
        return x;
    }
    static Value tensor(Tensor v) {
        if (!v.defined()) return {};
        Value x;
        x.kind = Kind::Tensor;
        x.t = std::move(v);
        return x;
    }
    static Value make_list(ValueList items, Kind kind = Kind::List) {
        Value x;
        x.kind = kind;
        x.list = std::make_shared<ValueList>(std::move(items));
        return x;
    }
    static Value tuple(ValueList items) { return make_list(std::move(items), Kind::Tuple); }
    static Value of_device(Device d) {
        Value x;
        x.kind = Kind::Device;
        x.device = d;
        return x;
    }
    static Value of_module(ModulePtr m) {
        Value x;
        x.kind = Kind::Module;
        x.module = std::move(m);
        return x;
    }

    bool is(Kind k) const { return kind == k; }
    bool is_none() const { return kind == Kind::None; }
    bool is_number() const {
        return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool;
    }
    bool is_sequence() const { return kind == Kind::List || kind == Kind::Tuple; }
};

// "int", "Tensor", "List[int]": the TorchScript type of a value, for error texts.
std::string type_name(const Value& v);
// Python's str() and repr() of a value ("[1, 2]", "tensor([...])", "'a'").
std::string str(const Value& v);
std::string repr(const Value& v);
// The shapes of every tensor in a value, nested tuples and lists flattened in order (a
// module's output shapes, Module::output_shapes()).
std::vector<Shape> tensor_shapes(const Value& v);
// Python's == between values (tensors compare by identity, as `is`).
bool equal(const Value& a, const Value& b);

// Conversions with TorchScript's type errors ("expected int, got Tensor").
int64_t to_int(const Value& v, const char* what);
double to_double(const Value& v, const char* what);
bool to_bool(const Value& v, const char* what);
const Tensor& to_tensor(const Value& v, const char* what);
Tensor to_optional_tensor(const Value& v, const char* what); // None -> undefined
std::vector<int64_t> to_ints(const Value& v, const char* what);
// int[2] arguments accept one int for every dimension.
std::vector<int64_t> to_ints(const Value& v, size_t n, const char* what);
Scalar to_scalar(const Value& v, const char* what);
DType to_dtype(const Value& v, const char* what);
// ScalarType numbers (c10::ScalarType) for the dtypes nnscope has.
int64_t dtype_number(DType d);
Value from_scalar(Scalar s);

// TorchScript's literal values (schemas' defaults, Final constants): None, bools, numbers,
// strings, and lists and tuples of them.
Value literal_value(const Expr& e, const std::string& where);

} // namespace nnscope::script
