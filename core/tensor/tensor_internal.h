// tensor_internal.h: helpers the tensor front end's files share (tensor.cpp,
// tensor_pointwise.cpp, tensor_reduce.cpp, op_table.cpp). Not part of the API.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tensor.h"

namespace nnscope::detail {

// A dim in [-ndim, ndim) made non-negative; scalars accept -1 and 0. IndexError otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim);
// A fresh contiguous tensor's impl, charged to the thread's AllocationLimit.
std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, const Device& device);
// Records a view's backward (how the view's gradient maps onto its base's shape).
Tensor record_view(Tensor out, const Tensor& in, const char* name,
                   std::function<Tensor(const Tensor&)> f);
// A tensor sharing `base`'s storage with new geometry; a view unless it is detach()'s.
Tensor make_view(const TensorImpl& base, Shape shape, Shape strides, int64_t offset,
                 bool is_view = true);
// A wrapped Python number as a 0-dim tensor of its natural dtype on `device`.
Tensor scalar_tensor(Scalar s, const Device& device);
// PyTorch's "Expected all tensors to be on the same device" error.
void check_same_device(const Tensor& a, const Tensor& b);
// Refuses arithmetic on a storage-only dtype (float8, uint16/32/64): nnscope keeps, shows
// and converts such tensors but does not compute with them.
void check_computable(const Tensor& t, const char* op);
void check_computable(DType d, const char* op);
// View description broadcast to `shape` (stride 0 on expanded dims).
TensorView broadcast_view(const Tensor& t, const Shape& shape);

} // namespace nnscope::detail
