// kernels.h: the element-wise, reduction, gather and im2col kernel bodies of the GPU
// backend, written once as __host__ __device__ functions.
//
// The CUDA backend (cuda_backend.cu) runs them in grid-stride loops on the GPU; the
// simulated device (sim_backend.cpp) runs the very same functions in host loops, so CI,
// which has no GPU, exercises the CUDA backend's own arithmetic and indexing code. Each body
// computes one output element (or one group of four) from a flat index. Reductions over
// many elements are split the same way on both: per-thread partial accumulators over a
// chunk, merged per block, then merged per output (reduce_finish_element).
//
// What is and is not identical: loads, stores, indexing, integer arithmetic, +, -, *, /,
// min and max give the same bits on the GPU as on sim:0. The GPU's exp, log, tanh, erf,
// sqrt-free pow and sigmoid come from CUDA's maths library (within 1-2 ulp of the host's in
// double), its block reductions merge partial sums in another order than sim:0's loop, and
// its embedding gradient adds with atomics in no fixed order: those agree with sim:0 and the
// CPU to rounding, which is what test_backend_ops's tolerances allow (1e-6 relative for the
// ops, 1e-5 for reductions and backward passes).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "element_io.h" // dtype codes, loads and stores, scalar math (shared with the CPU backend)
#include "pool_windows.h" // max pooling's windows (shared with the CPU backend)

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
    if (shape.ndim == 1) // coalesced (kernel_args.h): no division
        return op.data + linear * op.strides[0] * dtype_bytes(op.dtype);
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
    if (a.src.dtype ==
        a.dst.dtype) { // any dtype, storage-only ones included: the bytes as they are
        memcpy(d, s, dtype_bytes(a.dst.dtype));
        return;
    }
    // Storage-only sources (F8E4M3 and after) are widened through load_f.
    if (((is_floating(a.src.dtype) || a.src.dtype >= F8E4M3) && is_floating(a.dst.dtype)) ||
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

// --- float32, contiguous, 16-byte aligned: four elements per index, vector loads ---------

NNSCOPE_HD inline void load4(const char* p, float v[4]) {
#ifdef __CUDA_ARCH__
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
#else
    memcpy(v, p, 16);
#endif
}
NNSCOPE_HD inline void store4(char* p, const float v[4]) {
#ifdef __CUDA_ARCH__
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
#else
    memcpy(p, v, 16);
#endif
}
// +, -, *, /, max and min of two floats rounded once are exactly the double result rounded
// (double carries more than twice float's bits), so this path gives the generic path's
// bits; pow goes through the generic double code.
NNSCOPE_HD inline float binary_f32(int op, float x, float y) {
    switch (op) {
    case B_ADD:
        return x + y;
    case B_SUB:
        return x - y;
    case B_MUL:
        return x * y;
    case B_DIV:
        return x / y;
    default:
        return float(binary_f(op, x, y));
    }
}
// A binary op whose three operands are float32 over one coalesced dimension: dst and a
// contiguous, b contiguous or one broadcast value (stride 0). Group g covers elements
// 4g .. 4g + 3; the last group may be short.
struct BinaryF32Args {
    char* dst;
    const char* a;
    const char* b;
    int64_t n;
    int op;
    bool b_scalar;
};
NNSCOPE_HD inline void binary_f32x4_element(const BinaryF32Args& a, int64_t g) {
    const int64_t i = g * 4;
    float x[4], y[4], r[4];
    if (i + 4 <= a.n) {
        load4(a.a + i * 4, x);
        if (a.b_scalar)
            y[0] = y[1] = y[2] = y[3] = *reinterpret_cast<const float*>(a.b);
        else
            load4(a.b + i * 4, y);
        for (int k = 0; k < 4; ++k) r[k] = binary_f32(a.op, x[k], y[k]);
        store4(a.dst + i * 4, r);
        return;
    }
    for (int64_t k = i; k < a.n; ++k) {
        const float xv = reinterpret_cast<const float*>(a.a)[k];
        const float yv = reinterpret_cast<const float*>(a.b)[a.b_scalar ? 0 : k];
        reinterpret_cast<float*>(a.dst)[k] = binary_f32(a.op, xv, yv);
    }
}
struct UnaryF32Args {
    char* dst;
    const char* src;
    int64_t n;
    int op;
};
NNSCOPE_HD inline void unary_f32x4_element(const UnaryF32Args& a, int64_t g) {
    const int64_t i = g * 4;
    float x[4], r[4];
    if (i + 4 <= a.n) {
        load4(a.src + i * 4, x);
        for (int k = 0; k < 4; ++k) r[k] = float(unary_f(a.op, x[k]));
        store4(a.dst + i * 4, r);
        return;
    }
    for (int64_t k = i; k < a.n; ++k)
        reinterpret_cast<float*>(a.dst)[k] =
            float(unary_f(a.op, reinterpret_cast<const float*>(a.src)[k]));
}

// Reduces the trailing `inner` dims of src for output element `o` (outer dims).
struct ReduceArgs {
    Shape outer, inner;
    Operand dst, src; // dst strides over outer; src strides over outer then inner
    int op;
    int64_t correction;
};

// A partial reduction: every op's state, merged pairwise in any grouping. Var keeps
// Welford's (count, mean, M2), merged with Chan's formula.
struct ReduceAcc {
    double sum, mean, m2, ext;
    int64_t count, hits, iacc;
    bool nan;
};
NNSCOPE_HD inline bool reduce_integral(const ReduceArgs& a) {
    return !is_floating(a.src.dtype) && (a.op == R_SUM || a.op == R_MIN || a.op == R_MAX);
}
NNSCOPE_HD inline ReduceAcc reduce_identity(const ReduceArgs& a) {
    ReduceAcc r{};
    r.ext = a.op == R_MIN ? INFINITY : -INFINITY;
    r.iacc = a.op == R_MIN ? INT64_MAX : a.op == R_MAX ? INT64_MIN : 0;
    return r;
}
NNSCOPE_HD inline void reduce_add(const ReduceArgs& a, ReduceAcc& r, const char* p) {
    if (reduce_integral(a)) {
        const int64_t v = load_i(p, a.src.dtype);
        r.iacc = a.op == R_SUM   ? int64_t(uint64_t(r.iacc) + uint64_t(v))
                 : a.op == R_MIN ? (v < r.iacc ? v : r.iacc)
                                 : (v > r.iacc ? v : r.iacc);
        return;
    }
    const double v = load_f(p, a.src.dtype);
    switch (a.op) {
    case R_SUM:
    case R_MEAN:
        r.sum += v;
        ++r.count;
        break;
    case R_VAR: {
        ++r.count;
        const double d = v - r.mean;
        r.mean += d / double(r.count);
        r.m2 += d * (v - r.mean);
        break;
    }
    case R_NORM2:
        r.sum += v * v;
        break;
    case R_MIN:
    case R_MAX:
        if (v != v)
            r.nan = true;
        else if (a.op == R_MIN ? v < r.ext : v > r.ext)
            r.ext = v;
        break;
    case R_COUNT_NAN:
        r.hits += v != v;
        break;
    default:
        r.hits += (v == INFINITY || v == -INFINITY) ? 1 : 0;
        break;
    }
}
NNSCOPE_HD inline void reduce_merge(const ReduceArgs& a, ReduceAcc& r, const ReduceAcc& o) {
    if (reduce_integral(a)) {
        r.iacc = a.op == R_SUM   ? int64_t(uint64_t(r.iacc) + uint64_t(o.iacc))
                 : a.op == R_MIN ? (o.iacc < r.iacc ? o.iacc : r.iacc)
                                 : (o.iacc > r.iacc ? o.iacc : r.iacc);
        return;
    }
    if (a.op == R_VAR && o.count > 0) {
        const int64_t n = r.count + o.count;
        const double d = o.mean - r.mean;
        r.mean += d * double(o.count) / double(n);
        r.m2 += o.m2 + d * d * double(r.count) * double(o.count) / double(n);
        r.count = n;
    } else if (a.op != R_VAR) {
        r.sum += o.sum;
        r.count += o.count;
    }
    r.hits += o.hits;
    r.nan = r.nan || o.nan;
    if (a.op == R_MIN ? o.ext < r.ext : o.ext > r.ext) r.ext = o.ext;
}
NNSCOPE_HD inline void reduce_store(const ReduceArgs& a, const ReduceAcc& r, char* out) {
    if (reduce_integral(a)) {
        store_i(out, a.dst.dtype, r.iacc);
        return;
    }
    double v = 0;
    switch (a.op) {
    case R_SUM:
        v = r.sum;
        break;
    case R_MEAN:
        v = r.count ? r.sum / double(r.count) : NAN;
        break;
    case R_NORM2:
        v = sqrt(r.sum);
        break;
    case R_MIN:
    case R_MAX:
        v = r.nan ? NAN : r.ext;
        break;
    case R_VAR:
        v = r.count - a.correction > 0 ? r.m2 / double(r.count - a.correction) : NAN;
        break;
    default:
        store_i(out, a.dst.dtype, r.hits);
        return;
    }
    store_f(out, a.dst.dtype, v);
}
// The source of output `o`, its inner dims as an operand of their own.
NNSCOPE_HD inline Operand reduce_source(const ReduceArgs& a, int64_t o) {
    int64_t rest = o, base = 0;
    for (int d = a.outer.ndim - 1; d >= 0; --d) {
        base += (rest % a.outer.size[d]) * a.src.strides[d];
        rest /= a.outer.size[d];
    }
    Operand in = a.src;
    in.data = a.src.data + base * dtype_bytes(a.src.dtype);
    for (int d = 0; d < a.inner.ndim; ++d) in.strides[d] = a.src.strides[a.outer.ndim + d];
    return in;
}
// Elements begin, begin + step, ... (< end) of output o's inner block.
NNSCOPE_HD inline ReduceAcc reduce_range(const ReduceArgs& a, int64_t o, int64_t begin, int64_t end,
                                         int64_t step) {
    const Operand in = reduce_source(a, o);
    ReduceAcc r = reduce_identity(a);
    for (int64_t k = begin; k < end; k += step) reduce_add(a, r, element(in, a.inner, k));
    return r;
}
// One thread per output: small inner blocks, or enough outputs to fill the device.
NNSCOPE_HD inline void reduce_element(const ReduceArgs& a, int64_t o) {
    reduce_store(a, reduce_range(a, o, 0, a.inner.numel(), 1), element(a.dst, a.outer, o));
}
// Many elements per output: `chunks` blocks of `threads` partial accumulators per output
// (block b = o * chunks + c covers elements [c * chunk, (c + 1) * chunk)), each block merged
// into partials[b]; then one thread per output merges its chunks in order.
struct ReduceSplit {
    int64_t chunks, chunk, threads;
};
constexpr int k_reduce_block = 256; // threads per block of a split reduction
inline ReduceSplit reduce_split(int64_t outputs, int64_t inner) {
    if (inner <= 4096 || outputs >= 1024) return {1, inner, 1};
    const int64_t want = (inner + 16383) / 16384, room = 2048 / outputs;
    const int64_t chunks = want < room ? want : (room > 1 ? room : 1);
    return {chunks, (inner + chunks - 1) / chunks, k_reduce_block};
}
NNSCOPE_HD inline ReduceAcc reduce_thread(const ReduceArgs& a, const ReduceSplit& s, int64_t block,
                                          int64_t thread) {
    const int64_t o = block / s.chunks, c = block % s.chunks, n = a.inner.numel();
    const int64_t end = (c + 1) * s.chunk < n ? (c + 1) * s.chunk : n;
    return reduce_range(a, o, c * s.chunk + thread, end, s.threads);
}
struct ReduceFinishArgs {
    ReduceArgs reduce;
    const ReduceAcc* partials;
    int64_t chunks;
};
NNSCOPE_HD inline void reduce_finish_element(const ReduceFinishArgs& f, int64_t o) {
    ReduceAcc r = f.partials[o * f.chunks];
    for (int64_t c = 1; c < f.chunks; ++c) reduce_merge(f.reduce, r, f.partials[o * f.chunks + c]);
    reduce_store(f.reduce, r, element(f.reduce.dst, f.reduce.outer, o));
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
// grad(V, D)[index[r], j] += src(N, D)[r, j], one source element each: O(N * D) work. `add`
// does the read-modify-write: a plain one on sim:0 (one thread), an atomic on the GPU.
// (`dst` is the (V, D) gradient, `table` the (N, D) source, `cols` D.)
template <class Add>
NNSCOPE_HD inline void index_add_scatter(const RowsArgs& a, int64_t idx, Add add) {
    const int64_t r = idx / a.cols, j = idx % a.cols;
    const int64_t v =
        load_i(a.index.data + r * a.index.strides[0] * dtype_bytes(a.index.dtype), a.index.dtype);
    const int ss = dtype_bytes(a.table.dtype), ds = dtype_bytes(a.dst.dtype);
    add(a.dst.data + (v * a.dst.strides[0] + j * a.dst.strides[1]) * ds, a.dst.dtype,
        load_f(a.table.data + (r * a.table.strides[0] + j * a.table.strides[1]) * ss,
               a.table.dtype));
}
struct PlainAdd {
    NNSCOPE_HD void operator()(char* p, int dtype, double v) const {
        store_f(p, dtype, load_f(p, dtype) + v);
    }
};
NNSCOPE_HD inline void index_add_element(const RowsArgs& a, int64_t idx) {
    index_add_scatter(a, idx, PlainAdd{});
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

// Max pooling: one output's window maximum and, where index is given, the flat position
// h * W + w of its first maximum in scan order (rows outer), a NaN winning: ATen's choice.
struct PoolArgs {
    char* values;  // (planes, oh, ow), contiguous
    char* index;   // int64, the same shape; null: not wanted
    const char* x; // (planes, H, W), contiguous
    int dtype;
    PoolWindows rows, cols;
};
NNSCOPE_HD inline void window_max_element(const PoolArgs& a, int64_t idx) {
    const int64_t ow = a.cols.out, oh = a.rows.out, h = a.rows.in, w = a.cols.in;
    const int64_t ox = idx % ow, oy = (idx / ow) % oh, plane = idx / (ow * oh);
    const PoolTaps r = pool_taps(a.rows, oy), c = pool_taps(a.cols, ox);
    const int es = dtype_bytes(a.dtype);
    const char* in = a.x + plane * h * w * es;
    int64_t best = r.count && c.count ? r.first * w + c.first : 0;
    double best_v = -INFINITY;
    for (int64_t i = 0; i < r.count; ++i)
        for (int64_t j = 0; j < c.count; ++j) {
            const int64_t at = (r.first + i * r.step) * w + c.first + j * c.step;
            const double v = load_f(in + at * es, a.dtype);
            if (pool_beats(v, best_v)) {
                best_v = v;
                best = at;
            }
        }
    store_f(a.values + idx * es, a.dtype, best_v);
    if (a.index) store_i(a.index + idx * 8, I64, best);
}
// Its gradient, one plane per call (no two planes share an input, so no atomics): gx +=
// each of the plane's output gradients at its index, in order.
struct PoolGradArgs {
    char* gx;          // (planes, hw), contiguous
    const char* g;     // (planes, per_plane), contiguous
    const char* index; // int64, like g
    int dtype;
    int64_t hw, per_plane;
};
NNSCOPE_HD inline void window_max_grad_plane(const PoolGradArgs& a, int64_t plane) {
    const int es = dtype_bytes(a.dtype);
    char* out = a.gx + plane * a.hw * es;
    for (int64_t k = plane * a.per_plane; k < (plane + 1) * a.per_plane; ++k) {
        char* p = out + load_i(a.index + k * 8, I64) * es;
        store_f(p, a.dtype, load_f(p, a.dtype) + load_f(a.g + k * es, a.dtype));
    }
}

} // namespace nnscope::gpu
