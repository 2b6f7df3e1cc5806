// tensor.cpp: the Tensor front end's core: storage, shapes, properties, views, copies,
// matmul, gathers and creation, and the helpers its files share (tensor_internal.h). The
// elementwise ops are in tensor_pointwise.cpp, the reductions in tensor_reduce.cpp, their
// rows in op_table.cpp. Error texts are PyTorch's.
#include "tensor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "autograd.h"
#include "errors.h"
#include "tensor_format.h"
#include "tensor_internal.h"

namespace nnscope {

namespace detail {

void check_computable(DType d, const char* op) {
    if (dtype_is_storage_only(d))
        throw TypeError(std::string(op) + ": nnscope keeps " + std::string(dtype_name(d)) +
                        " tensors (shows, saves and converts them) but does not compute with them");
}
void check_computable(const Tensor& t, const char* op) {
    if (t.defined()) check_computable(t.dtype(), op);
}

int64_t wrap_dim(int64_t dim, int64_t ndim) {
    int64_t n = std::max<int64_t>(ndim, 1); // scalars accept dims -1 and 0
    if (dim < -n || dim >= n)
        throw IndexError("Dimension out of range (expected to be in range of [" +
                         std::to_string(-n) + ", " + std::to_string(n - 1) + "], but got " +
                         std::to_string(dim) + ")");
    return dim < 0 ? dim + n : dim;
}

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, const Device& device) {
    if (shape.size() > k_max_tensor_rank)
        throw ValueError("tensors of rank " + std::to_string(shape.size()) +
                         " are not supported (limit " + std::to_string(k_max_tensor_rank) + ")");
    for (int64_t s : shape)
        if (s < 0)
            throw Error("Trying to create tensor with negative dimension " + std::to_string(s) +
                        ": " + shape_str(shape));
    auto impl = std::make_shared<TensorImpl>();
    int64_t n = shape_numel(shape);
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(uint64_t(n), uint64_t(dtype_size(dtype)), &nbytes))
        throw ValueError("the size in bytes of shape " + shape_str(shape) + " overflows 64 bits");
    charge_allocation_limit(nbytes, shape);
    impl->storage = Storage::allocate(device, nbytes);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return impl;
}

// Records a view's backward (how the view's gradient maps onto its base's shape).
Tensor record_view(Tensor out, const Tensor& in, const char* name,
                   std::function<Tensor(const Tensor&)> f) {
    if (autograd::should_record({&in})) {
        autograd::record(out, name, {in},
                         [f](const Tensor& g) { return std::vector<Tensor>{f(g)}; });
        if (out.impl()->is_view) {
            out.impl()->grad_fn->is_view = true;
            out.impl()->grad_fn->view_version = out.version();
        }
    }
    return out;
}

// A view sharing `base`'s storage with new geometry.
Tensor make_view(const TensorImpl& base, Shape shape, Shape strides, int64_t offset, bool is_view) {
    auto impl = std::make_shared<TensorImpl>();
    impl->is_view = is_view;
    impl->storage = base.storage;
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = base.dtype;
    return Tensor(std::move(impl));
}

// Wrapped Python number as a 0-dim CPU tensor of its natural dtype.
Tensor scalar_tensor(Scalar s, const Device& device) {
    Tensor t(make_impl({}, s.dtype(), device));
    backend_for(device).fill(t.view_desc(), s);
    return t;
}

void check_same_device(const Tensor& a, const Tensor& b) {
    if (a.device() != b.device())
        throw DeviceError(
            "Expected all tensors to be on the same device, but found at least two devices, " +
            (a.device().is_cpu() ? b.device() : a.device()).str() + " and " +
            (a.device().is_cpu() ? a.device() : b.device()).str() + "!");
}

// View description broadcast to `shape` (stride 0 on expanded dims).
TensorView broadcast_view(const Tensor& t, const Shape& shape) {
    TensorView v = t.view_desc();
    const size_t nd = shape.size(), td = v.shape.size();
    std::vector<int64_t> strides(nd, 0);
    for (size_t i = 0; i < td; ++i) {
        size_t d = nd - td + i;
        strides[d] = v.shape[i] == 1 && shape[d] != 1 ? 0 : v.strides[i];
    }
    v.shape = shape;
    v.strides = std::move(strides);
    return v;
}

} // namespace detail

using namespace detail;

// --- storage ------------------------------------------------------------------------------

Storage::~Storage() {
    if (data && !keepalive && backend) backend->deallocate(data, nbytes);
}

uint64_t Storage::next_id() {
    static std::atomic<uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<Storage> Storage::allocate(const Device& device, size_t nbytes) {
    Backend& b = backend_for(device);
    auto s = std::make_shared<Storage>();
    s->device = device;
    s->backend = &b;
    s->data = b.allocate(nbytes);
    s->nbytes = nbytes;
    return s;
}

// --- shape helpers ------------------------------------------------------------------------

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape)
        if (__builtin_mul_overflow(n, s, &n))
            throw ValueError("the number of elements of shape " + shape_str(shape) +
                             " overflows 64 bits");
    return n;
}

namespace {
thread_local AllocationLimit* t_allocation_limit = nullptr;
}

AllocationLimit::AllocationLimit(uint64_t bytes) : m_limit(bytes), m_outer(t_allocation_limit) {
    t_allocation_limit = this;
}
AllocationLimit::~AllocationLimit() {
    t_allocation_limit = m_outer;
}

void charge_allocation_limit(uint64_t nbytes, const Shape& shape) {
    AllocationLimit* l = t_allocation_limit;
    if (!l) return;
    if (nbytes > l->m_limit - l->m_used)
        throw ValueError("a tensor of shape " + shape_str(shape) + " (" + std::to_string(nbytes) +
                         " bytes) goes over the limit of " + std::to_string(l->m_limit) +
                         " bytes allocated");
    l->m_used += nbytes;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t s = 1;
    for (size_t d = shape.size(); d-- > 0;) {
        strides[d] = s;
        s *= std::max<int64_t>(shape[d], 1);
    }
    return strides;
}

std::string shape_str(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string shapes_str(const std::vector<Shape>& shapes) {
    std::string s;
    for (size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shape_str(shapes[i]);
    return s;
}

std::string torch_size_str(const Shape& shape) {
    return "torch.Size(" + shape_str(shape) + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
    const size_t nd = std::max(a.size(), b.size());
    Shape out(nd);
    for (size_t i = 0; i < nd; ++i) {
        int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
        int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
        if (da != db && da != 1 && db != 1)
            throw Error("The size of tensor a (" + std::to_string(da) +
                        ") must match the size of tensor b (" + std::to_string(db) +
                        ") at non-singleton dimension " + std::to_string(i));
        out[i] = da == 1 ? db : da;
    }
    return out;
}

// --- properties -----------------------------------------------------------------------------

const TensorImpl& Tensor::checked() const {
    if (!m_impl) throw Error("undefined tensor (None)");
    return *m_impl;
}

const Shape& Tensor::shape() const {
    return checked().shape;
}
const Shape& Tensor::strides() const {
    return checked().strides;
}
int64_t Tensor::size(int64_t d) const {
    return shape()[size_t(wrap_dim(d, dim()))];
}
int64_t Tensor::numel() const {
    return shape_numel(shape());
}
int64_t Tensor::storage_offset() const {
    return checked().offset;
}
DType Tensor::dtype() const {
    return checked().dtype;
}
Device Tensor::device() const {
    return checked().storage->device;
}
bool Tensor::requires_grad() const {
    return checked().requires_grad;
}
bool Tensor::is_parameter() const {
    return m_impl && m_impl->is_parameter;
}

bool Tensor::is_contiguous() const {
    const auto& t = checked();
    int64_t expected = 1;
    for (size_t d = t.shape.size(); d-- > 0;) {
        if (t.shape[d] != 1 && t.strides[d] != expected) return false;
        expected *= t.shape[d];
    }
    return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
    return defined() && other.defined() && m_impl->storage == other.m_impl->storage;
}

Tensor& Tensor::set_requires_grad(bool value) {
    if (value && !is_floating_point())
        throw Error("only Tensors of floating point dtype can require gradients");
    m_impl->requires_grad = value;
    return *this;
}

Tensor Tensor::grad() const {
    return Tensor(checked().grad);
}
bool Tensor::is_leaf() const {
    return !checked().grad_fn;
}
std::string Tensor::grad_fn_name() const {
    return checked().grad_fn ? checked().grad_fn->name : std::string();
}
uint32_t Tensor::version() const {
    return checked().storage ? checked().storage->version : 0;
}
void Tensor::backward(const Tensor& grad) const {
    autograd::run_backward(*this, grad);
}
void Tensor::set_grad(const Tensor& g) {
    m_impl->grad = g.impl_ptr();
}

void* Tensor::data_ptr() const {
    const auto& t = checked();
    if (!t.storage->device.is_cpu())
        throw DeviceError("tensor is on " + t.storage->device.str() + ", not on the cpu");
    return static_cast<char*>(t.storage->data) + t.offset * int64_t(dtype_size(t.dtype));
}

TensorView Tensor::view_desc() const {
    const auto& t = checked();
    return {static_cast<char*>(t.storage->data) + t.offset * int64_t(dtype_size(t.dtype)), t.dtype,
            t.shape, t.strides};
}

// --- views ------------------------------------------------------------------------------------

namespace {
// Infers one -1 and checks the element count: "shape '[2, 5]' is invalid for input of size 6".
Shape infer_size(Shape shape, int64_t numel) {
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) throw Error("only one dimension can be inferred");
            infer = int64_t(i);
        } else if (shape[i] < 0) {
            throw Error("invalid shape dimension " + std::to_string(shape[i]));
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known != 0 && numel % known == 0)
        shape[size_t(infer)] = numel / known;
    else if (known != numel || infer >= 0)
        throw Error("shape '" + shape_str(shape) + "' is invalid for input of size " +
                    std::to_string(numel));
    return shape;
}

// ATen's computeStride: strides for viewing (shape, strides) as new_shape without a copy,
// or false when a dimension would span two non-contiguous chunks.
bool compute_view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape,
                          Shape& out) {
    out.assign(new_shape.size(), 0);
    if (shape_numel(shape) == 0 ||
        shape.empty()) { // empty or 0-dim: any shape of that size is a view
        out = contiguous_strides(new_shape);
        return true;
    }
    int64_t view_d = int64_t(new_shape.size()) - 1;
    int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
    int64_t tensor_numel = 1, view_numel = 1;
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= shape[size_t(d)];
        if (d == 0 || (shape[size_t(d - 1)] != 1 &&
                       strides[size_t(d - 1)] != tensor_numel * chunk_base_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel || new_shape[size_t(view_d)] == 1)) {
                out[size_t(view_d)] = view_numel * chunk_base_stride;
                view_numel *= new_shape[size_t(view_d)];
                --view_d;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base_stride = strides[size_t(d - 1)];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}
} // namespace

Tensor Tensor::view(Shape new_shape) const {
    const auto& t = checked();
    new_shape = infer_size(std::move(new_shape), numel());
    Shape strides;
    if (!compute_view_strides(t.shape, t.strides, new_shape, strides))
        throw Error("view size is not compatible with input tensor's size and stride (at least one "
                    "dimension spans "
                    "across two contiguous subspaces). Use .reshape(...) instead.");
    return record_view(make_view(t, new_shape, strides, t.offset), *this, "ViewBackward0",
                       [s = t.shape](const Tensor& g) { return g.reshape(s); });
}

Tensor Tensor::reshape(Shape new_shape) const {
    const auto& t = checked();
    new_shape = infer_size(std::move(new_shape), numel());
    Shape strides;
    if (compute_view_strides(t.shape, t.strides, new_shape, strides))
        return record_view(make_view(t, new_shape, strides, t.offset), *this, "ViewBackward0",
                           [s = t.shape](const Tensor& g) { return g.reshape(s); });
    return contiguous().view(new_shape);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    const auto& t = checked();
    if (t.shape.empty()) throw IndexError("select() cannot be applied to a 0-dim tensor.");
    d = wrap_dim(d, dim());
    int64_t n = t.shape[size_t(d)];
    if (index < -n || index >= n)
        throw IndexError("select(): index " + std::to_string(index) +
                         " out of range for tensor of size " + shape_str(t.shape) +
                         " at dimension " + std::to_string(d));
    if (index < 0) index += n;
    Shape shape = t.shape, strides = t.strides;
    int64_t offset = t.offset + index * strides[size_t(d)];
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return record_view(make_view(t, shape, strides, offset), *this, "SelectBackward0",
                       [s = t.shape, d, index, dt = t.dtype](const Tensor& g) {
                           Tensor full = zeros(s, TensorOptions(dt).with_device(g.device()));
                           full.select(d, index).copy_(g);
                           return full;
                       });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
    const auto& t = checked();
    d = wrap_dim(d, dim());
    int64_t n = t.shape[size_t(d)];
    if (start < 0) start += n;
    if (start < 0 || length < 0 || start + length > n)
        throw IndexError("start (" + std::to_string(start) + ") + length (" +
                         std::to_string(length) + ") exceeds dimension size (" + std::to_string(n) +
                         ").");
    Shape shape = t.shape;
    shape[size_t(d)] = length;
    return record_view(make_view(t, shape, t.strides, t.offset + start * t.strides[size_t(d)]),
                       *this, "SliceBackward0",
                       [s = t.shape, d, start, length, dt = t.dtype](const Tensor& g) {
                           Tensor full = zeros(s, TensorOptions(dt).with_device(g.device()));
                           full.narrow(d, start, length).copy_(g);
                           return full;
                       });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t length, int64_t step) const {
    const auto& t = checked();
    d = wrap_dim(d, dim());
    if (step == 1) return narrow(d, start, length);
    if (step < 1 || start < 0 || length < 0 ||
        (length > 0 && start + step * (length - 1) >= t.shape[size_t(d)]))
        throw IndexError("slice out of range");
    Shape shape = t.shape, strides = t.strides;
    shape[size_t(d)] = length;
    strides[size_t(d)] *= step;
    return record_view(make_view(t, shape, strides, t.offset + start * t.strides[size_t(d)]), *this,
                       "SliceBackward0",
                       [s = t.shape, d, start, length, step, dt = t.dtype](const Tensor& g) {
                           Tensor full = zeros(s, TensorOptions(dt).with_device(g.device()));
                           full.slice(d, start, length, step).copy_(g);
                           return full;
                       });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
    const auto& t = checked();
    if (t.shape.empty()) return *this;
    d0 = wrap_dim(d0, dim());
    d1 = wrap_dim(d1, dim());
    Shape shape = t.shape, strides = t.strides;
    std::swap(shape[size_t(d0)], shape[size_t(d1)]);
    std::swap(strides[size_t(d0)], strides[size_t(d1)]);
    return record_view(make_view(t, shape, strides, t.offset), *this, "TransposeBackward0",
                       [d0, d1](const Tensor& g) { return g.transpose(d0, d1); });
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    const auto& t = checked();
    if (int64_t(dims.size()) != dim())
        throw Error("permute(sparse_coo): number of dimensions in the tensor input does not match "
                    "the length of the "
                    "desired ordering of dimensions i.e. input.dim() = " +
                    std::to_string(dim()) +
                    " is not equal to len(dims) = " + std::to_string(dims.size()));
    Shape shape(dims.size()), strides(dims.size());
    std::vector<bool> seen(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = wrap_dim(dims[i], dim());
        if (seen[size_t(d)]) throw Error("permute(): duplicate dims are not allowed.");
        seen[size_t(d)] = true;
        shape[i] = t.shape[size_t(d)];
        strides[i] = t.strides[size_t(d)];
    }
    std::vector<int64_t> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) inverse[size_t(wrap_dim(dims[i], dim()))] = int64_t(i);
    return record_view(make_view(t, shape, strides, t.offset), *this, "PermuteBackward0",
                       [inverse](const Tensor& g) { return g.permute(inverse); });
}

Tensor Tensor::expand(Shape new_shape) const {
    const auto& t = checked();
    if (new_shape.size() < t.shape.size())
        throw Error("expand(" + dtype_legacy_type_name(t.dtype, false) + "{" + shape_str(t.shape) +
                    "}, size=" + shape_str(new_shape) + "): the number of sizes provided (" +
                    std::to_string(new_shape.size()) +
                    ") must be greater or equal to the number of dimensions in the tensor (" +
                    std::to_string(t.shape.size()) + ")");
    Shape strides(new_shape.size(), 0);
    const size_t lead = new_shape.size() - t.shape.size();
    for (size_t i = 0; i < new_shape.size(); ++i) {
        if (i < lead) continue;
        int64_t have = t.shape[i - lead];
        if (new_shape[i] == -1) new_shape[i] = have;
        if (have == new_shape[i])
            strides[i] = t.strides[i - lead];
        else if (have != 1)
            throw Error("The expanded size of the tensor (" + std::to_string(new_shape[i]) +
                        ") must match the existing size (" + std::to_string(have) +
                        ") at non-singleton dimension " + std::to_string(i) + ".  Target sizes: " +
                        shape_str(new_shape) + ".  Tensor sizes: " + shape_str(t.shape));
    }
    return record_view(make_view(t, new_shape, strides, t.offset), *this, "ExpandBackward0",
                       [s = t.shape](const Tensor& g) { return autograd::sum_to(g, s); });
}

Tensor Tensor::unsqueeze(int64_t d) const {
    const auto& t = checked();
    d = wrap_dim(d, dim() + 1);
    Shape shape = t.shape, strides = t.strides;
    int64_t stride = size_t(d) < shape.size() ? shape[size_t(d)] * strides[size_t(d)] : 1;
    shape.insert(shape.begin() + d, 1);
    strides.insert(strides.begin() + d, stride);
    return record_view(make_view(t, shape, strides, t.offset), *this, "UnsqueezeBackward0",
                       [s = t.shape](const Tensor& g) { return g.reshape(s); });
}

Tensor Tensor::squeeze(int64_t d) const {
    const auto& t = checked();
    if (t.shape.empty()) return *this;
    d = wrap_dim(d, dim());
    if (t.shape[size_t(d)] != 1) return *this;
    Shape shape = t.shape, strides = t.strides;
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return record_view(make_view(t, shape, strides, t.offset), *this, "SqueezeBackward1",
                       [s = t.shape](const Tensor& g) { return g.reshape(s); });
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
    if (dim() == 0) return reshape({1});
    start = wrap_dim(start, dim());
    end = wrap_dim(end, dim());
    if (start > end) throw Error("flatten() has invalid args: start_dim cannot come after end_dim");
    Shape shape;
    for (int64_t d = 0; d < start; ++d) shape.push_back(size(d));
    int64_t n = 1;
    for (int64_t d = start; d <= end; ++d) n *= size(d);
    shape.push_back(n);
    for (int64_t d = end + 1; d < dim(); ++d) shape.push_back(size(d));
    return reshape(shape);
}

// --- copies
// ---------------------------------------------------------------------------------------

Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    return clone();
}

Tensor Tensor::clone() const {
    const auto& t = checked();
    Tensor out(make_impl(t.shape, t.dtype, device()));
    backend_for(device()).copy(out.view_desc(), view_desc());
    return record_view(out, *this, "CloneBackward0", [](const Tensor& g) { return g; });
}

Tensor Tensor::detach() const {
    const auto& t = checked();
    Tensor d = make_view(t, t.shape, t.strides, t.offset, false);
    d.impl()->uninitialized = t.uninitialized; // still shapeless (make_parameter detaches)
    return d;
}

Tensor& Tensor::copy_(const Tensor& src) {
    checked();
    const bool record = autograd::should_record({this, &src});
    autograd::check_inplace(*this, record);
    copy_values(src);
    autograd::bump_version(*this);
    if (!record) return *this;
    // The new value is src's: its gradient goes to src (summed back over broadcast dims,
    // cast and moved back); the old value gets none. A result of the same shape and dtype
    // made by an op (the interpreter's relu_ = relu, then copy_) shares that op's node.
    const auto& fn = src.impl()->grad_fn;
    if (fn && !fn->is_view && src.shape() == shape() && src.dtype() == dtype() &&
        src.device() == device()) {
        m_impl->grad_fn = fn;
        m_impl->requires_grad = true;
        return *this;
    }
    autograd::record(*this, "CopyBackwards", {Tensor(), src},
                     [ss = src.shape(), sd = src.dtype(), dev = src.device()](const Tensor& g) {
                         return std::vector<Tensor>{Tensor(),
                                                    autograd::sum_to(g, ss).to(sd).to(dev)};
                     });
    return *this;
}

void Tensor::copy_values(const Tensor& src) {
    const auto& t = checked();
    Shape shape = broadcast_shapes(t.shape, src.shape());
    if (shape != t.shape)
        throw Error("output with shape " + shape_str(t.shape) +
                    " doesn't match the broadcast shape " + shape_str(shape));
    if (src.dtype() != t.dtype) check_computable(t.dtype, "copy_");
    if (src.device() == device()) {
        backend_for(device()).copy(view_desc(), broadcast_view(src, shape));
        return;
    }
    // Across devices, the common case (a move): same shape and dtype into a contiguous
    // tensor goes straight there, from or to host memory directly, or through one host
    // buffer between two devices.
    if (src.shape() == t.shape && src.dtype() == t.dtype && is_contiguous()) {
        const Tensor src_c = src.contiguous();
        void* dst = view_desc().data;
        const void* from = src_c.view_desc().data;
        if (src.device().is_cpu()) {
            backend_for(device()).copy_from_host(dst, from, nbytes());
        } else if (device().is_cpu()) {
            backend_for(src.device()).copy_to_host(dst, from, nbytes());
        } else {
            Tensor host(make_impl(t.shape, t.dtype, Device::cpu()));
            backend_for(src.device()).copy_to_host(host.data_ptr(), from, nbytes());
            backend_for(device()).copy_from_host(dst, host.data_ptr(), nbytes());
        }
        return;
    }
    // Otherwise bring src to the host contiguously, then up to this tensor's device in its
    // own dtype, then copy on this device (which also broadcasts and casts).
    Tensor host(make_impl(src.shape(), src.dtype(), Device::cpu()));
    Tensor src_c = src.contiguous();
    backend_for(src.device()).copy_to_host(host.data_ptr(), src_c.view_desc().data, src_c.nbytes());
    Tensor staged(make_impl(src.shape(), src.dtype(), device()));
    backend_for(device()).copy_from_host(staged.view_desc().data, host.data_ptr(), host.nbytes());
    backend_for(device()).copy(view_desc(), broadcast_view(staged, shape));
}

Tensor Tensor::to(DType dtype) const {
    if (this->dtype() == dtype) return *this;
    // Widening a storage-only dtype (to show it) is allowed; computing into one is not.
    check_computable(dtype, "to");
    Tensor out(make_impl(shape(), dtype, device()));
    backend_for(device()).copy(out.view_desc(), view_desc());
    return record_view(out, *this, "ToCopyBackward0",
                       [d = this->dtype()](const Tensor& g) { return g.to(d); });
}

Tensor Tensor::to(const Device& d) const {
    if (device() == d) return *this;
    Tensor out(make_impl(shape(), dtype(), d));
    out.copy_values(*this);
    return record_view(out, *this, "ToCopyBackward0",
                       [from = device()](const Tensor& g) { return g.to(from); });
}

Tensor& Tensor::fill_(Scalar value) {
    checked();
    check_computable(*this, "fill_");
    const bool record = grad_enabled() && requires_grad();
    autograd::check_inplace(*this, record);
    backend_for(device()).fill(view_desc(), value);
    autograd::bump_version(*this);
    // Every element replaced: no gradient reaches the old value.
    if (record)
        autograd::record(*this, "FillBackward2", {},
                         [](const Tensor&) { return std::vector<Tensor>{}; });
    return *this;
}

Tensor Tensor::matmul(const Tensor& o) const {
    check_same_device(*this, o);
    check_computable(*this, "matmul");
    check_computable(o, "matmul");
    if (dim() == 0 || o.dim() == 0)
        throw Error("both arguments to matmul need to be at least 1D, but they are " +
                    std::to_string(dim()) + "D and " + std::to_string(o.dim()) + "D");
    if (dim() > 2 || o.dim() > 2)
        throw Error("matmul of tensors with more than 2 dimensions is not supported yet");
    if (dtype() != o.dtype())
        throw Error("expected scalar type " + scalar_type_name(dtype()) + " but found " +
                    scalar_type_name(o.dtype()));
    if (dtype() != DType::Float32 && dtype() != DType::Float64)
        throw Error("\"addmm_impl_cpu_\" not implemented for '" + scalar_type_name(dtype()) + "'");
    // Detached views: the product records one node below, not the reshapes on the way.
    Tensor a = dim() == 1 ? detach().unsqueeze(0) : detach();
    Tensor b = o.dim() == 1 ? o.detach().unsqueeze(1) : o.detach();
    if (a.size(1) != b.size(0))
        throw Error("mat1 and mat2 shapes cannot be multiplied (" + std::to_string(a.size(0)) +
                    "x" + std::to_string(a.size(1)) + " and " + std::to_string(b.size(0)) + "x" +
                    std::to_string(b.size(1)) + ")");
    // BLAS (and cuBLAS) take an operand as is only when it is a row-major or column-major
    // matrix: one unit stride, and the other stride at least the row (column) length, which
    // becomes the leading dimension. A broadcast operand (stride 0: row.expand({4, 3})) or
    // any other layout is copied first; a single row or column takes any other stride.
    auto blas_ready = [](const Tensor& t) {
        const int64_t s0 = t.strides()[0], s1 = t.strides()[1], rows = t.size(0), cols = t.size(1);
        const bool row_major = s1 == 1 && (s0 >= cols || rows <= 1);
        const bool col_major = s0 == 1 && (s1 >= rows || cols <= 1);
        return row_major || col_major ? t : t.contiguous();
    };
    a = blas_ready(a);
    b = blas_ready(b);
    Tensor c(make_impl({a.size(0), b.size(1)}, dtype(), device()));
    if (c.numel() > 0) {
        if (a.size(1) == 0)
            c.zero_();
        else
            backend_for(device()).matmul(c.view_desc(), a.view_desc(), b.view_desc());
    }
    Tensor out = dim() == 1 && o.dim() == 1 ? c.view({})
                 : dim() == 1               ? c.squeeze(0)
                 : o.dim() == 1             ? c.squeeze(1)
                                            : c;
    out = out.detach(); // the views above were not recorded (c has no grad_fn); make it a fresh
                        // result
    if (autograd::should_record({this, &o})) {
        Tensor ad = detach(), bd = o.detach();
        autograd::record(
            out, "MmBackward0", {*this, o},
            [ad, bd](const Tensor& g) {
                // Lift 1-D operands to matrices, take the 2-D gradients, drop the added dims.
                Tensor a2 = ad.dim() == 1 ? ad.unsqueeze(0) : ad,
                       b2 = bd.dim() == 1 ? bd.unsqueeze(1) : bd;
                Tensor g2 = g.reshape({a2.size(0), b2.size(1)});
                Tensor ga = g2.matmul(b2.t()), gb = a2.t().matmul(g2);
                return std::vector<Tensor>{ga.reshape(ad.shape()), gb.reshape(bd.shape())};
            },
            autograd::Saves{{*this, o}});
    }
    return out;
}

// --- values to the host ------------------------------------------------------------------------

double Tensor::item() const {
    if (numel() != 1)
        throw ValueError("only one element tensors can be converted to Python scalars");
    return to_doubles()[0];
}

int64_t Tensor::item_int() const {
    if (numel() != 1)
        throw ValueError("only one element tensors can be converted to Python scalars");
    return to_int64s()[0];
}

std::vector<double> Tensor::to_doubles() const {
    Tensor host = to(Device::cpu()).to(DType::Float64).contiguous();
    const double* p = host.data<double>();
    return std::vector<double>(p, p + host.numel());
}

std::vector<int64_t> Tensor::to_int64s() const {
    Tensor host = to(Device::cpu()).to(DType::Int64).contiguous();
    const int64_t* p = host.data<int64_t>();
    return std::vector<int64_t>(p, p + host.numel());
}

std::vector<double> Tensor::to_real_imag() const {
    if (!dtype_is_complex(dtype()))
        throw TypeError("to_real_imag: " + std::string(dtype_name(dtype())) + " is not complex");
    Tensor host = to(Device::cpu()).contiguous();
    std::vector<double> out(size_t(2 * host.numel()));
    if (dtype() == DType::Complex64) {
        const float* p = static_cast<const float*>(host.data_ptr());
        for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
    } else {
        const double* p = static_cast<const double*>(host.data_ptr());
        std::copy(p, p + out.size(), out.begin());
    }
    return out;
}

std::string Tensor::repr() const {
    if (!defined()) return "None";
    ReprInput in;
    in.shape = shape();
    in.dtype = dtype();
    if (dtype_is_complex(dtype())) {
        const std::vector<double> ri = to_real_imag();
        for (size_t i = 0; i < ri.size(); i += 2) {
            in.values.push_back(ri[i]);
            in.imag_values.push_back(ri[i + 1]);
        }
    } else if (dtype_is_integral(dtype()))
        if (dtype() == DType::UInt64) { // the bytes as they are: past INT64_MAX too
            Tensor host = to(Device::cpu()).contiguous();
            const uint64_t* p = static_cast<const uint64_t*>(host.data_ptr());
            in.uint64_values.assign(p, p + host.numel());
        } else {
            in.int_values = to_int64s();
        }
    else
        in.values = to_doubles();
    in.device = device().str();
    in.requires_grad = requires_grad();
    in.is_parameter = is_parameter();
    return format_repr(in);
}

// --- creation
// --------------------------------------------------------------------------------------

Tensor empty(const Shape& shape, const TensorOptions& o) {
    Tensor t(make_impl(shape, o.dtype, o.device));
    if (o.requires_grad) t.set_requires_grad(true);
    return t;
}
Tensor zeros(const Shape& shape, const TensorOptions& o) {
    return full(shape, Scalar(0), o);
}
Tensor ones(const Shape& shape, const TensorOptions& o) {
    return full(shape, Scalar(1), o);
}
Tensor full(const Shape& shape, Scalar value, const TensorOptions& o) {
    Tensor t = empty(shape, o);
    check_computable(t, "fill_");
    backend_for(t.device()).fill(t.view_desc(), value); // a fresh tensor: version 0
    return t;
}

Tensor arange(int64_t end, const TensorOptions& o) {
    if (end < 0) throw Error("upper bound and larger bound inconsistent with step sign");
    std::vector<int64_t> v(static_cast<size_t>(end));
    for (int64_t i = 0; i < end; ++i) v[size_t(i)] = i;
    return from_int64s(v, {end}, o);
}

Tensor arange(double start, double end, double step, const TensorOptions& o) {
    if (step == 0) throw Error("step must be nonzero");
    if ((step > 0 && start > end) || (step < 0 && start < end))
        throw Error("upper bound and larger bound inconsistent with step sign");
    int64_t n = int64_t(std::ceil((end - start) / step));
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = start + double(i) * step;
    return from_doubles(v, {n}, o);
}

Tensor from_doubles(const std::vector<double>& values, const Shape& shape, const TensorOptions& o) {
    if (int64_t(values.size()) != shape_numel(shape))
        throw ValueError("expected " + std::to_string(shape_numel(shape)) + " values for shape " +
                         shape_str(shape) + ", got " + std::to_string(values.size()));
    Tensor src =
        from_host_bytes(values.data(), values.size() * sizeof(double), shape, DType::Float64);
    Tensor t = empty(shape, TensorOptions(o.dtype).with_device(o.device));
    t.copy_values(src); // a fresh tensor: version 0
    if (o.requires_grad) t.set_requires_grad(true);
    return t;
}

Tensor from_int64s(const std::vector<int64_t>& values, const Shape& shape, const TensorOptions& o) {
    if (int64_t(values.size()) != shape_numel(shape))
        throw ValueError("expected " + std::to_string(shape_numel(shape)) + " values for shape " +
                         shape_str(shape) + ", got " + std::to_string(values.size()));
    Tensor src =
        from_host_bytes(values.data(), values.size() * sizeof(int64_t), shape, DType::Int64);
    Tensor t = empty(shape, TensorOptions(o.dtype).with_device(o.device));
    t.copy_values(src); // a fresh tensor: version 0
    return t;
}

Tensor from_host_bytes(const void* data, size_t nbytes, const Shape& shape, DType dtype) {
    Tensor t(make_impl(shape, dtype, Device::cpu()));
    if (nbytes != t.nbytes())
        throw ValueError("expected " + std::to_string(t.nbytes()) + " bytes for " +
                         std::string(dtype_name(dtype)) + " " + shape_str(shape) + ", got " +
                         std::to_string(nbytes));
    if (nbytes) std::memcpy(t.data_ptr(), data, nbytes);
    return t;
}

Tensor from_external(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keepalive) {
    auto storage = std::make_shared<Storage>();
    storage->device = Device::cpu();
    storage->backend = &backend_for(Device::cpu());
    storage->data = data;
    storage->nbytes = size_t(shape_numel(shape)) * dtype_size(dtype);
    storage->keepalive = std::move(keepalive);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::move(storage);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

Tensor make_parameter(const Tensor& data, bool requires_grad) {
    Tensor p = data.detach();
    p.impl()->is_parameter = true;
    if (requires_grad) p.set_requires_grad(true);
    return p;
}

Tensor make_uninitialized(bool parameter, bool requires_grad) {
    Tensor t = empty({0});
    t.impl()->uninitialized = true;
    return parameter ? make_parameter(t, requires_grad) : t;
}

// --- gathers and concatenation ------------------------------------------------------------------

Tensor Tensor::index_select_rows(const Tensor& index) const {
    const auto& t = checked();
    if (dim() != 2)
        throw Error("index_select_rows: expected a 2-D table, got " + std::to_string(dim()) + "-D");
    if (index.dtype() != DType::Int64 && index.dtype() != DType::Int32)
        throw Error("Expected tensor for argument #1 'indices' to have one of the following scalar "
                    "types: Long, Int; "
                    "but got " +
                    dtype_legacy_type_name(index.dtype(), false) +
                    " instead (while checking arguments for embedding)");
    check_same_device(*this, index);
    Tensor flat = index.reshape({index.numel()}).contiguous();
    for (int64_t v : flat.to_int64s())
        if (v < 0 || v >= t.shape[0]) throw IndexError("index out of range in self");
    Tensor out(make_impl({flat.numel(), t.shape[1]}, t.dtype, device()));
    backend_for(device()).index_select_rows(out.view_desc(), view_desc(), flat.view_desc());
    if (autograd::should_record({this})) {
        const Shape table_shape = t.shape;
        const DType dt = t.dtype;
        autograd::record(
            out, "EmbeddingBackward0", {*this}, [flat, table_shape, dt](const Tensor& g) {
                Tensor grad = zeros(table_shape, TensorOptions(dt).with_device(g.device()));
                backend_for(g.device())
                    .index_add_rows(grad.view_desc(), flat.view_desc(), g.contiguous().view_desc());
                return std::vector<Tensor>{grad};
            });
    }
    Shape out_shape = index.shape();
    out_shape.push_back(t.shape[1]);
    return out.reshape(out_shape);
}

Tensor as_strided(const Tensor& base, const Shape& size, const Shape& stride, int64_t offset) {
    if (size.size() != stride.size())
        throw Error("mismatch in length of strides and shape: " + shape_str(size) + " vs " +
                    shape_str(stride));
    if (size.size() > k_max_tensor_rank)
        throw ValueError("rank " + std::to_string(size.size()) + " exceeds the limit of 16");
    const int64_t capacity = int64_t(base.impl()->storage->nbytes / dtype_size(base.dtype()));
    if (offset < 0) throw Error("Tensor: invalid storage offset " + std::to_string(offset));
    // Highest element touched, with overflow checks (hostile files).
    __int128 last = offset;
    bool empty_view = false;
    for (size_t d = 0; d < size.size(); ++d) {
        if (size[d] < 0 || stride[d] < 0)
            throw Error("as_strided: negative size or stride " + shape_str(size) + " " +
                        shape_str(stride));
        if (size[d] == 0)
            empty_view = true;
        else
            last += __int128(size[d] - 1) * stride[d];
    }
    if (!empty_view && last >= capacity)
        throw Error("setStorage: sizes " + shape_str(size) + ", strides " + shape_str(stride) +
                    " and storage offset " + std::to_string(offset) + " require a storage of " +
                    std::to_string(int64_t(last + 1)) + " elements, but the storage holds " +
                    std::to_string(capacity));
    return make_view(*base.impl(), size, stride, offset);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
    if (tensors.empty()) throw Error("torch.cat(): expected a non-empty list of Tensors");
    const Tensor& first = tensors[0];
    dim = wrap_dim(dim, first.dim());
    Shape shape = first.shape();
    int64_t total = 0;
    DType dtype = first.dtype();
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        check_same_device(first, t);
        if (t.dim() != first.dim())
            throw Error("Tensors must have same number of dimensions: got " +
                        std::to_string(first.dim()) + " and " + std::to_string(t.dim()));
        for (int64_t d = 0; d < t.dim(); ++d)
            if (d != dim && t.size(d) != first.size(d))
                throw Error("Sizes of tensors must match except in dimension " +
                            std::to_string(dim) + ". Expected size " +
                            std::to_string(first.size(d)) + " but got size " +
                            std::to_string(t.size(d)) + " for tensor number " + std::to_string(i) +
                            " in the list.");
        total += t.size(dim);
        dtype = promote_types(dtype, t.dtype());
    }
    shape[size_t(dim)] = total;
    Tensor out(make_impl(shape, dtype, first.device()));
    std::vector<int64_t> sizes;
    {
        NoGradGuard no_grad;
        int64_t at = 0;
        for (const Tensor& t : tensors) {
            out.narrow(dim, at, t.size(dim)).copy_values(t); // CatBackward0 records it
            at += t.size(dim);
            sizes.push_back(t.size(dim));
        }
    }
    bool record = false;
    for (const Tensor& t : tensors) record = record || autograd::should_record({&t});
    if (record)
        autograd::record(out, "CatBackward0", tensors, [dim, sizes](const Tensor& g) {
            std::vector<Tensor> grads;
            int64_t at = 0;
            for (int64_t s : sizes) {
                grads.push_back(g.narrow(dim, at, s));
                at += s;
            }
            return grads;
        });
    return out;
}

} // namespace nnscope
