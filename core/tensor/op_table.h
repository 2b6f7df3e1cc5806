// op_table.h: one row per elementwise and reduction op of backend.h (UnaryOp, BinaryOp,
// ReduceOp): its name, ATen's name, its dtype rule, the inputs it refuses and its backward
// (PyTorch's grad_fn name and the function). The front end (tensor_pointwise.cpp,
// tensor_reduce.cpp) reads everything op-specific from here, so adding an op is adding its
// enum value (backend.h), its row (op_table.cpp) and its kernel (element_io.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tensor.h"

namespace nnscope {

// What a backward needs kept from the forward (PyTorch's saved self / saved result);
// the others are left undefined in the saved values, so they are not kept alive.
enum Saves : unsigned { SavesNothing = 0, SavesInputs = 1, SavesResult = 2 };

// --- unary ops --------------------------------------------------------------------------

// Integer and bool inputs: keep their dtype (neg, abs, relu) or give the default float
// dtype (sqrt, exp...). Floating inputs always keep theirs.
enum class UnaryDType { KeepsInt, IntToFloat };

struct UnaryOpInfo {
    UnaryOp op;
    const char* name; // "relu": Tensor's method
    const char* aten; // "aten::relu"; "" where ATen has no such operator
    UnaryDType dtype;
    // Throws for an input PyTorch refuses (neg of bool), before anything is computed.
    void (*check)(const Tensor& self);
    // Autograd: PyTorch's grad_fn name and d(self) from the result's gradient `g` and the
    // saved (detached) input and result. No backward: recording the op throws
    // "autograd is not implemented for this op" (prefixed with grad_fn when there is one).
    const char* grad_fn;
    unsigned saves;
    Tensor (*backward)(const Tensor& g, const Tensor& self, const Tensor& result);
};

// --- binary ops -------------------------------------------------------------------------

// Computed in the promoted type (result_type), or in the default float dtype when that is
// integral or bool (true division).
enum class BinaryDType { Promoted, IntToFloat };

// What a binary backward sees: saved tensors (per `saves`) and the inputs' shapes.
struct BinarySaved {
    Tensor self, other, result; // detached
    Shape self_shape, other_shape;
    bool other_requires_grad = false;
};

struct BinaryOpInfo {
    BinaryOp op;
    const char* name;
    const char* aten;
    BinaryDType dtype;
    // Throws for operands PyTorch refuses (an integer to a negative power), given the
    // dtype the op computes in.
    void (*check)(DType compute, const Tensor& other, bool other_wrapped);
    const char* grad_fn;
    unsigned saves;
    // {d(self), d(other)}, each summed back to its input's shape; undefined: no gradient.
    std::vector<Tensor> (*backward)(const Tensor& g, const BinarySaved& saved);
};

// --- reductions ---------------------------------------------------------------------------

enum class ReduceDType {
    Same,        // the input's dtype (mean, var, min, max, norm)
    SumPromotes, // floating dtypes kept; integral and bool ones sum in int64
    Int64,       // counts
};

// What a reduction's backward sees.
struct ReduceSaved {
    Tensor self;               // detached, when saved
    std::vector<int64_t> dims; // the reduced dims, wrapped (empty for a 0-dim input)
    int64_t count = 0;         // input elements per result element
    int64_t correction = 0;    // var's Bessel correction
};

struct ReduceOpInfo {
    ReduceOp op;
    const char* name;
    const char* aten;
    ReduceDType dtype;
    // Throws for an input dtype PyTorch refuses (mean of integers).
    void (*check)(const Tensor& self);
    const char* grad_fn;
    unsigned saves;
    // d(self) from the result's gradient already expanded back to the input's shape.
    // No backward: the result is not recorded (min, max, norm, the counts).
    Tensor (*backward)(const Tensor& g_expanded, const ReduceSaved& saved);
};

// The rows, in enum order (row i describes op value i).
std::span<const UnaryOpInfo> unary_ops();
std::span<const BinaryOpInfo> binary_ops();
std::span<const ReduceOpInfo> reduce_ops();
const UnaryOpInfo& op_info(UnaryOp op);
const BinaryOpInfo& op_info(BinaryOp op);
const ReduceOpInfo& op_info(ReduceOp op);

// The ops by enum, as their rows describe them: what Tensor's named methods (add, relu,
// sum...) run. Binary ops broadcast and promote as PyTorch does; a Scalar operand is a
// wrapped Python number. Reductions run over `dims` (all of them when empty); the checks
// of particular entry points (min() of an empty tensor) are in those methods.
Tensor apply(UnaryOp op, const Tensor& self);
// The same op in place (relu_, sigmoid_, ...), recorded as PyTorch records it: onto self,
// whose old history becomes the node's input ("ReluBackward1").
Tensor& apply_(UnaryOp op, Tensor& self);
Tensor apply(BinaryOp op, const Tensor& self, const Tensor& other);
Tensor apply(BinaryOp op, const Tensor& self, Scalar other);
Tensor apply(ReduceOp op, const Tensor& self, const std::vector<int64_t>& dims = {},
             bool keepdim = false, int64_t correction = 0);

// ReLU's input gradient from the output gradient and ReLU's result (ATen's
// threshold_backward at threshold 0): the backend's kernel where it has one, else g * step(y).
Tensor threshold_backward(const Tensor& g, const Tensor& y);

} // namespace nnscope
