// ops.h: the operator table: PyTorch operator names ("aten::conv2d", "prim::dtype") to
// nnscope's implementations, each with its schema's argument names and defaults.
//
// The table knows nothing of TorchScript's syntax: an operator takes bound arguments
// (positional, in schema order, defaults filled in) and returns a value. TorchScript code
// reaches it through torch.X / ops.aten.X / ops.prim.X; a torch.export graph, naming the
// same ATen operators, could use it as it is. Tensor operators call the core's functions
// (tensor.h, functional.h), the same ones the native layers use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "random.h"
#include "value.h"

namespace nnscope::script {

// What an operator may need besides its arguments.
struct OpContext {
    Generator* generator = nullptr; // dropout's masks
};

using OpFn = Value (*)(ValueList& args, OpContext& ctx);

struct Op {
    std::string name;   // "aten::conv2d"
    std::string schema; // "conv2d(input, weight, bias=None, ...)": as registered
    std::vector<std::string> params;
    std::vector<Value> defaults;
    std::vector<bool> has_default;
    bool variadic = false; // "(*args)": every positional argument, as given
    OpFn fn = nullptr;
    std::string maps_to; // what it runs in nnscope's core, for the README's table
};

// "aten::add" or "prim::dtype"; null when the table has no such operator.
const Op* find_op(std::string_view name);
// Every operator, sorted by name.
std::vector<const Op*> all_ops();

// Registration, one call per operator (ops_*.cpp). `schema` is "name(a, b=1, *, c=None)";
// `ns` the namespace ("aten", "prim"). A name is registered once: a second registration
// throws std::logic_error, unless it says Override, which replaces a row generated from
// the core's op table (a hand-written operator that also takes numbers); an Override of a
// name not yet registered throws too, so a stale mark cannot hide.
enum class OpRegistration { New, Override };
void register_op(const char* ns, const char* schema, OpFn fn, const char* maps_to,
                 OpRegistration how = OpRegistration::New);

// The overloaded arithmetic, comparison and bitwise operators (aten::add ... aten::__rshift__)
// on numbers, strings, lists and tensors: each registered operator passes which one it is as
// a value, so none is told apart by its name at run time.
enum class Arith : uint8_t {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Remainder,
    Pow,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
    Xor,
    LShift,
    RShift,
};
// ATen's name without the namespace ("add", "eq", "__and__"), for messages.
const char* arith_name(Arith op);
// The tensor side (ops_tensor.cpp): a tensor with a tensor or a number, either way round;
// `alpha` scales the second operand of add and sub.
Value tensor_binary(Arith op, const Value& a, const Value& b, const Value& alpha);

// Binds call arguments to an operator's parameters: positional, then keywords, then
// defaults. Throws TypeError in PyTorch's words for a missing or unknown argument.
ValueList bind_arguments(const Op& op, ValueList positional,
                         std::vector<std::pair<std::string, Value>> keywords);

} // namespace nnscope::script
