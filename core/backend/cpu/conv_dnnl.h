// conv_dnnl.h: float32 convolution kernels from oneDNN where the build found it
// (conv_dnnl.cpp); available() is false otherwise and fused_conv.cpp uses its GEMMs.
// Plain layouts: x [N, C, H, W], w [O, C/groups, kh, kw], b [O], y [N, O, oh, ow].
#pragma once

#include <cstdint>

namespace nnscope::conv_dnnl {

struct Shape {
    int64_t n, c, h, w;             // input
    int64_t o, kh, kw, groups;      // weight
    int64_t oh, ow;                 // output
    int64_t sh, sw, ph, pw, dh, dw; // stride, padding, dilation (PyTorch's meanings)
};

// Which weights these are, for the cache of weights in oneDNN's layout: their storage and
// offset, and the storage's version counter (an in-place write, an optimizer step, makes a
// new version, so a stale copy is never used).
struct WeightKey {
    uint64_t storage = 0; // Storage::id, 0 for none
    int64_t offset = 0;
    uint32_t version = 0;
};

// False without oneDNN, and where NNSCOPE_NO_DNNL is set (the tests run the GEMM path so).
bool available();
// `relu`: max(y, 0) applied by the convolution itself (a oneDNN post-op), for fused
// convolution + BatchNorm + ReLU in eval (script/fusion.cpp).
void forward(const Shape& s, const float* x, const float* w, const WeightKey& key, const float* b,
             float* y, bool training, bool relu = false);
// Drops every cached weight copy (the memory benchmark starts from none, as PyTorch does).
void clear_weights();
// The input gradient gx (null: not wanted) and the weight and bias gradients gw, gb (null:
// not wanted) from the output gradient gy; gy is reordered to oneDNN's layout once for both.
void backward(const Shape& s, const float* x, const float* gy, const float* w, float* gx, float* gw,
              float* gb);

} // namespace nnscope::conv_dnnl
