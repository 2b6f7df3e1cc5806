// fused_internal.h: what the fused float32 CPU kernels share (fused_cpu.cpp,
// fused_conv.cpp): plain float32 results and gradients, and the thread plan (from
// backend/cpu/cpu_threads.h). Not API.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu_threads.h" // plan_threads, for_chunks, NNSCOPE_HOT
#include "tensor.h"

namespace nnscope::fused {

using cpu::for_chunks;
using cpu::plan_threads;

inline Tensor new_like(const Shape& shape) {
    return empty(shape, TensorOptions(DType::Float32));
}

// The gradient a node receives may be a broadcast or a view: make it plain.
inline Tensor plain(const Tensor& g) {
    return g.is_contiguous() && g.dtype() == DType::Float32 ? g : g.to(DType::Float32).contiguous();
}

inline bool wants(const Tensor& t) {
    return t.defined() && t.requires_grad();
}

} // namespace nnscope::fused
