// tensor_reduce.cpp: the reductions (ReduceOp) of the Tensor front end: dims, keepdim,
// dispatch to the backend and autograd, with everything op-specific read from the op's row
// in op_table.cpp; and Tensor's named methods (sum, mean, var...) over them.
#include "op_table.h"

#include <algorithm>
#include <string>

#include "autograd.h"
#include "errors.h"
#include "tensor.h"
#include "tensor_internal.h"

namespace nnscope {

using namespace detail;

namespace {

DType result_dtype(ReduceDType rule, DType input) {
    switch (rule) {
    case ReduceDType::SumPromotes:
        return dtype_is_floating(input) ? input : DType::Int64;
    case ReduceDType::Int64:
        return DType::Int64;
    case ReduceDType::Same:
        break;
    }
    return input;
}

// Reduces over `dims` (all when empty).
Tensor reduce_op(ReduceOp op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                 int64_t correction) {
    const ReduceOpInfo& row = op_info(op);
    check_computable(a, row.name);
    if (row.check) row.check(a);
    const int64_t nd = a.dim();
    const bool all = dims.empty();
    std::vector<bool> reduced(size_t(nd), all);
    for (int64_t d : dims) {
        int64_t w = wrap_dim(d, nd);
        if (nd == 0) continue;
        if (reduced[size_t(w)] && !all)
            throw Error("dim " + std::to_string(w) + " appears multiple times in the list of dims");
        reduced[size_t(w)] = true;
    }
    std::vector<int64_t> perm, out_shape, kept_shape;
    for (int64_t d = 0; d < nd; ++d)
        if (!reduced[size_t(d)]) {
            perm.push_back(d);
            out_shape.push_back(a.size(d));
        }
    int reduce_nd = 0;
    for (int64_t d = 0; d < nd; ++d) {
        kept_shape.push_back(reduced[size_t(d)] ? 1 : a.size(d));
        if (reduced[size_t(d)]) {
            perm.push_back(d);
            ++reduce_nd;
        }
    }
    Tensor src =
        nd ? a.detach().permute(perm) : a.detach(); // detached first: nothing recorded here
    Tensor out(make_impl(out_shape, result_dtype(row.dtype, a.dtype()), a.device()));
    backend_for(a.device()).reduce(op, out.view_desc(), src.view_desc(), reduce_nd, correction);
    if (autograd::should_record({&a}) && row.backward) {
        // The gradient of each output element spreads over the elements it reduced.
        const Shape in_shape = a.shape();
        ReduceSaved saved;
        saved.count = shape_numel(in_shape) / std::max<int64_t>(shape_numel(out_shape), 1);
        saved.correction = correction;
        for (int64_t d = 0; d < nd; ++d)
            if (reduced[size_t(d)]) saved.dims.push_back(d);
        if (row.saves & SavesInputs) saved.self = a.detach();
        autograd::record(
            out, row.grad_fn, {a},
            [backward = row.backward, saved, in_shape, kept_shape](const Tensor& g) {
                Tensor expanded = g.reshape(kept_shape).expand(in_shape);
                return std::vector<Tensor>{backward(expanded, saved)};
            },
            autograd::Saves{row.saves & SavesInputs ? std::vector<Tensor>{a}
                                                    : std::vector<Tensor>{}});
    }
    return keepdim ? out.view(kept_shape) : out;
}

} // namespace

Tensor apply(ReduceOp op, const Tensor& self, const std::vector<int64_t>& dims, bool keepdim,
             int64_t correction) {
    return reduce_op(op, self, dims, keepdim, correction);
}

// --- Tensor's reductions ---------------------------------------------------------------------

Tensor Tensor::sum() const {
    return reduce_op(ReduceOp::Sum, *this, {}, false, 0);
}
Tensor Tensor::mean() const {
    return reduce_op(ReduceOp::Mean, *this, {}, false, 0);
}
Tensor Tensor::var(int64_t correction) const {
    return reduce_op(ReduceOp::Var, *this, {}, false, correction);
}
Tensor Tensor::std(int64_t correction) const {
    return var(correction).sqrt();
}
Tensor Tensor::min() const {
    if (numel() == 0)
        throw Error("min(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                    "the reduction dim with the 'dim' argument.");
    return reduce_op(ReduceOp::Min, *this, {}, false, 0);
}
Tensor Tensor::max() const {
    if (numel() == 0)
        throw Error("max(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                    "the reduction dim with the 'dim' argument.");
    return reduce_op(ReduceOp::Max, *this, {}, false, 0);
}
Tensor Tensor::norm() const {
    return reduce_op(ReduceOp::Norm2, *this, {}, false, 0);
}
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const {
    return reduce_op(ReduceOp::Sum, *this, dims, keepdim, 0);
}
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
    return reduce_op(ReduceOp::Mean, *this, dims, keepdim, 0);
}
Tensor Tensor::var(const std::vector<int64_t>& dims, int64_t correction, bool keepdim) const {
    return reduce_op(ReduceOp::Var, *this, dims, keepdim, correction);
}
Tensor Tensor::amax(const std::vector<int64_t>& dims, bool keepdim) const {
    if (numel() == 0)
        throw Error("amax(): Expected reduction dim to be specified for input.numel() == 0.");
    NoGradGuard no_grad;
    return reduce_op(ReduceOp::Max, *this, dims, keepdim, 0);
}
int64_t Tensor::count_nan() const {
    if (!is_floating_point()) return 0;
    return reduce_op(ReduceOp::CountNaN, *this, {}, false, 0).item_int();
}
int64_t Tensor::count_inf() const {
    if (!is_floating_point()) return 0;
    return reduce_op(ReduceOp::CountInf, *this, {}, false, 0).item_int();
}

} // namespace nnscope
