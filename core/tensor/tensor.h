// tensor.h: nnscope's tensor, a handle onto shared storage like torch.Tensor.
//
// A Tensor is a cheap, copyable handle (shared_ptr to a TensorImpl). Two handles to the
// same impl are the same tensor, as two Python references are: that identity is what
// named_parameters() de-duplicates on. Views share the storage and differ in shape,
// strides and offset. A default-constructed Tensor is undefined, PyTorch's None.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "device.h"
#include "dtype.h"

namespace nnscope {

using Shape = std::vector<int64_t>;
struct Node; // autograd.h

// Bytes on one device. The backend that allocated them frees them, unless they belong to
// something else (a memory-mapped file), which `keepalive` holds open.
struct Storage {
    Device device;
    Backend* backend = nullptr;
    void* data = nullptr;
    size_t nbytes = 0;
    std::shared_ptr<void> keepalive; // set when the bytes are not owned
    // PyTorch's version counter (`tensor._version`), shared by every view of these bytes:
    // each in-place write adds one, and backward refuses a saved tensor written since.
    uint32_t version = 0;
    // Never reused, unlike the address (the block cache hands freed bytes out again): what
    // caches of derived data (oneDNN's reordered weights) key on, with the version.
    const uint64_t id = next_id();
    ~Storage();
    static uint64_t next_id();

    static std::shared_ptr<Storage> allocate(const Device& device, size_t nbytes);
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Shape strides;
    int64_t offset = 0; // in elements
    DType dtype = DType::Float32;
    bool requires_grad = false;
    bool is_parameter = false; // nn.Parameter rather than a plain tensor
    // torch.nn.parameter.UninitializedParameter / UninitializedBuffer (a lazy module before
    // its first call): no shape yet; held as an empty float tensor.
    bool uninitialized = false;
    // Made by a view op (view, select, narrow, transpose, ...) from another tensor's bytes;
    // detach() is not counted. In-place ops on recorded views are refused (no CopySlices).
    bool is_view = false;
    std::shared_ptr<TensorImpl> grad;
    std::shared_ptr<Node> grad_fn; // the op that made it, when recorded by autograd
};

struct TensorOptions {
    DType dtype = default_float_dtype;
    Device device;
    bool requires_grad = false;

    TensorOptions() = default;
    TensorOptions(DType d) : dtype(d) {}
    TensorOptions& with_device(Device d) {
        device = d;
        return *this;
    }
};

class Tensor {
  public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : m_impl(std::move(impl)) {}

    bool defined() const { return m_impl != nullptr; }
    // A lazy module's parameter or buffer before its first forward pass (no shape yet).
    bool is_uninitialized() const { return m_impl && m_impl->uninitialized; }
    TensorImpl* impl() const { return m_impl.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return m_impl; }
    bool is_same(const Tensor& other) const { return m_impl == other.m_impl; }

    // --- properties
    const Shape& shape() const;
    const Shape& strides() const;
    int64_t dim() const { return static_cast<int64_t>(shape().size()); }
    int64_t size(int64_t d) const;
    int64_t numel() const;
    int64_t storage_offset() const;
    DType dtype() const;
    Device device() const;
    size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
    size_t element_size() const { return dtype_size(dtype()); }
    bool is_contiguous() const;
    bool is_floating_point() const { return dtype_is_floating(dtype()); }
    bool shares_storage_with(const Tensor& other) const;

    bool requires_grad() const;
    // PyTorch: "only Tensors of floating point dtype can require gradients"
    Tensor& set_requires_grad(bool value);
    bool is_parameter() const;
    Tensor grad() const;
    void set_grad(const Tensor& grad);
    bool is_leaf() const;             // no grad_fn: made by the user, not by a recorded op
    std::string grad_fn_name() const; // "AddBackward0", or "" for a leaf
    uint32_t version() const;         // `tensor._version`: in-place writes to its storage
    // Accumulates d(this)/d(leaf) * grad into every leaf's .grad (autograd.h).
    void backward(const Tensor& grad = {}) const;

    // Host pointer to the first element; throws DeviceError for a tensor not on the CPU.
    void* data_ptr() const;
    template <class T> T* data() const { return static_cast<T*>(data_ptr()); }
    TensorView view_desc() const; // raw description for the backend

    // --- views (share storage)
    Tensor view(Shape shape) const;
    Tensor reshape(Shape shape) const;
    Tensor select(int64_t dim, int64_t index) const;
    Tensor operator[](int64_t index) const { return select(0, index); }
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
    // x[start:start + step * length:step] along dim (start and length already in range).
    Tensor slice(int64_t dim, int64_t start, int64_t length, int64_t step) const;
    Tensor transpose(int64_t dim0, int64_t dim1) const;
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor expand(Shape shape) const;
    Tensor unsqueeze(int64_t dim) const;
    Tensor squeeze(int64_t dim) const;
    Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
    Tensor t() const { return transpose(0, 1); }

    // --- copies
    Tensor contiguous() const;
    Tensor clone() const;
    Tensor detach() const;            // same storage, no grad, not a parameter
    Tensor& copy_(const Tensor& src); // broadcasts src, casts dtype, crosses devices
    // copy_'s values only: not recorded, no version bump (filling a fresh result).
    void copy_values(const Tensor& src);
    Tensor to(DType dtype) const; // returns *this when already of that dtype
    Tensor to(const Device& device) const;
    Tensor& fill_(Scalar value);
    Tensor& zero_() { return fill_(Scalar(0)); }

    // --- arithmetic with broadcasting and PyTorch's type promotion
    Tensor add(const Tensor& o) const;
    Tensor sub(const Tensor& o) const;
    Tensor mul(const Tensor& o) const;
    Tensor div(const Tensor& o) const; // true division
    Tensor maximum(const Tensor& o) const;
    Tensor minimum(const Tensor& o) const;
    Tensor pow(const Tensor& o) const;
    Tensor add(Scalar s) const;
    Tensor sub(Scalar s) const;
    Tensor mul(Scalar s) const;
    Tensor div(Scalar s) const;
    Tensor pow(Scalar s) const;
    Tensor& add_(const Tensor& o);
    Tensor& sub_(const Tensor& o);
    Tensor& mul_(const Tensor& o);
    Tensor& div_(const Tensor& o);
    Tensor& add_(Scalar s);
    Tensor& sub_(Scalar s);
    Tensor& mul_(Scalar s);
    Tensor& div_(Scalar s);
    Tensor neg() const;
    Tensor abs() const;
    Tensor sqrt() const;
    Tensor exp() const;
    Tensor log() const;
    Tensor relu() const;
    Tensor sigmoid() const;
    Tensor tanh() const;
    Tensor erf() const;
    Tensor sign() const; // -1, 0 or 1 (float for integer input); never recorded by autograd
    Tensor square() const { return mul(*this); }
    Tensor matmul(const Tensor& o) const; // 1-D and 2-D operands, float32/float64

    // --- reductions (0-dim results); dims versions keep or drop the reduced dims
    Tensor sum() const;
    Tensor mean() const;
    Tensor var(int64_t correction = 1) const;
    Tensor std(int64_t correction = 1) const;
    Tensor min() const;
    Tensor max() const;
    Tensor norm() const;
    Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
    Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
    Tensor var(const std::vector<int64_t>& dims, int64_t correction = 1,
               bool keepdim = false) const;
    // Largest element along dims (PyTorch's amax); never recorded by autograd.
    Tensor amax(const std::vector<int64_t>& dims, bool keepdim = false) const;
    // Rows of a 2-D table picked by an int64 index tensor of any shape: embedding lookup.
    Tensor index_select_rows(const Tensor& index) const;
    int64_t count_nan() const;
    int64_t count_inf() const;

    // The value of a one-element tensor (ValueError "only one element tensors can be
    // converted to Python scalars" otherwise).
    double item() const;
    int64_t item_int() const;
    // All elements, row-major, widened (copies device data to the host).
    std::vector<double> to_doubles() const;
    std::vector<int64_t> to_int64s() const;
    // A complex tensor's elements as (real, imaginary) pairs, row-major, widened: what
    // torch.view_as_real holds. (to_doubles gives a complex tensor's real parts.)
    std::vector<double> to_real_imag() const;

    // Python's repr(t), e.g. "tensor([0., 0., 0.])".
    std::string repr() const;

  private:
    const TensorImpl& checked() const;
    std::shared_ptr<TensorImpl> m_impl;
};

inline Tensor operator+(const Tensor& a, const Tensor& b) {
    return a.add(b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
    return a.sub(b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
    return a.mul(b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
    return a.div(b);
}
inline Tensor operator+(const Tensor& a, Scalar b) {
    return a.add(b);
}
inline Tensor operator-(const Tensor& a, Scalar b) {
    return a.sub(b);
}
inline Tensor operator*(const Tensor& a, Scalar b) {
    return a.mul(b);
}
inline Tensor operator/(const Tensor& a, Scalar b) {
    return a.div(b);
}
inline Tensor operator-(const Tensor& a) {
    return a.neg();
}

// --- creation -------------------------------------------------------------------------
Tensor empty(const Shape& shape, const TensorOptions& options = {});
Tensor zeros(const Shape& shape, const TensorOptions& options = {});
Tensor ones(const Shape& shape, const TensorOptions& options = {});
Tensor full(const Shape& shape, Scalar value, const TensorOptions& options = {});
// torch.arange(start, end, step): int64 for integer arguments unless a dtype is given.
Tensor arange(int64_t end, const TensorOptions& options = TensorOptions(DType::Int64));
Tensor arange(double start, double end, double step, const TensorOptions& options = {});
// Values given row-major as doubles, converted to the dtype.
Tensor from_doubles(const std::vector<double>& values, const Shape& shape,
                    const TensorOptions& options = {});
Tensor from_int64s(const std::vector<int64_t>& values, const Shape& shape,
                   const TensorOptions& options = TensorOptions(DType::Int64));
// Copies `nbytes` of host memory holding a contiguous tensor of that dtype and shape.
Tensor from_host_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype);
// A CPU tensor whose bytes live in memory owned by `keepalive` (a mapped file): no copy.
Tensor from_external(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keepalive);
// A view of `base`'s storage with explicit geometry (torch.as_strided); checks that
// every element lies inside the storage. Used to rebuild tensors from files.
Tensor as_strided(const Tensor& base, const Shape& size, const Shape& stride,
                  int64_t storage_offset);
// torch.cat along `dim`; every tensor has the same shape except along `dim`.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
// Wraps a plain tensor as an nn.Parameter (shares storage).
Tensor make_parameter(const Tensor& data, bool requires_grad = true);
// UninitializedParameter(requires_grad) or UninitializedBuffer: shapeless until a lazy
// module's first call (torch/nn/parameter.py).
Tensor make_uninitialized(bool parameter, bool requires_grad);

// --- helpers shared by the formats and the views
// Limits every reader enforces: dimensions of one tensor, tensors in one file.
inline constexpr size_t k_max_tensor_rank = 16;
inline constexpr size_t k_max_tensors_per_file = 1'000'000;
// Throws ValueError when the product overflows 64 bits.
int64_t shape_numel(const Shape& shape);

// While one is alive, tensors created on this thread may take at most `bytes` in total,
// temporaries included (what was allocated, not what is still alive); past that, creating
// one throws ValueError("a tensor of shape [..] (N bytes) goes over the limit of M ...").
// Building a model from a spec runs under one, so a spec cannot ask for unbounded memory.
class AllocationLimit {
  public:
    explicit AllocationLimit(uint64_t bytes);
    ~AllocationLimit();
    AllocationLimit(const AllocationLimit&) = delete;
    AllocationLimit& operator=(const AllocationLimit&) = delete;

  private:
    friend void charge_allocation_limit(uint64_t nbytes, const Shape& shape);
    uint64_t m_limit, m_used = 0;
    AllocationLimit* m_outer;
};
// Counts `nbytes` against this thread's innermost AllocationLimit, if any (tensor creation).
void charge_allocation_limit(uint64_t nbytes, const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// "[2, 3]" as a Python list, and "torch.Size([2, 3])".
std::string shape_str(const Shape& shape);
// Several shapes, one after another: "[8, 16], [2, 8]" (a module's outputs).
std::string shapes_str(const std::vector<Shape>& shapes);
std::string torch_size_str(const Shape& shape);
// Broadcast result of two shapes, or RuntimeError in PyTorch's words.
Shape broadcast_shapes(const Shape& a, const Shape& b);

} // namespace nnscope
