// sim_backend.cpp: the simulated device "sim:0": a separate memory space on the host with
// its own accounting, real copies on every move, and the GPU backend's own kernel bodies
// (kernels.h) executed by host loops. It lets nnscope show model.to(gpu) and its errors on
// machines without a GPU, and lets CI test the CUDA code paths' arithmetic. Its memory goes
// through the CUDA backend's caching allocator (block_pool.h), its capacity is the host's
// physical memory, and running out of it is the same OutOfMemoryError as on a GPU.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "block_pool.h"
#include "gpu.h"
#include "kernel_args.h"

namespace nnscope::gpu {

namespace {

std::atomic<int> g_fail_countdown{0}; // sim_fail_allocation()

template <class Args, class Body> void run(const Args& args, int64_t n, Body body) {
    for (int64_t i = 0; i < n; ++i) body(args, i);
}

class SimBackend final : public Backend {
  public:
    explicit SimBackend(int index)
        : m_index(index),
          m_capacity(uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE))),
          m_pool([this](size_t n) { return device_alloc(n); },
                 [this](void* p, size_t n) { device_free(p, n); }, true) {}
    ~SimBackend() override { m_pool.release_cached(); }

    Device device() const override { return {DeviceKind::Sim, m_index}; }
    std::string name() const override {
        return "sim:" + std::to_string(m_index) + " (simulated GPU)";
    }
    bool simulated() const override { return true; }

    void* allocate(size_t nbytes) override {
        int n = g_fail_countdown.load();
        while (n > 0 && !g_fail_countdown.compare_exchange_weak(n, n - 1)) {
        }
        void* p = n == 1 ? nullptr : m_pool.allocate(nbytes);
        if (!p) {
            const uint64_t held = m_device_bytes.load();
            throw OutOfMemoryError(out_of_memory_message(device(), nbytes, m_capacity,
                                                         held < m_capacity ? m_capacity - held : 0,
                                                         m_pool.stats()));
        }
        return p;
    }
    void deallocate(void* ptr, size_t nbytes) override { m_pool.deallocate(ptr, nbytes); }
    void copy_from_host(void* dst, const void* src, size_t n) override {
        if (n) std::memcpy(dst, src, n);
    }
    void copy_to_host(void* dst, const void* src, size_t n) override {
        if (n) std::memcpy(dst, src, n);
    }
    size_t bytes_in_use() const override { return m_pool.stats().in_use; }
    MemoryStats memory_stats() const override { return m_pool.stats(); }

    // The CUDA backend's choices, made the same way: a plain copy for one contiguous run,
    // the float32 vector bodies where they apply, split reductions for long inner blocks.
    void copy(const TensorView& dst, const TensorView& src) override {
        const CopyArgs args = copy_args(dst, src);
        size_t bytes = 0;
        if (copy_is_memcpy(args, bytes))
            std::memmove(dst.data, src.data, bytes);
        else
            run(args, args.shape.numel(), copy_element);
    }
    void fill(const TensorView& dst, Scalar value) override {
        run(fill_args(dst, value), dst.numel(), fill_element);
    }
    void unary(UnaryOp op, const TensorView& dst, const TensorView& src) override {
        const UnaryArgs args = unary_args(op, dst, src);
        UnaryF32Args f;
        if (unary_f32_args(args, f))
            run(f, (f.n + 3) / 4, unary_f32x4_element);
        else
            run(args, args.shape.numel(), unary_element);
    }
    void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                const TensorView& b) override {
        const BinaryArgs args = binary_args(op, compute, dst, a, b);
        BinaryF32Args f;
        if (binary_f32_args(args, f))
            run(f, (f.n + 3) / 4, binary_f32x4_element);
        else
            run(args, args.shape.numel(), binary_element);
    }
    void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                int64_t correction) override {
        const ReduceArgs args = reduce_args(op, dst, src, reduce_ndim, correction);
        const int64_t outputs = args.outer.numel();
        const ReduceSplit split = reduce_split(outputs, args.inner.numel());
        if (split.threads == 1) {
            run(args, outputs, reduce_element);
            return;
        }
        // What the GPU's blocks do: each thread's partial over its stride of the chunk, the
        // block's threads merged (in thread order here, as a tree of shuffles there), then
        // each output's chunks merged in order.
        std::vector<ReduceAcc> partials(size_t(outputs * split.chunks));
        for (int64_t blk = 0; blk < outputs * split.chunks; ++blk) {
            ReduceAcc acc = reduce_thread(args, split, blk, 0);
            for (int64_t t = 1; t < split.threads; ++t)
                reduce_merge(args, acc, reduce_thread(args, split, blk, t));
            partials[size_t(blk)] = acc;
        }
        run(ReduceFinishArgs{args, partials.data(), split.chunks}, outputs, reduce_finish_element);
    }
    void matmul(const TensorView& c, const TensorView& a, const TensorView& b) override {
        GemmArgs g{operand(c), operand(a), operand(b), a.shape[0], b.shape[1], a.shape[1]};
        run(g, g.m * g.n, gemm_element);
    }
    void index_select_rows(const TensorView& dst, const TensorView& table,
                           const TensorView& index) override {
        RowsArgs args = rows_args(dst, table, index);
        run(args, args.rows * args.cols, index_select_element);
    }
    void index_add_rows(const TensorView& dst, const TensorView& index,
                        const TensorView& src) override {
        RowsArgs args = rows_args(dst, src, index); // one source element each, in order
        run(args, args.rows * args.cols, index_add_element);
    }
    void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) override {
        ConvArgs args = conv_args(cols.data, x, g);
        run(args, cols.numel(), im2col_element);
    }
    void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) override {
        ConvArgs args = conv_args(cols.data, dx, g);
        run(args, dx.numel(), col2im_element);
    }
    void window_max(const TensorView& values, const TensorView& index, const TensorView& x,
                    const PoolWindows& rows, const PoolWindows& cols) override {
        run(pool_args(values, index, x, rows, cols), values.numel(), window_max_element);
    }
    void window_max_backward(const TensorView& gx, const TensorView& g,
                             const TensorView& index) override {
        run(pool_grad_args(gx, g, index), gx.shape[0] * gx.shape[1], window_max_grad_plane);
    }

  private:
    // The simulated device's cudaMalloc and cudaFree.
    void* device_alloc(size_t size) {
        if (size > m_capacity - std::min<uint64_t>(m_capacity, m_device_bytes.load()))
            return nullptr;
        void* p = std::aligned_alloc(256, size); // like cudaMalloc's alignment
        if (p) m_device_bytes += size;
        return p;
    }
    void device_free(void* p, size_t size) {
        std::free(p);
        m_device_bytes -= size;
    }

    int m_index;
    uint64_t m_capacity;
    std::atomic<uint64_t> m_device_bytes{0};
    BlockPool m_pool;
};

} // namespace

std::shared_ptr<Backend> make_sim_backend(int index) {
    return std::make_shared<SimBackend>(index);
}

void sim_fail_allocation(int n) {
    g_fail_countdown = n;
}

} // namespace nnscope::gpu
