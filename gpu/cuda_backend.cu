// cuda_backend.cu: the CUDA backend. Kernels are grid-stride loops around the shared kernel
// bodies of kernels.h (the same code the simulated device runs on the host); GEMM goes to
// cuBLAS. One stream and one cuBLAS handle per device, owned by the backend; every call is
// checked. Results are synchronised before control returns to the core, which reads device
// memory only through copy_to_host.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <atomic>
#include <memory>

#include "cuda_common.cuh"
#include "device.h"
#include "gpu.h"
#include "kernel_args.h"

namespace nnscope::gpu {

namespace {

template <class Args, void (*Body)(const Args&, int64_t)>
__global__ void grid_stride(Args args, int64_t n) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x)
        Body(args, i);
}

struct CublasDeleter {
    void operator()(cublasContext* h) const { cublasDestroy(h); }
};

class CudaBackend final : public Backend {
  public:
    explicit CudaBackend(int index) : m_index(index) {
        CUDA_CHECK(cudaSetDevice(index));
        CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
        cublasHandle_t h = nullptr;
        CUBLAS_CHECK(cublasCreate(&h));
        m_cublas.reset(h);
        CUBLAS_CHECK(cublasSetStream(h, m_stream));
    }
    ~CudaBackend() override { cudaStreamDestroy(m_stream); }

    Device device() const override { return {DeviceKind::CUDA, m_index}; }
    std::string name() const override {
        cudaDeviceProp p{};
        cudaGetDeviceProperties(&p, m_index);
        return "cuda:" + std::to_string(m_index) + " (" + p.name + ")";
    }

    void* allocate(size_t nbytes) override {
        select();
        void* p = nullptr;
        CUDA_CHECK(cudaMalloc(&p, nbytes == 0 ? 1 : nbytes));
        m_in_use += nbytes;
        return p;
    }
    void deallocate(void* ptr, size_t nbytes) override {
        select();
        cudaFree(ptr); // never throws from a destructor path
        m_in_use -= nbytes;
    }
    void copy_from_host(void* dst, const void* src, size_t n) override {
        if (!n) return;
        select();
        CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, m_stream));
        CUDA_CHECK(
            cudaStreamSynchronize(m_stream)); // src is the caller's, valid only until we return
    }
    void copy_to_host(void* dst, const void* src, size_t n) override {
        if (!n) return;
        select();
        CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, m_stream));
        CUDA_CHECK(cudaStreamSynchronize(m_stream));
    }
    size_t bytes_in_use() const override { return m_in_use; }

    void copy(const TensorView& dst, const TensorView& src) override {
        launch<CopyArgs, copy_element>(copy_args(dst, src), dst.numel());
    }
    void fill(const TensorView& dst, Scalar value) override {
        launch<FillArgs, fill_element>(fill_args(dst, value), dst.numel());
    }
    void unary(UnaryOp op, const TensorView& dst, const TensorView& src) override {
        launch<UnaryArgs, unary_element>(unary_args(op, dst, src), dst.numel());
    }
    void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                const TensorView& b) override {
        launch<BinaryArgs, binary_element>(binary_args(op, compute, dst, a, b), dst.numel());
    }
    void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                int64_t correction) override {
        ReduceArgs args = reduce_args(op, dst, src, reduce_ndim, correction);
        launch<ReduceArgs, reduce_element>(args, args.outer.numel());
    }
    void matmul(const TensorView& c, const TensorView& a, const TensorView& b) override {
        // Row-major C = A @ B is column-major C^T = B^T @ A^T: no copies for row-major or
        // transposed operands (the front end passes one of the two layouts).
        select();
        const int m = int(a.shape[0]), k = int(a.shape[1]), n = int(b.shape[1]);
        auto layout = [](const TensorView& v, cublasOperation_t& op, int& ld) {
            if (v.strides[1] == 1 || v.shape[1] == 1) {
                op = CUBLAS_OP_N;
                ld = int(std::max<int64_t>(v.strides[0], v.shape[1]));
            } else {
                op = CUBLAS_OP_T;
                ld = int(std::max<int64_t>(v.strides[1], v.shape[0]));
            }
        };
        cublasOperation_t op_a, op_b;
        int lda, ldb;
        layout(a, op_a, lda);
        layout(b, op_b, ldb);
        const int ldc = int(std::max<int64_t>(c.strides[0], n));
        if (c.dtype == DType::Float32) {
            const float one = 1, zero = 0;
            CUBLAS_CHECK(cublasSgemm(
                m_cublas.get(), op_b, op_a, n, m, k, &one, static_cast<const float*>(b.data), ldb,
                static_cast<const float*>(a.data), lda, &zero, static_cast<float*>(c.data), ldc));
        } else {
            const double one = 1, zero = 0;
            CUBLAS_CHECK(cublasDgemm(
                m_cublas.get(), op_b, op_a, n, m, k, &one, static_cast<const double*>(b.data), ldb,
                static_cast<const double*>(a.data), lda, &zero, static_cast<double*>(c.data), ldc));
        }
        CUDA_CHECK(cudaStreamSynchronize(m_stream));
    }
    void index_select_rows(const TensorView& dst, const TensorView& table,
                           const TensorView& index) override {
        RowsArgs args = rows_args(dst, table, index);
        launch<RowsArgs, index_select_element>(args, args.rows * args.cols);
    }
    void index_add_rows(const TensorView& dst, const TensorView& index,
                        const TensorView& src) override {
        RowsArgs args = rows_args(dst, src, index);
        args.cols = dst.shape[1];
        launch<RowsArgs, index_add_element>(args, dst.shape[0] * dst.shape[1]);
    }
    void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) override {
        launch<ConvArgs, im2col_element>(conv_args(cols.data, x, g), cols.numel());
    }
    void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) override {
        launch<ConvArgs, col2im_element>(conv_args(cols.data, dx, g), dx.numel());
    }

  private:
    void select() const { CUDA_CHECK(cudaSetDevice(m_index)); }

    template <class Args, void (*Body)(const Args&, int64_t)>
    void launch(const Args& args, int64_t n) {
        if (n <= 0) return;
        select();
        const int threads = 256;
        const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 65535);
        grid_stride<Args, Body><<<unsigned(blocks), threads, 0, m_stream>>>(args, n);
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaStreamSynchronize(m_stream));
    }

    int m_index;
    cudaStream_t m_stream = nullptr;
    std::unique_ptr<cublasContext, CublasDeleter> m_cublas;
    std::atomic<size_t> m_in_use{0};
};

} // namespace

// The plugin's entry point (devices.cpp finds it with dlsym): C linkage, no mangling.
extern "C" void nnscope_register_cuda_devices() {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        register_unavailable_device("cuda:0", cudaGetErrorString(err));
        return;
    }
    if (count == 0) {
        register_unavailable_device("cuda:0", "no CUDA device found");
        return;
    }
    for (int i = 0; i < count; ++i) {
        try {
            register_backend(std::make_shared<CudaBackend>(i));
        } catch (const std::exception& e) {
            register_unavailable_device("cuda:" + std::to_string(i), e.what());
        }
    }
}

} // namespace nnscope::gpu
