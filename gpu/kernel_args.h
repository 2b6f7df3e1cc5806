// kernel_args.h: turns the core's TensorViews into the plain structs the kernel bodies
// (kernels.h) take, and the core's Backend arguments into kernel arguments. Host-side,
// shared by the simulated device and the CUDA backend so both launch the same work.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>

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

// The same element walk over fewer dims: size-1 dims dropped, and a dim merged into the
// next where every operand steps over both as one (stride[d] == stride[d+1] * size[d+1]).
// Contiguous operands end as one dim with stride 1, which element() indexes without a
// division. `views` share `shape`; the coalesced shape and strides replace theirs.
inline void coalesce(std::vector<int64_t>& shape, std::initializer_list<TensorView*> views) {
    std::vector<int64_t> out_shape;
    std::vector<std::vector<int64_t>> out_strides(views.size());
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        bool merge = !out_shape.empty();
        size_t k = 0;
        for (TensorView* v : views) {
            if (merge && out_strides[k].back() != v->strides[d] * shape[d]) merge = false;
            ++k;
        }
        k = 0;
        if (merge) {
            out_shape.back() *= shape[d];
            for (TensorView* v : views) out_strides[k++].back() = v->strides[d];
        } else {
            out_shape.push_back(shape[d]);
            for (TensorView* v : views) out_strides[k++].push_back(v->strides[d]);
        }
    }
    shape = out_shape;
    size_t k = 0;
    for (TensorView* v : views) {
        v->shape = shape;
        v->strides = std::move(out_strides[k++]);
    }
}

inline CopyArgs copy_args(TensorView dst, TensorView src) {
    std::vector<int64_t> shape = dst.shape;
    coalesce(shape, {&dst, &src});
    return {kernel_shape(shape), operand(dst), operand(src)};
}

inline FillArgs fill_args(TensorView dst, Scalar value) {
    std::vector<int64_t> shape = dst.shape;
    coalesce(shape, {&dst});
    FillArgs a{};
    a.shape = kernel_shape(shape);
    a.dst = operand(dst);
    // The value in dst's dtype, converted on the host by the same store functions.
    if (value.kind == Scalar::Kind::Float)
        store_f(a.bytes, int(dst.dtype), value.f);
    else
        store_i(a.bytes, int(dst.dtype), value.i);
    return a;
}

inline UnaryArgs unary_args(UnaryOp op, TensorView dst, TensorView src) {
    std::vector<int64_t> shape = dst.shape;
    coalesce(shape, {&dst, &src});
    return {kernel_shape(shape), operand(dst), operand(src), int(op)};
}

inline BinaryArgs binary_args(BinaryOp op, DType compute, TensorView dst, TensorView a,
                              TensorView b) {
    std::vector<int64_t> shape = dst.shape;
    coalesce(shape, {&dst, &a, &b});
    return {kernel_shape(shape), operand(dst), operand(a), operand(b), int(op), int(compute)};
}

// The float32 vector paths (kernels.h) take an op whose operands, coalesced, are one
// contiguous run each (b may be a single broadcast value), 16-byte aligned. They read the
// arguments already built for the generic path, so nothing is coalesced twice.
inline bool aligned16(const void* p) {
    return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}
inline bool f32_run(const Operand& o, int64_t n) {
    return o.dtype == int(DType::Float32) && aligned16(o.data) && (n <= 1 || o.strides[0] == 1);
}
inline bool binary_f32_args(const BinaryArgs& g, BinaryF32Args& out) {
    const int64_t n = g.shape.numel();
    if (g.compute != int(DType::Float32) || g.shape.ndim > 1) return false;
    const bool b_scalar = n > 1 && g.b.strides[0] == 0 && g.b.dtype == int(DType::Float32);
    if (!f32_run(g.dst, n) || !f32_run(g.a, n) || !(b_scalar || f32_run(g.b, n))) return false;
    out = {g.dst.data, g.a.data, g.b.data, n, g.op, b_scalar || n <= 1};
    return true;
}
inline bool unary_f32_args(const UnaryArgs& g, UnaryF32Args& out) {
    const int64_t n = g.shape.numel();
    if (g.shape.ndim > 1 || !f32_run(g.dst, n) || !f32_run(g.src, n)) return false;
    out = {g.dst.data, g.src.data, n, g.op};
    return true;
}
// A same-dtype copy of one contiguous run: a plain memory copy of `bytes`.
inline bool copy_is_memcpy(const CopyArgs& g, size_t& bytes) {
    const int64_t n = g.shape.numel();
    if (g.dst.dtype != g.src.dtype || g.shape.ndim > 1 ||
        (n > 1 && (g.dst.strides[0] != 1 || g.src.strides[0] != 1)))
        return false;
    bytes = size_t(n) * size_t(dtype_bytes(g.dst.dtype));
    return true;
}

inline ReduceArgs reduce_args(ReduceOp op, const TensorView& dst, const TensorView& src,
                              int reduce_ndim, int64_t correction) {
    // Outer dims coalesced over dst and src together, inner dims over src alone.
    const size_t outer_nd = src.shape.size() - size_t(reduce_ndim);
    std::vector<int64_t> outer(src.shape.begin(), src.shape.begin() + outer_nd),
        inner(src.shape.begin() + outer_nd, src.shape.end());
    TensorView d = dst, so = src, si = src;
    so.strides.assign(src.strides.begin(), src.strides.begin() + outer_nd);
    si.strides.assign(src.strides.begin() + outer_nd, src.strides.end());
    d.strides.resize(outer_nd);
    coalesce(outer, {&d, &so});
    coalesce(inner, {&si});
    TensorView s = src;
    s.strides = so.strides;
    s.strides.insert(s.strides.end(), si.strides.begin(), si.strides.end());
    ReduceArgs a{};
    a.outer = kernel_shape(outer);
    a.inner = kernel_shape(inner);
    a.dst = operand(d);
    a.src = operand(s);
    a.op = int(op);
    a.correction = correction;
    return a;
}

inline RowsArgs rows_args(const TensorView& dst, const TensorView& table, const TensorView& index) {
    return {operand(dst),   operand(table), operand(index),
            index.shape[0], dst.shape[1],   table.shape[0]};
}

inline PoolArgs pool_args(const TensorView& values, const TensorView& index, const TensorView& x,
                          const PoolWindows& rows, const PoolWindows& cols) {
    return {static_cast<char*>(values.data),
            static_cast<char*>(index.data),
            static_cast<const char*>(x.data),
            int(x.dtype),
            rows,
            cols};
}

inline PoolGradArgs pool_grad_args(const TensorView& gx, const TensorView& g,
                                   const TensorView& index) {
    return {static_cast<char*>(gx.data),
            static_cast<const char*>(g.data),
            static_cast<const char*>(index.data),
            int(gx.dtype),
            gx.shape[2] * gx.shape[3],
            g.shape[2] * g.shape[3]};
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
