// conv_dnnl.cpp: float32 2-D convolution forward and backward through oneDNN (Debian's
// libdnnl-dev), the library PyTorch's own CPU convolutions run on. Built where CMake finds
// oneDNN (NNSCOPE_HAVE_DNNL); fused_conv.cpp's one-GEMM-per-group path serves otherwise.
// Tensors stay in PyTorch's plain layouts (NCHW activations, OIHW weights) between ops;
// each convolution lets oneDNN choose its layouts (`any`: blocked, for its direct AVX2 /
// AVX-512 kernels, measured 1.5x faster than its GEMM kernel on plain NCHW at ResNet-18's
// shapes) and reorders in and out, as PyTorch's CPU convolution does, except that in
// forward passes that record nothing (eval, no grad) weights in oneDNN's layout are kept
// between calls until their version changes (PyTorch reorders them every call). Compiled
// primitives stay in oneDNN's own cache. Written for oneDNN 2.x (Debian 12) and 3.x (Debian 13),
// whose primitive descriptors differ.
#include "conv_dnnl.h"

#ifdef NNSCOPE_HAVE_DNNL

#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend.h"
#include "device.h"

namespace nnscope::conv_dnnl {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

struct Descs {
    memory::desc src, weights, bias, dst;
    memory::desc src_any, weights_any, dst_any; // the same shapes, layouts left to oneDNN
    memory::dims strides, dilates, pad_l, pad_r;
};

Descs descs(const Shape& s) {
    Descs d;
    const memory::dims src{s.n, s.c, s.h, s.w}, dst{s.n, s.o, s.oh, s.ow};
    const memory::dims weights =
        s.groups == 1 ? memory::dims{s.o, s.c, s.kh, s.kw}
                      : memory::dims{s.groups, s.o / s.groups, s.c / s.groups, s.kh, s.kw};
    d.src = memory::desc(src, dt::f32, tag::nchw);
    d.weights = memory::desc(weights, dt::f32, s.groups == 1 ? tag::oihw : tag::goihw);
    d.bias = memory::desc({s.o}, dt::f32, tag::x);
    d.dst = memory::desc(dst, dt::f32, tag::nchw);
    d.src_any = memory::desc(src, dt::f32, tag::any);
    d.weights_any = memory::desc(weights, dt::f32, tag::any);
    d.dst_any = memory::desc(dst, dt::f32, tag::any);
    d.strides = {s.sh, s.sw};
    d.dilates = {s.dh - 1, s.dw - 1}; // oneDNN counts the gaps
    d.pad_l = {s.ph, s.pw};
    // Right padding so the last window fits exactly: (o - 1) * stride + extent - input - left.
    d.pad_r = {(s.oh - 1) * s.sh + s.dh * (s.kh - 1) + 1 - s.h - s.ph,
               (s.ow - 1) * s.sw + s.dw * (s.kw - 1) + 1 - s.w - s.pw};
    return d;
}

dnnl::primitive_attr attributes(bool relu) {
    dnnl::primitive_attr attr;
    if (relu) {
        dnnl::post_ops ops;
#if DNNL_VERSION_MAJOR >= 3
        ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
#else
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
#endif
        attr.set_post_ops(ops);
    }
    return attr;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d, bool with_bias, bool training,
                                                     bool relu = false) {
    // forward_training in eval too: for inference oneDNN 2.6 picks its brgconv kernel on NHWC,
    // whose reorders from NCHW cost more than the kernel saves (measured on ResNet-18).
    (void)training;
    const auto prop = dnnl::prop_kind::forward_training;
    // (`training` still decides whether weights are cached: in training they change every
    // step, and a second copy of every weight would only add memory.)
    const memory::desc no_bias;
#if DNNL_VERSION_MAJOR >= 3
    return {engine(),  prop,          dnnl::algorithm::convolution_direct,
            d.src_any, d.weights_any, with_bias ? d.bias : no_bias,
            d.dst_any, d.strides,     d.dilates,
            d.pad_l,   d.pad_r,       attributes(relu)};
#else
    dnnl::convolution_forward::desc desc =
        with_bias ? dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                                    d.src_any, d.weights_any, d.bias, d.dst_any,
                                                    d.strides, d.dilates, d.pad_l, d.pad_r)
                  : dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                                    d.src_any, d.weights_any, d.dst_any, d.strides,
                                                    d.dilates, d.pad_l, d.pad_r);
    return {desc, attributes(relu), engine()};
#endif
}

memory wrap(const memory::desc& md, const float* p) {
    return memory(md, engine(), const_cast<float*>(p));
}

// One call's temporaries in oneDNN's layouts, from nnscope's CPU allocator: its block cache
// hands the same blocks back every step, where oneDNN's own malloc would map fresh pages
// for each large reorder and the kernel zero them again. Returned when the call ends.
class Temporaries {
  public:
    Temporaries() = default;
    Temporaries(const Temporaries&) = delete;
    Temporaries& operator=(const Temporaries&) = delete;
    ~Temporaries() {
        for (auto [p, n] : m_blocks) backend_for(Device::cpu()).deallocate(p, n);
    }
    memory make(const memory::desc& d) {
        const size_t n = d.get_size();
        void* p = backend_for(Device::cpu()).allocate(n);
        m_blocks.emplace_back(p, n);
        return memory(d, engine(), p);
    }

  private:
    std::vector<std::pair<void*, size_t>> m_blocks;
};

// `user` (a plain tensor's bytes) as the layout a primitive wants: itself, or a reordered
// copy (in `temps` where given, else oneDNN's own memory: the cached weights).
memory to_layout(const memory& user, const memory::desc& want, dnnl::stream& stream,
                 Temporaries* temps = nullptr) {
    if (user.get_desc() == want) return user;
    memory m = temps ? temps->make(want) : memory(want, engine());
    dnnl::reorder(user, m).execute(stream, const_cast<memory&>(user), m);
    return m;
}

// Weights already reordered, by (storage, offset, use: forward or backward data); an
// entry whose version or layout differs from the weights' current one is replaced.
// Bounded: emptied past 512 entries (many models pay a reorder again now and then).
struct CachedWeights {
    uint32_t version;
    memory mem;
};
// Never destroyed, so oneDNN's own teardown order at exit does not matter.
std::mutex g_weights_mutex;
std::map<std::tuple<uint64_t, int64_t, int>, CachedWeights>& g_weights =
    *new std::map<std::tuple<uint64_t, int64_t, int>, CachedWeights>;

memory weights_in_layout(const memory& user, const memory::desc& want, const WeightKey& key,
                         int use, dnnl::stream& stream) {
    if (user.get_desc() == want || !key.storage) return to_layout(user, want, stream);
    const auto id = std::make_tuple(key.storage, key.offset, use);
    std::lock_guard<std::mutex> lock(g_weights_mutex);
    auto it = g_weights.find(id);
    if (it != g_weights.end() && it->second.version == key.version &&
        it->second.mem.get_desc() == want)
        return it->second.mem;
    if (g_weights.size() >= 512) g_weights.clear();
    memory m = to_layout(user, want, stream);
    g_weights[id] = {key.version, m};
    return m;
}

// A training forward pass: the weights are about to change, so their cached copy goes.
void forget_weights(const WeightKey& key) {
    std::lock_guard<std::mutex> lock(g_weights_mutex);
    g_weights.erase(std::make_tuple(key.storage, key.offset, 0));
}

// A primitive's output in its layout, and where it goes: written straight to `user` when
// the layouts agree, else reordered into it by finish().
struct Output {
    memory user, mem;
    Output(const memory& u, const memory::desc& want, Temporaries& temps)
        : user(u), mem(u.get_desc() == want ? u : temps.make(want)) {}
    void finish(dnnl::stream& stream) {
        if (mem != user) dnnl::reorder(mem, user).execute(stream, mem, user);
    }
};

} // namespace

bool available() {
    static const bool off = std::getenv("NNSCOPE_NO_DNNL") != nullptr;
    return !off;
}

void clear_weights() {
    std::lock_guard<std::mutex> lock(g_weights_mutex);
    g_weights.clear();
}

void forward(const Shape& s, const float* x, const float* w, const WeightKey& key, const float* b,
             float* y, bool training, bool relu) {
    const Descs d = descs(s);
    auto pd = forward_pd(d, b != nullptr, training, relu);
    if (training) forget_weights(key);
    dnnl::stream stream(engine());
    Temporaries temps;
    Output out(wrap(d.dst, y), pd.dst_desc(), temps);
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, to_layout(wrap(d.src, x), pd.src_desc(), stream, &temps)},
        {DNNL_ARG_WEIGHTS,
         training ? to_layout(wrap(d.weights, w), pd.weights_desc(), stream, &temps)
                  : weights_in_layout(wrap(d.weights, w), pd.weights_desc(), key, 0, stream)},
        {DNNL_ARG_DST, out.mem}};
    if (b) args.insert({DNNL_ARG_BIAS, wrap(d.bias, b)});
    dnnl::convolution_forward(pd).execute(stream, args);
    out.finish(stream);
    stream.wait();
}

void backward(const Shape& s, const float* x, const float* gy, const float* w, float* gx, float* gw,
              float* gb) {
    const Descs d = descs(s);
    auto hint = forward_pd(d, gb != nullptr, true);
    dnnl::stream stream(engine());
    Temporaries temps;
    const memory gy_user = wrap(d.dst, gy);
    memory gy_reordered; // gy in backward data's layout, reused by backward weights
    bool have_gy = false;
    if (gx) {
#if DNNL_VERSION_MAJOR >= 3
        dnnl::convolution_backward_data::primitive_desc pd(
            engine(), dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, d.dst_any,
            d.strides, d.dilates, d.pad_l, d.pad_r, hint);
#else
        dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.src_any,
                                                   d.weights_any, d.dst_any, d.strides, d.dilates,
                                                   d.pad_l, d.pad_r);
        dnnl::convolution_backward_data::primitive_desc pd(desc, engine(), hint);
#endif
        Output out(wrap(d.src, gx), pd.diff_src_desc(), temps);
        gy_reordered = to_layout(gy_user, pd.diff_dst_desc(), stream, &temps);
        have_gy = true;
        dnnl::convolution_backward_data(pd).execute(
            stream,
            {{DNNL_ARG_DIFF_DST, gy_reordered},
             {DNNL_ARG_WEIGHTS, to_layout(wrap(d.weights, w), pd.weights_desc(), stream, &temps)},
             {DNNL_ARG_DIFF_SRC, out.mem}});
        out.finish(stream);
    }
    if (gw) {
        const memory::desc no_bias;
#if DNNL_VERSION_MAJOR >= 3
        dnnl::convolution_backward_weights::primitive_desc pd(
            engine(), dnnl::algorithm::convolution_direct, d.src_any, d.weights_any,
            gb ? d.bias : no_bias, d.dst_any, d.strides, d.dilates, d.pad_l, d.pad_r, hint);
#else
        dnnl::convolution_backward_weights::desc desc =
            gb ? dnnl::convolution_backward_weights::desc(
                     dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, d.bias,
                     d.dst_any, d.strides, d.dilates, d.pad_l, d.pad_r)
               : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                          d.src_any, d.weights_any, d.dst_any,
                                                          d.strides, d.dilates, d.pad_l, d.pad_r);
        dnnl::convolution_backward_weights::primitive_desc pd(desc, engine(), hint);
#endif
        Output out(wrap(d.weights, gw), pd.diff_weights_desc(), temps);
        const bool reuse = have_gy && gy_reordered.get_desc() == pd.diff_dst_desc();
        std::unordered_map<int, memory> args = {
            {DNNL_ARG_SRC, to_layout(wrap(d.src, x), pd.src_desc(), stream, &temps)},
            {DNNL_ARG_DIFF_DST,
             reuse ? gy_reordered : to_layout(gy_user, pd.diff_dst_desc(), stream, &temps)},
            {DNNL_ARG_DIFF_WEIGHTS, out.mem}};
        if (gb) args.insert({DNNL_ARG_DIFF_BIAS, wrap(d.bias, gb)});
        dnnl::convolution_backward_weights(pd).execute(stream, args);
        out.finish(stream);
    }
    stream.wait();
}

} // namespace nnscope::conv_dnnl

#else

namespace nnscope::conv_dnnl {
bool available() {
    return false;
}
void forward(const Shape&, const float*, const float*, const WeightKey&, const float*, float*, bool,
             bool) {}
void clear_weights() {}
void backward(const Shape&, const float*, const float*, const float*, float*, float*, float*) {}
} // namespace nnscope::conv_dnnl

#endif
