// pool_windows.h: which input positions each output of a pooling window reads, written once
// for the host and for CUDA device code (NNSCOPE_HD): the CPU's max pooling (pool_cpu.cpp)
// and the GPU kernel (gpu/kernels.h, shared with sim:0) derive their windows, and pick their
// maximum, the same way.
#pragma once

#include <cstdint>

#include "half.h" // NNSCOPE_HD

namespace nnscope {

// The input positions one output position reads along one dim: `count` positions from
// `first`, `step` apart (a dilated window's taps, clipped to the input).
struct PoolTaps {
    int64_t first = 0, count = 0, step = 1;
};

// How a pooling layer lays its windows along one dim: max_pool's kernel, stride, padding
// and dilation (taps o * stride - pad + i * dilation inside the input), or adaptive
// pooling's [floor(o * in / out), ceil((o + 1) * in / out)).
struct PoolWindows {
    int64_t kernel = 1, stride = 1, pad = 0, dilation = 1;
    bool adaptive = false;
    int64_t in = 0, out = 0; // input and output sizes along the dim
};

// Max pooling's choice as a window is scanned in order: a NaN wins once and nothing replaces
// it; otherwise only a strictly larger value (so the first of equal maxima stays), as ATen.
// Bitwise operators: the CPU's loops select without a branch.
template <class T> NNSCOPE_HD inline bool pool_beats(T v, T best) {
    return (v > best) | ((v != v) & (best == best));
}

NNSCOPE_HD inline PoolTaps pool_taps(const PoolWindows& w, int64_t o) {
    PoolTaps t;
    if (w.adaptive) {
        t.first = o * w.in / w.out;
        t.count = ((o + 1) * w.in + w.out - 1) / w.out - t.first;
        return t;
    }
    t.step = w.dilation;
    for (int64_t i = 0; i < w.kernel; ++i)
        if (const int64_t r = o * w.stride - w.pad + i * w.dilation; r >= 0 && r < w.in) {
            if (!t.count) t.first = r;
            ++t.count;
        }
    return t;
}

} // namespace nnscope
