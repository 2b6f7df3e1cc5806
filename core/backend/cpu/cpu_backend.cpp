// cpu_backend.cpp: the reference backend. Host memory, strided element loops, OpenBLAS GEMM.
//
// Every op works on any dtype through widening loads (double for floating types, int64
// for integers) and narrowing stores, so one loop serves ten dtypes. Contiguous float32
// cases take a direct path. Other backends are tested against this one.
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <new>
#include <vector>

#include "backend.h"
#include "block_cache.h"
#include "cpu_threads.h"
#include "element_io.h"
#include "errors.h"
#include "gemm_layout.h"
#include "pool_cpu.h"

namespace nnscope {

namespace {

// --- widening loads and narrowing stores: core/backend/element_io.h, shared with the GPU kernels
// --

static_assert(int(DType::Bool) == elem::BOOL && int(DType::Float16) == elem::F16 &&
                  int(DType::Float8E4M3FN) == elem::F8E4M3 && int(DType::UInt64) == elem::U64,
              "dtype codes out of step");
static_assert(int(UnaryOp::Sign) == elem::U_SIGN && int(BinaryOp::Pow) == elem::B_POW,
              "op codes out of step");

double load_f(const char* p, DType t) {
    return elem::load_f(p, int(t));
}
int64_t load_i(const char* p, DType t) {
    return elem::load_i(p, int(t));
}
void store_f(char* p, DType t, double v) {
    elem::store_f(p, int(t), v);
}
void store_i(char* p, DType t, int64_t v) {
    elem::store_i(p, int(t), v);
}

// --- strided iteration ------------------------------------------------------------------

// Calls f(ptrs) for every index of `shape`, row-major, with one byte pointer per operand.
template <size_t N, class F>
void for_each_element(const std::vector<int64_t>& shape, const TensorView* const (&ops)[N], F&& f) {
    int64_t numel = 1;
    for (int64_t s : shape) numel *= s;
    if (numel == 0) return;
    const size_t nd = shape.size();
    char* ptr[N];
    int64_t step[N][16]; // byte strides; rank is limited to 16 by the front end
    for (size_t k = 0; k < N; ++k) {
        ptr[k] = static_cast<char*>(ops[k]->data);
        for (size_t d = 0; d < nd; ++d)
            step[k][d] = ops[k]->strides[d] * int64_t(dtype_size(ops[k]->dtype));
    }
    int64_t idx[16] = {};
    for (int64_t n = 0; n < numel; ++n) {
        f(ptr);
        for (size_t d = nd; d-- > 0;) {
            for (size_t k = 0; k < N; ++k) ptr[k] += step[k][d];
            if (++idx[d] < shape[d]) break;
            for (size_t k = 0; k < N; ++k) ptr[k] -= step[k][d] * shape[d];
            idx[d] = 0;
        }
    }
}

bool is_contiguous(const TensorView& v) {
    int64_t expected = 1;
    for (size_t d = v.shape.size(); d-- > 0;) {
        if (v.shape[d] != 1 && v.strides[d] != expected) return false;
        expected *= v.shape[d];
    }
    return true;
}

double apply_unary(UnaryOp op, double x) {
    return elem::unary_f(int(op), x);
}
double apply_binary_f(BinaryOp op, double a, double b) {
    return elem::binary_f(int(op), a, b);
}
int64_t apply_binary_i(BinaryOp op, int64_t a, int64_t b) {
    return elem::binary_i(int(op), a, b);
}

// relu_ over a plain float32 array, split over the OpenMP threads for large arrays.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void relu_span(float* p, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] = p[i] < 0.f ? 0.f : p[i];
}

void relu_in_place(float* p, int64_t n) {
#ifdef _OPENMP
    if (n >= (1 << 18) && omp_get_max_threads() > 1) {
#pragma omp parallel
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            relu_span(p + n * t / nt, n * (t + 1) / nt - n * t / nt);
        }
        return;
    }
#endif
    relu_span(p, n);
}

// Sum of a plain float or double array, accumulated in double over eight lanes (the order
// differs from a single running sum by rounding only).
template <class T>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
double
sum_span(const T* p, int64_t n) {
    double lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) lanes[j] += double(p[i + j]);
    double s = 0;
    for (; i < n; ++i) s += double(p[i]);
    for (double l : lanes) s += l;
    return s;
}

// Sum or mean over the last dims of a float or double tensor whose reduced dims form one
// contiguous block per output (global pooling, a mean over H and W): rows in parallel.
// False where the layout does not fit; the generic loop serves then.
bool reduce_contiguous_rows(ReduceOp op, const TensorView& dst, const TensorView& src,
                            int reduce_ndim) {
    if ((op != ReduceOp::Sum && op != ReduceOp::Mean) || src.dtype != dst.dtype ||
        (src.dtype != DType::Float32 && src.dtype != DType::Float64))
        return false;
    const size_t nd = src.shape.size(), outer_nd = nd - size_t(reduce_ndim);
    int64_t inner = 1;
    for (size_t d = nd; d-- > outer_nd;) {
        if (src.shape[d] != 1 && src.strides[d] != inner) return false;
        inner *= src.shape[d];
    }
    int64_t rows = 1, expect = inner;
    for (size_t d = outer_nd; d-- > 0;) { // outer dims contiguous too, and dst plain
        if (src.shape[d] != 1 && src.strides[d] != expect) return false;
        expect *= src.shape[d];
        rows *= src.shape[d];
    }
    int64_t dense = 1;
    for (size_t d = dst.shape.size(); d-- > 0;) {
        if (dst.shape[d] != 1 && dst.strides[d] != dense) return false;
        dense *= dst.shape[d];
    }
    if (dense != rows || inner == 0) return false;
    const double count = op == ReduceOp::Mean ? double(inner) : 1.0;
    auto run = [&](auto* in, auto* out) {
#pragma omp parallel for if (rows * inner > (1 << 16))
        for (int64_t r = 0; r < rows; ++r)
            out[r] = decltype(+out[r])(sum_span(in + r * inner, inner) / count);
    };
    if (src.dtype == DType::Float32)
        run(static_cast<const float*>(src.data), static_cast<float*>(dst.data));
    else
        run(static_cast<const double*>(src.data), static_cast<double*>(dst.data));
    return true;
}

// One element of v, broadcast over the whole result (a scalar operand: every stride 0).
bool broadcast_single(const TensorView& v) {
    return std::all_of(v.strides.begin(), v.strides.end(), [](int64_t s) { return s == 0; });
}

// A float32 result from a plain float32 array and a broadcast scalar (either side) of any
// floating dtype, rounded to float32 first as the generic loop does: x * lr in an optimizer
// step, 1 - x, x / 6. False where the operands do not fit.
bool binary_with_scalar(BinaryOp op, const TensorView& dst, const TensorView& a,
                        const TensorView& b) {
    const bool scalar_b = broadcast_single(b) && a.dtype == DType::Float32 && is_contiguous(a) &&
                          dtype_is_floating(b.dtype);
    const bool scalar_a = !scalar_b && broadcast_single(a) && b.dtype == DType::Float32 &&
                          is_contiguous(b) && dtype_is_floating(a.dtype);
    if ((!scalar_a && !scalar_b) || !is_contiguous(dst) ||
        (op != BinaryOp::Add && op != BinaryOp::Sub && op != BinaryOp::Mul && op != BinaryOp::Div))
        return false;
    const TensorView& arr = scalar_b ? a : b;
    const TensorView& one = scalar_b ? b : a;
    const float s = float(load_f(static_cast<const char*>(one.data), one.dtype));
    const float* x = static_cast<const float*>(arr.data);
    float* d = static_cast<float*>(dst.data);
    const int64_t n = dst.numel();
    switch (op) {
    case BinaryOp::Add:
        for (int64_t i = 0; i < n; ++i) d[i] = x[i] + s;
        break;
    case BinaryOp::Mul:
        for (int64_t i = 0; i < n; ++i) d[i] = x[i] * s;
        break;
    case BinaryOp::Sub:
        if (scalar_b)
            for (int64_t i = 0; i < n; ++i) d[i] = x[i] - s;
        else
            for (int64_t i = 0; i < n; ++i) d[i] = s - x[i];
        break;
    default:
        if (scalar_b)
            for (int64_t i = 0; i < n; ++i) d[i] = x[i] / s;
        else
            for (int64_t i = 0; i < n; ++i) d[i] = s / x[i];
        break;
    }
    return true;
}

// ReLU's gradient over [i0, i1): the output gradient where ReLU's result is positive.
NNSCOPE_HOT void relu_grad_range(const float* dy, const float* y, float* dx, int64_t i0,
                                 int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
        const float d = dy[i]; // loaded unconditionally, so the loop vectorizes
        dx[i] = y[i] > 0.f ? d : 0.f;
    }
}

class CpuBackend final : public Backend {
    static size_t block_size(size_t nbytes) { return nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64; }
    BlockCache m_cache;

  public:
    Device device() const override { return Device::cpu(); }
    std::string name() const override { return "cpu"; }

    void* allocate(size_t nbytes) override {
        // 64-byte alignment suits AVX-512 loads and keeps every dtype aligned.
        // Requests over the machine's physical memory fail here, in PyTorch's words, rather
        // than later when the kernel's overcommit kills the process.
        static const uint64_t physical = uint64_t(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
        void* p = nullptr;
        if (nbytes <= physical) {
            const size_t rounded = block_size(nbytes);
            p = m_cache.take(rounded);
            if (!p) p = std::aligned_alloc(64, rounded);
        }
        if (!p)
            throw OutOfMemoryError(
                out_of_memory_message(Device::cpu(), nbytes, physical, 0, memory_stats()));
        m_in_use += nbytes;
        return p;
    }
    void deallocate(void* ptr, size_t nbytes) override {
        if (!m_cache.give(ptr, block_size(nbytes))) std::free(ptr);
        m_in_use -= nbytes;
    }
    void copy_from_host(void* dst, const void* src, size_t n) override {
        if (n) std::memcpy(dst, src, n);
    }
    void copy_to_host(void* dst, const void* src, size_t n) override {
        if (n) std::memcpy(dst, src, n);
    }
    size_t bytes_in_use() const override { return m_in_use; }

    void copy(const TensorView& dst, const TensorView& src) override {
        if (dst.dtype == src.dtype && is_contiguous(dst) && is_contiguous(src)) {
            std::memmove(dst.data, src.data, size_t(dst.numel()) * dtype_size(dst.dtype));
            return;
        }
        const TensorView* ops[2] = {&dst, &src};
        const DType dt = dst.dtype, st = src.dtype;
        if (dt == st) { // any dtype, storage-only ones included: element bytes as they are
            const size_t es = dtype_size(dt);
            for_each_element(dst.shape, ops, [&](char** p) { std::memcpy(p[0], p[1], es); });
            return;
        }
        // Storage-only sources are widened through load_f (uint64 past INT64_MAX included).
        if (((dtype_is_floating(st) || dtype_is_storage_only(st)) && dtype_is_floating(dt)) ||
            (dtype_is_floating(st) && dt == DType::Bool))
            for_each_element(dst.shape, ops,
                             [&](char** p) { store_f(p[0], dt, load_f(p[1], st)); });
        else
            for_each_element(dst.shape, ops,
                             [&](char** p) { store_i(p[0], dt, load_i(p[1], st)); });
    }

    void fill(const TensorView& dst, Scalar value) override {
        const TensorView* ops[1] = {&dst};
        const DType dt = dst.dtype;
        char bytes[8];
        if (value.kind == Scalar::Kind::Float)
            store_f(bytes, dt, value.f);
        else
            store_i(bytes, dt, value.i);
        const size_t es = dtype_size(dt);
        if (is_contiguous(dst)) { // zeros() for every gradient buffer: one pass over memory
            const int64_t n = dst.numel();
            char* d = static_cast<char*>(dst.data);
            if (std::all_of(bytes, bytes + es, [](char b) { return b == 0; })) {
                std::memset(d, 0, size_t(n) * es);
                return;
            }
            for (int64_t i = 0; i < n; ++i) std::memcpy(d + size_t(i) * es, bytes, es);
            return;
        }
        for_each_element(dst.shape, ops, [&](char** p) { std::memcpy(p[0], bytes, es); });
    }

    void unary(UnaryOp op, const TensorView& dst, const TensorView& src) override {
        const TensorView* ops[2] = {&dst, &src};
        const DType dt = dst.dtype, st = src.dtype;
        // Exact float32 ops on plain arrays (ReLU and its derivative above all): one loop.
        if (dt == DType::Float32 && st == DType::Float32 && is_contiguous(dst) &&
            is_contiguous(src) &&
            (op == UnaryOp::Relu || op == UnaryOp::Step || op == UnaryOp::Neg ||
             op == UnaryOp::Abs)) {
            float* d = static_cast<float*>(dst.data);
            const float* x = static_cast<const float*>(src.data);
            const int64_t n = dst.numel();
            if (op == UnaryOp::Relu && d == x) { // relu_: one pointer, so the loop vectorises
                relu_in_place(d, n);
                return;
            }
            switch (op) {
            case UnaryOp::Relu: // NaN < 0 is false: NaN stays NaN, as in ATen
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] < 0.f ? 0.f : x[i];
                return;
            case UnaryOp::Step:
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] > 0.f ? 1.f : 0.f;
                return;
            case UnaryOp::Neg:
                for (int64_t i = 0; i < n; ++i) d[i] = -x[i];
                return;
            default:
                for (int64_t i = 0; i < n; ++i) d[i] = std::fabs(x[i]);
                return;
            }
        }
        if (dtype_is_integral(dt) &&
            (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu)) {
            for_each_element(dst.shape, ops, [&](char** p) {
                int64_t x = load_i(p[1], st);
                int64_t r = op == UnaryOp::Neg   ? int64_t(0 - uint64_t(x))
                            : op == UnaryOp::Abs ? (x < 0 ? -x : x)
                                                 : (x > 0 ? x : 0);
                store_i(p[0], dt, r);
            });
            return;
        }
        for_each_element(dst.shape, ops,
                         [&](char** p) { store_f(p[0], dt, apply_unary(op, load_f(p[1], st))); });
    }

    void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                const TensorView& b) override {
        const TensorView* ops[3] = {&dst, &a, &b};
        const DType dt = dst.dtype, at = a.dtype, bt = b.dtype;
        if (compute == DType::Float32 && dt == DType::Float32 && at == DType::Float32 &&
            bt == DType::Float32 && is_contiguous(dst) && is_contiguous(a) && is_contiguous(b)) {
            float* d = static_cast<float*>(dst.data);
            const float* x = static_cast<const float*>(a.data);
            const float* y = static_cast<const float*>(b.data);
            const int64_t n = dst.numel();
            switch (op) {
            case BinaryOp::Add:
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] + y[i];
                return;
            case BinaryOp::Sub:
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] - y[i];
                return;
            case BinaryOp::Mul:
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] * y[i];
                return;
            case BinaryOp::Div:
                for (int64_t i = 0; i < n; ++i) d[i] = x[i] / y[i];
                return;
            default:
                break;
            }
        }
        if (compute == DType::Float32 && dt == DType::Float32 && binary_with_scalar(op, dst, a, b))
            return;
        if (dtype_is_floating(compute)) {
            // Round through the compute type so float32 results equal PyTorch's float32 ones.
            auto round = [c = int(compute)](double v) { return elem::round_to(c, v); };
            for_each_element(dst.shape, ops, [&](char** p) {
                double r = apply_binary_f(op, round(load_f(p[1], at)), round(load_f(p[2], bt)));
                store_f(p[0], dt, round(r));
            });
        } else if (compute == DType::Bool) {
            for_each_element(dst.shape, ops, [&](char** p) {
                bool x = load_i(p[1], at) != 0, y = load_i(p[2], bt) != 0;
                bool r = op == BinaryOp::Add || op == BinaryOp::Maximum   ? (x || y)
                         : op == BinaryOp::Mul || op == BinaryOp::Minimum ? (x && y)
                                                                          : (x != y);
                store_i(p[0], dt, r);
            });
        } else {
            for_each_element(dst.shape, ops, [&](char** p) {
                char tmp[8];
                store_i(tmp, compute, apply_binary_i(op, load_i(p[1], at), load_i(p[2], bt)));
                store_i(p[0], dt, load_i(tmp, compute)); // wrap at the compute type's width
            });
        }
    }

    void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                int64_t correction) override {
        if (reduce_contiguous_rows(op, dst, src, reduce_ndim)) return;
        const size_t outer_nd = src.shape.size() - size_t(reduce_ndim);
        TensorView outer{src.data, src.dtype,
                         std::vector<int64_t>(src.shape.begin(), src.shape.begin() + outer_nd),
                         std::vector<int64_t>(src.strides.begin(), src.strides.begin() + outer_nd)};
        TensorView inner{nullptr, src.dtype,
                         std::vector<int64_t>(src.shape.begin() + outer_nd, src.shape.end()),
                         std::vector<int64_t>(src.strides.begin() + outer_nd, src.strides.end())};
        const int64_t count = inner.numel();
        const DType st = src.dtype, dt = dst.dtype;
        const bool integral = !dtype_is_floating(st);
        const TensorView* ops[2] = {&dst, &outer};
        for_each_element(outer.shape, ops, [&](char** p) {
            inner.data = p[1];
            const TensorView* in[1] = {&inner};
            if (integral && op == ReduceOp::Sum) {
                int64_t s = 0;
                for_each_element(inner.shape, in, [&](char** q) {
                    s = int64_t(uint64_t(s) + uint64_t(load_i(q[0], st)));
                });
                store_i(p[0], dt, s);
                return;
            }
            if (integral && (op == ReduceOp::Min || op == ReduceOp::Max)) {
                int64_t m = op == ReduceOp::Min ? std::numeric_limits<int64_t>::max()
                                                : std::numeric_limits<int64_t>::min();
                for_each_element(inner.shape, in, [&](char** q) {
                    int64_t v = load_i(q[0], st);
                    m = op == ReduceOp::Min ? std::min(m, v) : std::max(m, v);
                });
                store_i(p[0], dt, m);
                return;
            }
            double acc = 0, mean = 0, m2 = 0;
            int64_t n = 0, hits = 0;
            bool nan = false;
            double ext = op == ReduceOp::Min ? INFINITY : -INFINITY;
            for_each_element(inner.shape, in, [&](char** q) {
                double v = load_f(q[0], st);
                switch (op) {
                case ReduceOp::Sum:
                case ReduceOp::Mean:
                    acc += v;
                    break;
                case ReduceOp::Norm2:
                    acc += v * v;
                    break;
                case ReduceOp::Var: { // Welford: stable for large means
                    ++n;
                    double d = v - mean;
                    mean += d / double(n);
                    m2 += d * (v - mean);
                    break;
                }
                case ReduceOp::Min:
                    if (std::isnan(v))
                        nan = true;
                    else if (v < ext)
                        ext = v;
                    break;
                case ReduceOp::Max:
                    if (std::isnan(v))
                        nan = true;
                    else if (v > ext)
                        ext = v;
                    break;
                case ReduceOp::CountNaN:
                    hits += std::isnan(v);
                    break;
                case ReduceOp::CountInf:
                    hits += std::isinf(v);
                    break;
                }
            });
            double r = 0;
            switch (op) {
            case ReduceOp::Sum:
                r = acc;
                break;
            case ReduceOp::Mean:
                r = count ? acc / double(count) : NAN;
                break;
            case ReduceOp::Norm2:
                r = std::sqrt(acc);
                break;
            case ReduceOp::Var:
                r = count - correction > 0 ? m2 / double(count - correction) : NAN;
                break;
            case ReduceOp::Min:
            case ReduceOp::Max:
                r = nan ? NAN : ext;
                break;
            case ReduceOp::CountNaN:
            case ReduceOp::CountInf:
                store_i(p[0], dt, hits);
                return;
            }
            store_f(p[0], dt, r);
        });
    }

    void window_max(const TensorView& values, const TensorView& index, const TensorView& x,
                    const PoolWindows& rows, const PoolWindows& cols) override {
        std::vector<PoolTaps> r(size_t(rows.out)), c(size_t(cols.out));
        for (int64_t o = 0; o < rows.out; ++o) r[size_t(o)] = pool_taps(rows, o);
        for (int64_t o = 0; o < cols.out; ++o) c[size_t(o)] = pool_taps(cols, o);
        const int64_t planes = x.shape[0] * x.shape[1];
        int64_t* at = static_cast<int64_t*>(index.data);
        if (x.dtype == DType::Float32)
            pool_cpu::window_max(static_cast<const float*>(x.data), planes, rows.in, cols.in, r, c,
                                 static_cast<float*>(values.data), at);
        else
            pool_cpu::window_max(static_cast<const double*>(x.data), planes, rows.in, cols.in, r, c,
                                 static_cast<double*>(values.data), at);
    }

    void window_max_backward(const TensorView& gx, const TensorView& g,
                             const TensorView& index) override {
        const int64_t planes = gx.shape[0] * gx.shape[1], hw = gx.shape[2] * gx.shape[3];
        const int64_t per_plane = g.shape[2] * g.shape[3];
        const int64_t* at = static_cast<const int64_t*>(index.data);
        if (gx.dtype == DType::Float32)
            pool_cpu::scatter_grads(static_cast<const float*>(g.data), at, planes, per_plane, hw,
                                    static_cast<float*>(gx.data));
        else if (gx.dtype == DType::Float64)
            pool_cpu::scatter_grads(static_cast<const double*>(g.data), at, planes, per_plane, hw,
                                    static_cast<double*>(gx.data));
        else { // float16, bfloat16: each sum rounded to the dtype, as the GPU kernel does
            const size_t es = dtype_size(gx.dtype);
            char* out = static_cast<char*>(gx.data);
            const char* in = static_cast<const char*>(g.data);
            for (int64_t k = 0; k < planes * per_plane; ++k) {
                char* p = out + size_t(k / per_plane * hw + at[k]) * es;
                store_f(p, gx.dtype, load_f(p, gx.dtype) + load_f(in + size_t(k) * es, gx.dtype));
            }
        }
    }

    // Contiguous float32 only (what models train in); the rest is composed by the caller.
    bool threshold_backward(const TensorView& gx, const TensorView& g,
                            const TensorView& y) override {
        if (gx.dtype != DType::Float32 || g.dtype != DType::Float32 || y.dtype != DType::Float32 ||
            !is_contiguous(gx) || !is_contiguous(g) || !is_contiguous(y))
            return false;
        const int64_t n = y.numel();
        const float *gp = static_cast<const float*>(g.data),
                    *yp = static_cast<const float*>(y.data);
        float* out = static_cast<float*>(gx.data);
        cpu::for_chunks(n, cpu::plan_threads(n, 3 * n),
                        [&](int64_t i0, int64_t i1, int) { relu_grad_range(gp, yp, out, i0, i1); });
        return true;
    }

    // Float32, every view contiguous: the GEMMs below read them as plain row-major arrays.
    static bool plain_float32(std::initializer_list<const TensorView*> views) {
        for (const TensorView* v : views)
            if (v->data && (v->dtype != DType::Float32 || !is_contiguous(*v))) return false;
        return true;
    }

    bool linear(const TensorView& y, const TensorView& x, const TensorView& w,
                const TensorView& b) override {
        if (!plain_float32({&y, &x, &w, &b})) return false;
        const int64_t n = x.shape[0], in = x.shape[1], out = w.shape[0];
        float* yp = static_cast<float*>(y.data);
        float beta = 0.f;
        if (b.data) { // every row starts as the bias, and the GEMM adds to it (beta = 1)
            const float* bp = static_cast<const float*>(b.data);
            for (int64_t i = 0; i < n; ++i) std::copy(bp, bp + out, yp + i * out);
            beta = 1.f;
        }
        if (n > 0 && out > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(out), int(in), 1.f,
                        static_cast<const float*>(x.data), int(in),
                        static_cast<const float*>(w.data), int(in), beta, yp, int(out));
        return true;
    }

    bool linear_backward(const TensorView& gx, const TensorView& gw, const TensorView& gb,
                         const TensorView& g, const TensorView& x, const TensorView& w) override {
        if (!plain_float32({&gx, &gw, &gb, &g, &x, &w})) return false;
        const int64_t n = g.shape[0], out = g.shape[1], in = w.shape[1];
        const float* gp = static_cast<const float*>(g.data);
        if (gx.data) // dX = dY W
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(in), int(out), 1.f,
                        gp, int(out), static_cast<const float*>(w.data), int(in), 0.f,
                        static_cast<float*>(gx.data), int(in));
        if (gw.data) // dW = dY^T X
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(out), int(in), int(n), 1.f, gp,
                        int(out), static_cast<const float*>(x.data), int(in), 0.f,
                        static_cast<float*>(gw.data), int(in));
        if (gb.data) { // db = the column sums of dY, accumulated in double as ATen's CPU sums are
            std::vector<double> acc(size_t(out), 0.0);
            for (int64_t i = 0; i < n; ++i)
                for (int64_t o = 0; o < out; ++o) acc[size_t(o)] += gp[i * out + o];
            float* bp = static_cast<float*>(gb.data);
            for (int64_t o = 0; o < out; ++o) bp[o] = float(acc[size_t(o)]);
        }
        return true;
    }

    void matmul(const TensorView& c, const TensorView& a, const TensorView& b) override {
        // The arguments cuBLAS gets too (gemm_layout.h): row-major C = A @ B as column-major
        // C^T = B^T @ A^T, each operand as is.
        const ColumnMajorGemm g = column_major_gemm(c, a, b);
        const auto op = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
        if (c.dtype == DType::Float32)
            cblas_sgemm(CblasColMajor, op(g.trans_first), op(g.trans_second), g.m, g.n, g.k, 1.0f,
                        static_cast<const float*>(g.first), g.ld_first,
                        static_cast<const float*>(g.second), g.ld_second, 0.0f,
                        static_cast<float*>(g.c), g.ldc);
        else
            cblas_dgemm(CblasColMajor, op(g.trans_first), op(g.trans_second), g.m, g.n, g.k, 1.0,
                        static_cast<const double*>(g.first), g.ld_first,
                        static_cast<const double*>(g.second), g.ld_second, 0.0,
                        static_cast<double*>(g.c), g.ldc);
    }

    void index_select_rows(const TensorView& dst, const TensorView& table,
                           const TensorView& index) override {
        const int64_t n = dst.shape[0], d = dst.shape[1];
        const size_t es = dtype_size(dst.dtype);
        const char* idx = static_cast<const char*>(index.data);
        for (int64_t i = 0; i < n; ++i) {
            int64_t row =
                load_i(idx + i * index.strides[0] * int64_t(dtype_size(index.dtype)), index.dtype);
            const char* src =
                static_cast<const char*>(table.data) + row * table.strides[0] * int64_t(es);
            char* out = static_cast<char*>(dst.data) + i * dst.strides[0] * int64_t(es);
            if (table.strides[1] == 1 && dst.strides[1] == 1)
                std::memcpy(out, src, size_t(d) * es);
            else
                for (int64_t j = 0; j < d; ++j)
                    std::memcpy(out + j * dst.strides[1] * int64_t(es),
                                src + j * table.strides[1] * int64_t(es), es);
        }
    }

    void index_add_rows(const TensorView& dst, const TensorView& index,
                        const TensorView& src) override {
        const int64_t n = src.shape[0], d = src.shape[1];
        const char* idx = static_cast<const char*>(index.data);
        const size_t ds = dtype_size(dst.dtype), ss = dtype_size(src.dtype);
        for (int64_t i = 0; i < n; ++i) {
            int64_t row =
                load_i(idx + i * index.strides[0] * int64_t(dtype_size(index.dtype)), index.dtype);
            for (int64_t j = 0; j < d; ++j) {
                char* o = static_cast<char*>(dst.data) +
                          (row * dst.strides[0] + j * dst.strides[1]) * int64_t(ds);
                const char* x = static_cast<const char*>(src.data) +
                                (i * src.strides[0] + j * src.strides[1]) * int64_t(ss);
                store_f(o, dst.dtype, load_f(o, dst.dtype) + load_f(x, src.dtype));
            }
        }
    }

    // The loops of im2col and col2im share the index arithmetic; `fold` selects the direction.
    template <bool fold, class T>
    static void im2col_loop(T* cols, T* x, int64_t n, int64_t c, int64_t h, int64_t w,
                            const ConvGeometry& g) {
        const int64_t l = g.oh * g.ow, rows = c * g.kh * g.kw;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t ch = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
                T* crow = cols + (b * rows + r) * l;
                T* xch = x + (b * c + ch) * h * w;
                for (int64_t oy = 0; oy < g.oh; ++oy) {
                    const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
                    for (int64_t ox = 0; ox < g.ow; ++ox) {
                        const int64_t ix = ox * g.sw - g.pw + kj * g.dw;
                        const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                        if constexpr (fold) {
                            if (inside) xch[iy * w + ix] += crow[oy * g.ow + ox];
                        } else {
                            crow[oy * g.ow + ox] = inside ? xch[iy * w + ix] : T(0);
                        }
                    }
                }
            }
    }

    void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) override {
        const auto& s = x.shape;
        if (x.dtype != DType::Float32 && x.dtype != DType::Float64)
            throw Error("im2col: float32 or float64 only");
        if (x.dtype == DType::Float32)
            im2col_loop<false>(static_cast<float*>(cols.data), static_cast<float*>(x.data), s[0],
                               s[1], s[2], s[3], g);
        else
            im2col_loop<false>(static_cast<double*>(cols.data), static_cast<double*>(x.data), s[0],
                               s[1], s[2], s[3], g);
    }

    void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) override {
        const auto& s = dx.shape;
        if (dx.dtype != DType::Float32 && dx.dtype != DType::Float64)
            throw Error("col2im: float32 or float64 only");
        if (dx.dtype == DType::Float32)
            im2col_loop<true>(static_cast<float*>(cols.data), static_cast<float*>(dx.data), s[0],
                              s[1], s[2], s[3], g);
        else
            im2col_loop<true>(static_cast<double*>(cols.data), static_cast<double*>(dx.data), s[0],
                              s[1], s[2], s[3], g);
    }

  private:
    std::atomic<size_t> m_in_use{0};
};

} // namespace

std::shared_ptr<Backend> make_cpu_backend() {
    return std::make_shared<CpuBackend>();
}

int cpu_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return openblas_get_num_threads();
#endif
}

void set_cpu_threads(int threads) {
    if (threads <= 0) return;
    openblas_set_num_threads(threads);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
}

} // namespace nnscope
