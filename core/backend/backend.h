// backend.h: the one device interface every backend implements (CPU, CUDA, simulated).
//
// A backend owns the memory of its device and runs the ops on it. Ops receive raw strided
// views (TensorView) whose shapes the front end (tensor.cpp) has already broadcast and
// checked, so a backend does arithmetic, not validation. The CPU backend is the reference
// implementation that the others are tested against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "device.h"
#include "dtype.h"
#include "pool_windows.h"

namespace nnscope {

// A strided window onto device memory; data already includes the storage offset.
struct TensorView {
    void* data = nullptr;
    DType dtype = DType::Float32;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides; // in elements; 0 for broadcast dimensions

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t s : shape) n *= s;
        return n;
    }
};

// A Python number: an int, a float or a bool, as PyTorch's "wrapped number".
struct Scalar {
    enum class Kind { Bool, Int, Float } kind = Kind::Float;
    double f = 0;
    int64_t i = 0;

    Scalar() = default;
    // i is the value truncated toward zero; 0 where that is not an int64 (inf, nan, huge).
    Scalar(double v)
        : kind(Kind::Float), f(v), i(v > -9.2e18 && v < 9.2e18 ? static_cast<int64_t>(v) : 0) {}
    Scalar(int v) : kind(Kind::Int), f(v), i(v) {}
    Scalar(int64_t v) : kind(Kind::Int), f(static_cast<double>(v)), i(v) {}
    Scalar(bool v) : kind(Kind::Bool), f(v), i(v) {}
    DType dtype() const {
        return kind == Kind::Float ? DType::Float64
               : kind == Kind::Int ? DType::Int64
                                   : DType::Bool;
    }
};

// Each op is one row of op_table.cpp (its names, dtype rule and backward) and one case of
// element_io.h's kernels, whose elem:: codes mirror these values. A new op goes at the end
// of its list, with the count below it raised.
enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, Pow };
inline constexpr int k_binary_op_count = int(BinaryOp::Pow) + 1;
enum class UnaryOp { Neg, Abs, Sqrt, Exp, Log, Relu, Sigmoid, Tanh, Erf, Step, Sign };
inline constexpr int k_unary_op_count = int(UnaryOp::Sign) + 1;
// Step: 1 where x > 0, else 0 (ReLU's derivative).
// Reductions over the trailing `reduce_ndim` dims of the source view.
enum class ReduceOp { Sum, Mean, Var, Min, Max, Norm2, CountNaN, CountInf };
inline constexpr int k_reduce_op_count = int(ReduceOp::CountInf) + 1;

// A device's memory as its allocator sees it (PyTorch's torch.cuda.memory_stats, in short).
struct MemoryStats {
    size_t in_use = 0;               // bytes of live tensors
    size_t reserved = 0;             // bytes held from the device: in use plus cached blocks
    size_t peak_in_use = 0;          // the most in use at once
    uint64_t device_allocations = 0; // blocks asked of the device (cudaMalloc calls)
    uint64_t cache_hits = 0;         // allocations served from cached blocks
};

class Backend {
  public:
    virtual ~Backend() = default;

    virtual Device device() const = 0;
    virtual std::string name() const = 0;
    virtual bool simulated() const { return false; }

    // --- memory. allocate() throws OutOfMemoryError (device.h's words); deallocate() never
    // throws (it runs in destructors): a failure there is reported by the next operation.
    virtual void* allocate(size_t nbytes) = 0;
    virtual void deallocate(void* ptr, size_t nbytes) = 0;
    virtual void copy_from_host(void* dst, const void* src, size_t nbytes) = 0;
    virtual void copy_to_host(void* dst, const void* src, size_t nbytes) = 0;
    virtual size_t bytes_in_use() const = 0;
    virtual MemoryStats memory_stats() const {
        const size_t n = bytes_in_use();
        return {n, n, n, 0, 0};
    }

    // --- ops; dst and sources are on this device. Element types may differ: the op
    // computes in the promoted type and converts on store.
    virtual void copy(const TensorView& dst, const TensorView& src) = 0; // with casting
    virtual void fill(const TensorView& dst, Scalar value) = 0;
    virtual void unary(UnaryOp op, const TensorView& dst, const TensorView& src) = 0;
    // `compute` is the dtype the arithmetic runs in (the promoted type of the inputs).
    virtual void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                        const TensorView& b) = 0;
    // dst has the leading dims of src; `correction` is var's Bessel correction (0 or 1).
    virtual void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                        int64_t correction) = 0;
    // C = A(m,k) @ B(k,n), 2-D views with arbitrary strides, float32/float64.
    virtual void matmul(const TensorView& c, const TensorView& a, const TensorView& b) = 0;
    // dst(N, D) = table(V, D)[index(N)]: embedding lookup; indices already checked.
    virtual void index_select_rows(const TensorView& dst, const TensorView& table,
                                   const TensorView& index) = 0;
    // dst(V, D)[index[i]] += src(N, D)[i]: the embedding gradient.
    virtual void index_add_rows(const TensorView& dst, const TensorView& index,
                                const TensorView& src) = 0;
    // Convolution geometry for im2col / col2im.
    struct ConvGeometry {
        int64_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
    };
    // cols(N, C*kh*kw, oh*ow) from x(N, C, H, W), zero padding; both contiguous.
    virtual void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) = 0;
    // dx(N, C, H, W) += the columns folded back: im2col's adjoint.
    virtual void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) = 0;
    // Max pooling: values(N, C, oh, ow) = the maximum of x(N, C, H, W) over each window
    // (pool_windows.h), and index (int64, the same shape; data null: not wanted) the flat
    // position h * W + w of the first maximum in scan order, a NaN winning, as ATen picks
    // it. Float32 or float64, all contiguous.
    virtual void window_max(const TensorView& values, const TensorView& index, const TensorView& x,
                            const PoolWindows& rows, const PoolWindows& cols) = 0;
    // Its gradient: gx(N, C, H, W) += g(N, C, oh, ow) at each plane's index (window_max's),
    // plane by plane in the outputs' order; all contiguous, gx and g of one floating dtype.
    virtual void window_max_backward(const TensorView& gx, const TensorView& g,
                                     const TensorView& index) = 0;

    // --- optional ops: a backend may decline (return false), and the caller then composes
    // the result from the ops above, in one place (ggml's supports_op; native_functions.yaml's
    // dispatch). Each is named for the ATen operator it implements.

    // ReLU's input gradient from the output gradient and ReLU's result (ATen's
    // threshold_backward at threshold 0): gx = g where y > 0, else 0. gx, g and y of one
    // shape and dtype. Composed otherwise as g * step(y).
    virtual bool threshold_backward(const TensorView& gx, const TensorView& g,
                                    const TensorView& y) {
        (void)gx, (void)g, (void)y;
        return false;
    }
    // nn.Linear's forward: y(N, out) = x(N, in) @ w(out, in)^T + b(out), b absent where its
    // data is null; one GEMM with the bias folded in. Composed otherwise as matmul and add.
    virtual bool linear(const TensorView& y, const TensorView& x, const TensorView& w,
                        const TensorView& b) {
        (void)y, (void)x, (void)w, (void)b;
        return false;
    }
    // Its backward from g(N, out): gx(N, in) = g @ w, gw(out, in) = g^T @ x, gb(out) = the
    // column sums of g; each output skipped where its data is null.
    virtual bool linear_backward(const TensorView& gx, const TensorView& gw, const TensorView& gb,
                                 const TensorView& g, const TensorView& x, const TensorView& w) {
        (void)gx, (void)gw, (void)gb, (void)g, (void)x, (void)w;
        return false;
    }
};

} // namespace nnscope
