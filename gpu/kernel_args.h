// kernel_args.h: turns the core's TensorViews into the plain structs the kernel bodies
// (kernels.h) take, and the core's Backend arguments into kernel arguments. Host-side,
// shared by the simulated device and the CUDA backend so both launch the same work.
#pragma once

#include <cstring>

#include "backend.h"
#include "errors.h"
#include "kernels.h"

namespace nnscope::gpu {

inline Shape kernel_shape(const std::vector<int64_t>& s) {
    if (s.size() > size_t(k_max_rank))
        throw Error("rank " + std::to_string(s.size()) + " exceeds the GPU kernels' limit of 16");
    Shape out{};
    out.ndim = int(s.size());
    for (size_t d = 0; d < s.size(); ++d) out.size[d] = s[d];
    return out;
}

inline Operand operand(const TensorView& v) {
    Operand o{};
    o.data = static_cast<char*>(v.data);
    o.dtype = int(v.dtype);
    for (size_t d = 0; d < v.strides.size() && d < size_t(k_max_rank); ++d)
        o.strides[d] = v.strides[d];
    return o;
}

inline CopyArgs copy_args(const TensorView& dst, const TensorView& src) {
    return {kernel_shape(dst.shape), operand(dst), operand(src)};
}

inline FillArgs fill_args(const TensorView& dst, Scalar value) {
    FillArgs a{};
    a.shape = kernel_shape(dst.shape);
    a.dst = operand(dst);
    // The value in dst's dtype, converted on the host by the same store functions.
    if (value.kind == Scalar::Kind::Float)
        store_f(a.bytes, int(dst.dtype), value.f);
    else
        store_i(a.bytes, int(dst.dtype), value.i);
    return a;
}

inline UnaryArgs unary_args(UnaryOp op, const TensorView& dst, const TensorView& src) {
    return {kernel_shape(dst.shape), operand(dst), operand(src), int(op)};
}

inline BinaryArgs binary_args(BinaryOp op, DType compute, const TensorView& dst,
                              const TensorView& a, const TensorView& b) {
    return {kernel_shape(dst.shape), operand(dst), operand(a), operand(b), int(op), int(compute)};
}

inline ReduceArgs reduce_args(ReduceOp op, const TensorView& dst, const TensorView& src,
                              int reduce_ndim, int64_t correction) {
    const size_t outer_nd = src.shape.size() - size_t(reduce_ndim);
    ReduceArgs a{};
    a.outer = kernel_shape(std::vector<int64_t>(src.shape.begin(), src.shape.begin() + outer_nd));
    a.inner = kernel_shape(std::vector<int64_t>(src.shape.begin() + outer_nd, src.shape.end()));
    a.dst = operand(dst);
    a.src = operand(src);
    a.op = int(op);
    a.correction = correction;
    return a;
}

inline RowsArgs rows_args(const TensorView& dst, const TensorView& table, const TensorView& index) {
    return {operand(dst),   operand(table), operand(index),
            index.shape[0], dst.shape[1],   table.shape[0]};
}

inline ConvArgs conv_args(void* cols, const TensorView& x, const Backend::ConvGeometry& g) {
    return {static_cast<char*>(cols),
            static_cast<char*>(x.data),
            int(x.dtype),
            x.shape[0],
            x.shape[1],
            x.shape[2],
            x.shape[3],
            g.kh,
            g.kw,
            g.sh,
            g.sw,
            g.ph,
            g.pw,
            g.dh,
            g.dw,
            g.oh,
            g.ow};
}

} // namespace nnscope::gpu
