// tensor_pointwise.cpp: the elementwise ops (UnaryOp, BinaryOp) of the Tensor front end:
// PyTorch's type promotion and broadcasting, dispatch to the backend, and autograd, with
// everything op-specific read from the op's row in op_table.cpp; and Tensor's named
// methods (add, relu...) over them.
#include "op_table.h"

#include <string>

#include "autograd.h"
#include "errors.h"
#include "tensor.h"
#include "tensor_internal.h"

namespace nnscope {

using namespace detail;

namespace {

enum class Category { Bool, Int, Float };
Category category(DType d) {
    return d == DType::Bool       ? Category::Bool
           : dtype_is_floating(d) ? Category::Float
                                  : Category::Int;
}

// PyTorch's result_type: tensors with dims outrank 0-dim tensors, which outrank wrapped
// numbers; a lower tier only counts when its category (bool < int < float) is higher.
DType result_type(const Tensor& a, bool a_wrapped, const Tensor& b, bool b_wrapped) {
    struct Tier {
        bool set = false;
        DType dtype = DType::Bool;
        void add(DType d) {
            dtype = set ? promote_types(dtype, d) : d;
            set = true;
        }
    } tiers[3];
    auto tier_of = [](const Tensor& t, bool wrapped) { return wrapped ? 2 : t.dim() == 0 ? 1 : 0; };
    tiers[tier_of(a, a_wrapped)].add(a.dtype());
    tiers[tier_of(b, b_wrapped)].add(b.dtype());
    bool have = false;
    DType r = DType::Bool;
    for (int t = 0; t < 3; ++t) {
        if (!tiers[t].set) continue;
        if (!have) {
            r = tiers[t].dtype;
            if (t == 2 && dtype_is_floating(r)) r = default_float_dtype;
            have = true;
        } else if (category(tiers[t].dtype) > category(r)) {
            if (t == 2)
                r = category(tiers[t].dtype) == Category::Float ? default_float_dtype
                                                                : DType::Int64;
            else
                r = tiers[t].dtype;
        }
    }
    return r;
}

bool can_cast(DType from, DType to) {
    if (dtype_is_floating(from) && !dtype_is_floating(to)) return false;
    if (from != DType::Bool && to == DType::Bool) return false;
    return true;
}

// "autograd is not implemented for this op", after the op's grad_fn name when it has one.
[[noreturn]] void refuse_backward(const char* grad_fn) {
    const std::string what = "autograd is not implemented for this op";
    throw Error(grad_fn ? std::string(grad_fn) + ": " + what : what);
}

// The dtype a binary op computes in, from the promoted one.
DType compute_dtype(const BinaryOpInfo& row, DType promoted) {
    if (row.dtype == BinaryDType::IntToFloat && !dtype_is_floating(promoted))
        return default_float_dtype;
    return promoted;
}

// The inputs whose values the backward will read, as ATen saves them: mul needs self only
// for other's gradient and other only for self's; div always needs other.
std::vector<Tensor> versions_read(BinaryOp op, const Tensor& a, const Tensor& b) {
    if (op == BinaryOp::Mul)
        return {b.requires_grad() ? a : Tensor(), a.requires_grad() ? b : Tensor()};
    if (op == BinaryOp::Div) return {b.requires_grad() ? a : Tensor(), b};
    return {a, b};
}

// Backward of a binary op; the row's backward sums gradients back over broadcast dims.
void record_binary(const BinaryOpInfo& row, Tensor& out, const Tensor& a, const Tensor& b) {
    if (!row.backward) refuse_backward(row.grad_fn);
    BinarySaved saved;
    saved.self_shape = a.shape();
    saved.other_shape = b.shape();
    saved.other_requires_grad = b.requires_grad();
    if (row.saves & SavesInputs) {
        saved.self = a.detach();
        saved.other = b.detach();
    }
    if (row.saves & SavesResult) saved.result = out.detach();
    autograd::Saves saves;
    if (row.saves & SavesInputs) saves.inputs = versions_read(row.op, a, b);
    saves.output = row.saves & SavesResult;
    autograd::record(
        out, row.grad_fn, {a, b},
        [backward = row.backward, saved](const Tensor& g) { return backward(g, saved); }, saves);
}

Tensor binary_op(BinaryOp op, const Tensor& a, bool a_wrapped, const Tensor& b, bool b_wrapped) {
    check_same_device(a, b);
    check_computable(a, op_info(op).name);
    check_computable(b, op_info(op).name);
    const BinaryOpInfo& row = op_info(op);
    DType compute = compute_dtype(row, result_type(a, a_wrapped, b, b_wrapped));
    if (row.check) row.check(compute, b, b_wrapped);
    Shape shape = broadcast_shapes(a.shape(), b.shape());
    Tensor out(make_impl(shape, compute, a.device()));
    backend_for(a.device())
        .binary(op, compute, out.view_desc(), broadcast_view(a, shape), broadcast_view(b, shape));
    // A wrapped Python number takes the result's dtype, so backward stays in that dtype.
    if (autograd::should_record({&a, &b}))
        record_binary(row, out, a, b_wrapped ? b.to(compute) : b);
    return out;
}

Tensor& binary_op_inplace(BinaryOp op, Tensor& self, const Tensor& b, bool b_wrapped) {
    check_same_device(self, b);
    check_computable(self, op_info(op).name);
    check_computable(b, op_info(op).name);
    const bool record = autograd::should_record({&self, &b});
    autograd::check_inplace(self, record);
    const BinaryOpInfo& row = op_info(op);
    if (record && (row.saves & SavesInputs) && versions_read(op, self, b)[0].defined()) {
        // Backward reads the old value: compute out of place from it, then take the result
        // (PyTorch saves a clone of the original self for these).
        Tensor r = binary_op(op, self.clone(), false, b, b_wrapped);
        if (r.shape() != self.shape())
            throw Error("output with shape " + shape_str(self.shape()) +
                        " doesn't match the broadcast shape " + shape_str(r.shape()));
        return self.copy_(r.to(self.dtype()));
    }
    DType compute = compute_dtype(row, result_type(self, false, b, b_wrapped));
    if (row.check) row.check(compute, b, b_wrapped);
    if (!can_cast(compute, self.dtype()))
        throw Error("result type " + scalar_type_name(compute) +
                    " can't be cast to the desired output type " + scalar_type_name(self.dtype()));
    Shape shape = broadcast_shapes(self.shape(), b.shape());
    if (shape != self.shape())
        throw Error("output with shape " + shape_str(self.shape()) +
                    " doesn't match the broadcast shape " + shape_str(shape));
    backend_for(self.device())
        .binary(op, compute, self.view_desc(), self.view_desc(), broadcast_view(b, shape));
    autograd::bump_version(self);
    // Recorded onto self with self's old history among the inputs (PyTorch's rebase).
    if (record) record_binary(row, self, self, b_wrapped ? b.to(compute) : b);
    return self;
}

Tensor unary_op(UnaryOp op, const Tensor& a) {
    const UnaryOpInfo& row = op_info(op);
    check_computable(a, row.name);
    const bool keeps_int = row.dtype == UnaryDType::KeepsInt;
    DType out_dtype = keeps_int || a.is_floating_point() ? a.dtype() : default_float_dtype;
    if (row.check) row.check(a);
    Tensor out(make_impl(a.shape(), out_dtype, a.device()));
    backend_for(a.device()).unary(op, out.view_desc(), a.view_desc());
    if (autograd::should_record({&a})) {
        if (!row.backward) refuse_backward(row.grad_fn);
        Tensor ad = (row.saves & SavesInputs) ? a.detach() : Tensor();
        Tensor od = (row.saves & SavesResult) ? out.detach() : Tensor();
        autograd::Saves saves;
        if (row.saves & SavesInputs) saves.inputs = {a};
        saves.output = row.saves & SavesResult;
        autograd::record(
            out, row.grad_fn, {a},
            [backward = row.backward, ad, od](const Tensor& g) {
                return std::vector<Tensor>{backward(g, ad, od)};
            },
            saves);
    }
    return out;
}

Tensor& unary_op_inplace(UnaryOp op, Tensor& self) {
    const UnaryOpInfo& row = op_info(op);
    check_computable(self, row.name);
    const bool record = autograd::should_record({&self});
    autograd::check_inplace(self, record);
    if (!self.is_floating_point() && row.dtype != UnaryDType::KeepsInt)
        throw Error("result type Float can't be cast to the desired output type " +
                    scalar_type_name(self.dtype()));
    if (record && (row.saves & SavesInputs)) return self.copy_(unary_op(op, self.clone()));
    if (record && !row.backward) refuse_backward(row.grad_fn);
    if (row.check) row.check(self);
    backend_for(self.device()).unary(op, self.view_desc(), self.view_desc());
    autograd::bump_version(self);
    if (record) {
        // The old history is an edge; the backward reads the new value (the result).
        Tensor od = (row.saves & SavesResult) ? self.detach() : Tensor();
        autograd::Saves saves;
        saves.output = row.saves & SavesResult;
        autograd::record(
            self, row.grad_fn, {self},
            [backward = row.backward, od](const Tensor& g) {
                return std::vector<Tensor>{backward(g, Tensor(), od)};
            },
            saves);
    }
    return self;
}

} // namespace

Tensor apply(UnaryOp op, const Tensor& self) {
    return unary_op(op, self);
}

Tensor& apply_(UnaryOp op, Tensor& self) {
    return unary_op_inplace(op, self);
}
Tensor apply(BinaryOp op, const Tensor& self, const Tensor& other) {
    return binary_op(op, self, false, other, false);
}
Tensor apply(BinaryOp op, const Tensor& self, Scalar other) {
    return binary_op(op, self, false, scalar_tensor(other, self.device()), true);
}

// --- arithmetic ---------------------------------------------------------------------------------

Tensor Tensor::add(const Tensor& o) const {
    return binary_op(BinaryOp::Add, *this, false, o, false);
}
Tensor Tensor::sub(const Tensor& o) const {
    return binary_op(BinaryOp::Sub, *this, false, o, false);
}
Tensor Tensor::mul(const Tensor& o) const {
    return binary_op(BinaryOp::Mul, *this, false, o, false);
}
Tensor Tensor::div(const Tensor& o) const {
    return binary_op(BinaryOp::Div, *this, false, o, false);
}
Tensor Tensor::maximum(const Tensor& o) const {
    return binary_op(BinaryOp::Maximum, *this, false, o, false);
}
Tensor Tensor::minimum(const Tensor& o) const {
    return binary_op(BinaryOp::Minimum, *this, false, o, false);
}
Tensor Tensor::pow(const Tensor& o) const {
    return binary_op(BinaryOp::Pow, *this, false, o, false);
}
Tensor Tensor::add(Scalar s) const {
    return binary_op(BinaryOp::Add, *this, false, scalar_tensor(s, device()), true);
}
Tensor Tensor::sub(Scalar s) const {
    return binary_op(BinaryOp::Sub, *this, false, scalar_tensor(s, device()), true);
}
Tensor Tensor::mul(Scalar s) const {
    return binary_op(BinaryOp::Mul, *this, false, scalar_tensor(s, device()), true);
}
Tensor Tensor::div(Scalar s) const {
    return binary_op(BinaryOp::Div, *this, false, scalar_tensor(s, device()), true);
}
Tensor Tensor::pow(Scalar s) const {
    return binary_op(BinaryOp::Pow, *this, false, scalar_tensor(s, device()), true);
}
Tensor& Tensor::add_(const Tensor& o) {
    return binary_op_inplace(BinaryOp::Add, *this, o, false);
}
Tensor& Tensor::sub_(const Tensor& o) {
    return binary_op_inplace(BinaryOp::Sub, *this, o, false);
}
Tensor& Tensor::mul_(const Tensor& o) {
    return binary_op_inplace(BinaryOp::Mul, *this, o, false);
}
Tensor& Tensor::div_(const Tensor& o) {
    return binary_op_inplace(BinaryOp::Div, *this, o, false);
}
Tensor& Tensor::add_(Scalar s) {
    return binary_op_inplace(BinaryOp::Add, *this, scalar_tensor(s, device()), true);
}
Tensor& Tensor::sub_(Scalar s) {
    return binary_op_inplace(BinaryOp::Sub, *this, scalar_tensor(s, device()), true);
}
Tensor& Tensor::mul_(Scalar s) {
    return binary_op_inplace(BinaryOp::Mul, *this, scalar_tensor(s, device()), true);
}
Tensor& Tensor::div_(Scalar s) {
    return binary_op_inplace(BinaryOp::Div, *this, scalar_tensor(s, device()), true);
}
Tensor Tensor::sign() const {
    return unary_op(UnaryOp::Sign, detach());
}
Tensor Tensor::neg() const {
    return unary_op(UnaryOp::Neg, *this);
}
Tensor Tensor::abs() const {
    return unary_op(UnaryOp::Abs, *this);
}
Tensor Tensor::sqrt() const {
    return unary_op(UnaryOp::Sqrt, *this);
}
Tensor Tensor::exp() const {
    return unary_op(UnaryOp::Exp, *this);
}
Tensor Tensor::log() const {
    return unary_op(UnaryOp::Log, *this);
}
Tensor Tensor::relu() const {
    return unary_op(UnaryOp::Relu, *this);
}
Tensor Tensor::sigmoid() const {
    return unary_op(UnaryOp::Sigmoid, *this);
}
Tensor Tensor::tanh() const {
    return unary_op(UnaryOp::Tanh, *this);
}
Tensor Tensor::erf() const {
    return unary_op(UnaryOp::Erf, *this);
}

} // namespace nnscope
