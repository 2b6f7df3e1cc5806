// kernels.h: the element-wise, reduction, gather and im2col kernel bodies of the GPU
// backend, written once as __host__ __device__ functions.
//
// The CUDA backend (cuda_backend.cu) runs them in grid-stride loops on the GPU; the
// simulated device (sim_backend.cpp) runs the very same functions in host loops, so CI,
// which has no GPU, exercises the CUDA backend's own arithmetic and indexing code.
// Every body computes one output element from a flat index: no shared state, no atomics
// (col2im gathers instead of scattering), so host and device results are identical.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "element_io.h" // dtype codes, loads and stores, scalar math (shared with the CPU backend)

namespace nnscope::gpu {

using namespace nnscope::elem; // dtype codes, loads and stores, scalar math

constexpr int k_max_rank = 16;

// A strided operand: base pointer, element type, byte strides over a shared shape.
struct Operand {
    char* data;
    int dtype;
    int64_t strides[k_max_rank]; // elements
};

struct Shape {
    int ndim;
    int64_t size[k_max_rank];
    NNSCOPE_HD int64_t numel() const {
        int64_t n = 1;
        for (int d = 0; d < ndim; ++d) n *= size[d];
        return n;
    }
};

// Address of element `linear` (row-major over `shape`) of `op`.
NNSCOPE_HD inline char* element(const Operand& op, const Shape& shape, int64_t linear) {
    int64_t offset = 0;
    for (int d = shape.ndim - 1; d >= 0; --d) {
        const int64_t i = linear % shape.size[d];
        linear /= shape.size[d];
        offset += i * op.strides[d];
    }
    return op.data + offset * dtype_bytes(op.dtype);
}

// --- kernel bodies: one output element each ------------------------------------------------------

struct CopyArgs {
    Shape shape;
    Operand dst, src;
};
NNSCOPE_HD inline void copy_element(const CopyArgs& a, int64_t i) {
    char* d = element(a.dst, a.shape, i);
    const char* s = element(a.src, a.shape, i);
    if ((is_floating(a.src.dtype) && is_floating(a.dst.dtype)) ||
        (is_floating(a.src.dtype) && a.dst.dtype == BOOL))
        store_f(d, a.dst.dtype, load_f(s, a.src.dtype));
    else
        store_i(d, a.dst.dtype, load_i(s, a.src.dtype));
}

struct FillArgs {
    Shape shape;
    Operand dst;
    char bytes[8]; // the value already in dst's dtype
};
NNSCOPE_HD inline void fill_element(const FillArgs& a, int64_t i) {
    memcpy(element(a.dst, a.shape, i), a.bytes, dtype_bytes(a.dst.dtype));
}

struct UnaryArgs {
    Shape shape;
    Operand dst, src;
    int op;
};
NNSCOPE_HD inline void unary_element(const UnaryArgs& a, int64_t i) {
    char* d = element(a.dst, a.shape, i);
    const char* s = element(a.src, a.shape, i);
    const bool int_op = a.op == U_NEG || a.op == U_ABS || a.op == U_RELU;
    if (!is_floating(a.dst.dtype) && a.dst.dtype != BOOL && int_op) {
        int64_t x = load_i(s, a.src.dtype);
        int64_t r = a.op == U_NEG   ? int64_t(0 - uint64_t(x))
                    : a.op == U_ABS ? (x < 0 ? -x : x)
                                    : (x > 0 ? x : 0);
        store_i(d, a.dst.dtype, r);
        return;
    }
    store_f(d, a.dst.dtype, unary_f(a.op, load_f(s, a.src.dtype)));
}

struct BinaryArgs {
    Shape shape;
    Operand dst, a, b;
    int op, compute;
};
NNSCOPE_HD inline void binary_element(const BinaryArgs& a, int64_t i) {
    char* d = element(a.dst, a.shape, i);
    const char* x = element(a.a, a.shape, i);
    const char* y = element(a.b, a.shape, i);
    if (is_floating(a.compute)) {
        double r = binary_f(a.op, round_to(a.compute, load_f(x, a.a.dtype)),
                            round_to(a.compute, load_f(y, a.b.dtype)));
        store_f(d, a.dst.dtype, round_to(a.compute, r));
    } else if (a.compute == BOOL) {
        bool p = load_i(x, a.a.dtype) != 0, q = load_i(y, a.b.dtype) != 0;
        bool r = a.op == B_ADD || a.op == B_MAX   ? (p || q)
                 : a.op == B_MUL || a.op == B_MIN ? (p && q)
                                                  : (p != q);
        store_i(d, a.dst.dtype, r);
    } else {
        char tmp[8];
        store_i(tmp, a.compute, binary_i(a.op, load_i(x, a.a.dtype), load_i(y, a.b.dtype)));
        store_i(d, a.dst.dtype, load_i(tmp, a.compute));
    }
}

// Reduces the trailing `inner` dims of src for output element `o` (outer dims).
struct ReduceArgs {
    Shape outer, inner;
    Operand dst, src; // dst strides over outer; src strides over outer then inner
    int op;
    int64_t correction;
};
NNSCOPE_HD inline void reduce_element(const ReduceArgs& a, int64_t o) {
    // Offset of the outer index, then walk the inner block.
    Operand src = a.src;
    int64_t rest = o, base = 0;
    for (int d = a.outer.ndim - 1; d >= 0; --d) {
        base += (rest % a.outer.size[d]) * a.src.strides[d];
        rest /= a.outer.size[d];
    }
    src.data = a.src.data + base * dtype_bytes(a.src.dtype);
    Operand in = src;
    for (int d = 0; d < a.inner.ndim; ++d) in.strides[d] = a.src.strides[a.outer.ndim + d];
    const int64_t n = a.inner.numel();
    char* out = element(a.dst, a.outer, o);
    const bool integral = !is_floating(a.src.dtype);
    if (integral && (a.op == R_SUM || a.op == R_MIN || a.op == R_MAX)) {
        int64_t acc = a.op == R_SUM ? 0 : a.op == R_MIN ? INT64_MAX : INT64_MIN;
        for (int64_t k = 0; k < n; ++k) {
            int64_t v = load_i(element(in, a.inner, k), a.src.dtype);
            acc = a.op == R_SUM   ? int64_t(uint64_t(acc) + uint64_t(v))
                  : a.op == R_MIN ? (v < acc ? v : acc)
                                  : (v > acc ? v : acc);
        }
        store_i(out, a.dst.dtype, acc);
        return;
    }
    double acc = 0, ext = a.op == R_MIN ? INFINITY : -INFINITY;
    int64_t hits = 0;
    bool nan = false;
    for (int64_t k = 0; k < n; ++k) {
        double v = load_f(element(in, a.inner, k), a.src.dtype);
        switch (a.op) {
        case R_SUM:
        case R_MEAN:
        case R_VAR:
            acc += v;
            break;
        case R_NORM2:
            acc += v * v;
            break;
        case R_MIN:
            if (v != v)
                nan = true;
            else if (v < ext)
                ext = v;
            break;
        case R_MAX:
            if (v != v)
                nan = true;
            else if (v > ext)
                ext = v;
            break;
        case R_COUNT_NAN:
            hits += v != v;
            break;
        default:
            hits += (v == INFINITY || v == -INFINITY) ? 1 : 0;
            break;
        }
    }
    double r = 0;
    switch (a.op) {
    case R_SUM:
        r = acc;
        break;
    case R_MEAN:
        r = n ? acc / double(n) : NAN;
        break;
    case R_NORM2:
        r = sqrt(acc);
        break;
    case R_MIN:
    case R_MAX:
        r = nan ? NAN : ext;
        break;
    case R_VAR: {
        // Two passes (mean, then squared deviations): stable without shared state.
        const double mean = n ? acc / double(n) : 0;
        double m2 = 0;
        for (int64_t k = 0; k < n; ++k) {
            double dv = load_f(element(in, a.inner, k), a.src.dtype) - mean;
            m2 += dv * dv;
        }
        r = n - a.correction > 0 ? m2 / double(n - a.correction) : NAN;
        break;
    }
    default:
        store_i(out, a.dst.dtype, hits);
        return;
    }
    store_f(out, a.dst.dtype, r);
}

// C(m, n) = A(m, k) @ B(k, n), one output element: the simulated device's GEMM (the CUDA
// backend uses cuBLAS instead).
struct GemmArgs {
    Operand c, a, b; // 2-D strides
    int64_t m, n, k;
};
NNSCOPE_HD inline void gemm_element(const GemmArgs& g, int64_t idx) {
    const int64_t i = idx / g.n, j = idx % g.n;
    const int es = dtype_bytes(g.a.dtype);
    double acc = 0;
    for (int64_t p = 0; p < g.k; ++p)
        acc += load_f(g.a.data + (i * g.a.strides[0] + p * g.a.strides[1]) * es, g.a.dtype) *
               load_f(g.b.data + (p * g.b.strides[0] + j * g.b.strides[1]) * es, g.b.dtype);
    store_f(g.c.data + (i * g.c.strides[0] + j * g.c.strides[1]) * es, g.c.dtype, acc);
}

// dst(N, D)[r, j] = table[index[r], j]
struct RowsArgs {
    Operand dst, table, index; // 2-D, 2-D, 1-D
    int64_t rows, cols, table_rows;
};
NNSCOPE_HD inline void index_select_element(const RowsArgs& a, int64_t idx) {
    const int64_t r = idx / a.cols, j = idx % a.cols;
    int64_t row =
        load_i(a.index.data + r * a.index.strides[0] * dtype_bytes(a.index.dtype), a.index.dtype);
    const int es = dtype_bytes(a.dst.dtype);
    memcpy(a.dst.data + (r * a.dst.strides[0] + j * a.dst.strides[1]) * es,
           a.table.data + (row * a.table.strides[0] + j * a.table.strides[1]) * es, es);
}
// grad(V, D)[v, j] += sum of src[r, j] over r with index[r] == v: gathered per output
// element, so no atomics are needed and the order of additions is fixed.
NNSCOPE_HD inline void index_add_element(const RowsArgs& a, int64_t idx) {
    // here `dst` is the (V, D) gradient, `table` the (N, D) source
    const int64_t v = idx / a.cols, j = idx % a.cols;
    const int ds = dtype_bytes(a.dst.dtype), ss = dtype_bytes(a.table.dtype);
    char* out = a.dst.data + (v * a.dst.strides[0] + j * a.dst.strides[1]) * ds;
    double acc = load_f(out, a.dst.dtype);
    for (int64_t r = 0; r < a.rows; ++r)
        if (load_i(a.index.data + r * a.index.strides[0] * dtype_bytes(a.index.dtype),
                   a.index.dtype) == v)
            acc += load_f(a.table.data + (r * a.table.strides[0] + j * a.table.strides[1]) * ss,
                          a.table.dtype);
    store_f(out, a.dst.dtype, acc);
}

struct ConvArgs {
    char* cols; // (N, C*kh*kw, oh*ow), contiguous
    char* x;    // (N, C, H, W), contiguous
    int dtype;
    int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};
NNSCOPE_HD inline void im2col_element(const ConvArgs& a, int64_t idx) {
    const int64_t l = a.oh * a.ow, rows = a.c * a.kh * a.kw;
    const int64_t pos = idx % l, r = (idx / l) % rows, b = idx / (l * rows);
    const int64_t ch = r / (a.kh * a.kw), ki = (r / a.kw) % a.kh, kj = r % a.kw;
    const int64_t oy = pos / a.ow, ox = pos % a.ow;
    const int64_t iy = oy * a.sh - a.ph + ki * a.dh, ix = ox * a.sw - a.pw + kj * a.dw;
    const int es = dtype_bytes(a.dtype);
    char* out = a.cols + idx * es;
    if (iy >= 0 && iy < a.h && ix >= 0 && ix < a.w)
        memcpy(out, a.x + (((b * a.c + ch) * a.h + iy) * a.w + ix) * es, es);
    else
        memset(out, 0, es);
}
// dx[b, ch, iy, ix] += every column entry that im2col read from there (gather form).
NNSCOPE_HD inline void col2im_element(const ConvArgs& a, int64_t idx) {
    const int64_t ix = idx % a.w, iy = (idx / a.w) % a.h, ch = (idx / (a.w * a.h)) % a.c,
                  b = idx / (a.w * a.h * a.c);
    const int64_t l = a.oh * a.ow, rows = a.c * a.kh * a.kw;
    const int es = dtype_bytes(a.dtype);
    char* out = a.x + idx * es;
    double acc = load_f(out, a.dtype);
    for (int64_t ki = 0; ki < a.kh; ++ki)
        for (int64_t kj = 0; kj < a.kw; ++kj) {
            const int64_t ty = iy + a.ph - ki * a.dh, tx = ix + a.pw - kj * a.dw;
            if (ty < 0 || tx < 0 || ty % a.sh || tx % a.sw) continue;
            const int64_t oy = ty / a.sh, ox = tx / a.sw;
            if (oy >= a.oh || ox >= a.ow) continue;
            const int64_t r = (ch * a.kh + ki) * a.kw + kj;
            acc += load_f(a.cols + ((b * rows + r) * l + oy * a.ow + ox) * es, a.dtype);
        }
    store_f(out, a.dtype, acc);
}

} // namespace nnscope::gpu
