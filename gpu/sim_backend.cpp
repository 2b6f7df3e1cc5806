// sim_backend.cpp: the simulated device "sim:0": a separate memory space on the host with
// its own accounting, real copies on every move, and the GPU backend's own kernel bodies
// (kernels.h) executed by host loops. It lets nnscope show model.to(gpu) and its errors on
// machines without a GPU, and lets CI test the CUDA code paths' arithmetic.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "gpu.h"
#include "kernel_args.h"

namespace nnscope::gpu {

namespace {

template <class Args, class Body> void run(const Args& args, int64_t n, Body body) {
    for (int64_t i = 0; i < n; ++i) body(args, i);
}

class SimBackend final : public Backend {
  public:
    explicit SimBackend(int index) : m_index(index) {}
    Device device() const override { return {DeviceKind::Sim, m_index}; }
    std::string name() const override {
        return "sim:" + std::to_string(m_index) + " (simulated GPU)";
    }
    bool simulated() const override { return true; }

    void* allocate(size_t nbytes) override {
        void* p = std::aligned_alloc(256, (nbytes + 255) / 256 * 256 +
                                              256); // like cudaMalloc's alignment
        if (!p) throw std::bad_alloc();
        m_in_use += nbytes;
        return p;
    }
    void deallocate(void* ptr, size_t nbytes) override {
        std::free(ptr);
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
        run(copy_args(dst, src), dst.numel(), copy_element);
    }
    void fill(const TensorView& dst, Scalar value) override {
        run(fill_args(dst, value), dst.numel(), fill_element);
    }
    void unary(UnaryOp op, const TensorView& dst, const TensorView& src) override {
        run(unary_args(op, dst, src), dst.numel(), unary_element);
    }
    void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                const TensorView& b) override {
        run(binary_args(op, compute, dst, a, b), dst.numel(), binary_element);
    }
    void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                int64_t correction) override {
        ReduceArgs args = reduce_args(op, dst, src, reduce_ndim, correction);
        run(args, args.outer.numel(), reduce_element);
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
        RowsArgs args = rows_args(dst, src, index);
        args.cols = dst.shape[1];
        run(args, dst.shape[0] * dst.shape[1], index_add_element);
    }
    void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) override {
        ConvArgs args = conv_args(cols.data, x, g);
        run(args, cols.numel(), im2col_element);
    }
    void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) override {
        ConvArgs args = conv_args(cols.data, dx, g);
        run(args, dx.numel(), col2im_element);
    }

  private:
    int m_index;
    std::atomic<size_t> m_in_use{0};
};

} // namespace

std::shared_ptr<Backend> make_sim_backend(int index) {
    return std::make_shared<SimBackend>(index);
}

} // namespace nnscope::gpu
