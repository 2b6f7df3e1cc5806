// cuda_backend.cu: the CUDA backend. Kernels are grid-stride loops around the shared kernel
// bodies of kernels.h (the same code the simulated device runs on the host); GEMM goes to
// cuBLAS with the CPU's own BLAS arguments (gemm_layout.h).
//
// One stream and one cuBLAS handle per device, created on the device's first use (listing
// devices creates no context). Work is queued on the stream and the host waits only where
// it reads device memory (copy_to_host); memory comes from a caching allocator
// (block_pool.h), so freeing a tensor never synchronises and its block is reused in stream
// order. Nothing on the freeing path throws: a failure there is kept and reported by the
// device's next operation.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>

#include "block_pool.h"
#include "cuda_common.cuh"
#include "device.h"
#include "gemm_layout.h"
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

// --- block reductions: kernels.h's partial accumulators, merged by warp shuffles ---------

constexpr int k_reduce_threads = k_reduce_block; // kernels.h's split assumes it

__device__ ReduceAcc shfl_down(const ReduceAcc& a, int offset) {
    const unsigned all = 0xffffffffu;
    ReduceAcc o;
    o.sum = __shfl_down_sync(all, a.sum, offset);
    o.mean = __shfl_down_sync(all, a.mean, offset);
    o.m2 = __shfl_down_sync(all, a.m2, offset);
    o.ext = __shfl_down_sync(all, a.ext, offset);
    o.count = __shfl_down_sync(all, (long long)a.count, offset);
    o.hits = __shfl_down_sync(all, (long long)a.hits, offset);
    o.iacc = __shfl_down_sync(all, (long long)a.iacc, offset);
    o.nan = __shfl_down_sync(all, int(a.nan), offset) != 0;
    return o;
}

// Block b of the split (kernels.h reduce_split): each thread's partial over its stride of
// the chunk, merged within each warp, then across the block's warps into partials[b].
__global__ void reduce_partials(ReduceArgs args, ReduceSplit split, ReduceAcc* partials,
                                int64_t blocks) {
    __shared__ ReduceAcc warps[k_reduce_threads / 32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t b = blockIdx.x; b < blocks; b += gridDim.x) {
        ReduceAcc acc = reduce_thread(args, split, b, threadIdx.x);
        for (int offset = 16; offset > 0; offset /= 2)
            reduce_merge(args, acc, shfl_down(acc, offset));
        if (lane == 0) warps[warp] = acc;
        __syncthreads();
        if (threadIdx.x == 0) {
            ReduceAcc total = warps[0];
            for (int w = 1; w < k_reduce_threads / 32; ++w) reduce_merge(args, total, warps[w]);
            partials[b] = total;
        }
        __syncthreads();
    }
}

// The embedding gradient's scatter-add with atomics (float32 and float64 gradients).
struct AtomicAdd {
    __device__ void operator()(char* p, int dtype, double v) const {
        if (dtype == F32)
            atomicAdd(reinterpret_cast<float*>(p), float(v));
        else
            atomicAdd(reinterpret_cast<double*>(p), v);
    }
};
__device__ void index_add_atomic_element(const RowsArgs& a, int64_t idx) {
    index_add_scatter(a, idx, AtomicAdd{});
}

struct CublasDeleter {
    void operator()(cublasContext* h) const { cublasDestroy(h); }
};

class CudaBackend final : public Backend {
  public:
    CudaBackend(int index, std::string name)
        : m_index(index), m_name(std::move(name)),
          m_pool([this](size_t n) { return device_alloc(n); },
                 [this](void* p, size_t n) { device_free(p, n); }, false) {}

    // The device selected first; cached blocks, the cuBLAS handle, then the stream it is
    // bound to; nothing here throws.
    ~CudaBackend() override {
        if (!m_ready) return;
        cudaSetDevice(m_index);
        cudaStreamSynchronize(m_stream);
        m_pool.release_cached();
        for (int i = 0; i < 2; ++i) {
            if (m_staging[i]) cudaFreeHost(m_staging[i]);
            if (m_staged[i]) cudaEventDestroy(m_staged[i]);
        }
        m_cublas.reset();
        cudaStreamDestroy(m_stream);
        cudaGetLastError();
    }

    Device device() const override { return {DeviceKind::CUDA, m_index}; }
    std::string name() const override { return m_name; }

    void* allocate(size_t nbytes) override {
        ready();
        void* p = m_pool.allocate(nbytes);
        if (!p) {
            size_t free = 0, total = 0;
            if (cudaMemGetInfo(&free, &total) != cudaSuccess) cudaGetLastError();
            throw OutOfMemoryError(
                out_of_memory_message(device(), nbytes, total, free, m_pool.stats()));
        }
        return p;
    }
    void deallocate(void* ptr, size_t nbytes) override { m_pool.deallocate(ptr, nbytes); }

    // Pageable host memory: CUDA stages it itself and returns once `src` may be reused.
    // Large copies go through two pinned buffers in turn, so copying into one overlaps the
    // DMA from the other.
    void copy_from_host(void* dst, const void* src, size_t n) override {
        if (!n) return;
        ready();
        if (n < k_staged_copy) {
            CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, m_stream));
            return;
        }
        std::lock_guard lock(m_staging_mutex);
        ensure_staging();
        for (size_t off = 0, i = 0; off < n; off += k_stage_bytes, ++i) {
            const size_t len = std::min(k_stage_bytes, n - off), b = i % 2;
            CUDA_CHECK(cudaEventSynchronize(m_staged[b])); // its previous DMA is done
            std::memcpy(m_staging[b], static_cast<const char*>(src) + off, len);
            CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + off, m_staging[b], len,
                                       cudaMemcpyHostToDevice, m_stream));
            CUDA_CHECK(cudaEventRecord(m_staged[b], m_stream));
        }
    }
    // The one place the host waits for the device.
    void copy_to_host(void* dst, const void* src, size_t n) override {
        if (!n) return;
        ready();
        if (n < k_staged_copy) {
            CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, m_stream));
            CUDA_CHECK(cudaStreamSynchronize(m_stream));
            return;
        }
        std::lock_guard lock(m_staging_mutex);
        ensure_staging();
        const size_t chunks = (n + k_stage_bytes - 1) / k_stage_bytes;
        auto issue = [&](size_t i) {
            const size_t off = i * k_stage_bytes, len = std::min(k_stage_bytes, n - off);
            CUDA_CHECK(cudaMemcpyAsync(m_staging[i % 2], static_cast<const char*>(src) + off, len,
                                       cudaMemcpyDeviceToHost, m_stream));
            CUDA_CHECK(cudaEventRecord(m_staged[i % 2], m_stream));
        };
        issue(0);
        for (size_t i = 0; i < chunks; ++i) {
            if (i + 1 < chunks) issue(i + 1);
            CUDA_CHECK(cudaEventSynchronize(m_staged[i % 2]));
            const size_t off = i * k_stage_bytes;
            std::memcpy(static_cast<char*>(dst) + off, m_staging[i % 2],
                        std::min(k_stage_bytes, n - off));
        }
    }
    size_t bytes_in_use() const override { return m_pool.stats().in_use; }
    MemoryStats memory_stats() const override { return m_pool.stats(); }

    // sim:0 makes the same choices (sim_backend.cpp), so CI runs these paths' bodies.
    void copy(const TensorView& dst, const TensorView& src) override {
        const CopyArgs args = copy_args(dst, src);
        size_t bytes = 0;
        if (copy_is_memcpy(args, bytes)) {
            if (!bytes) return;
            ready();
            CUDA_CHECK(
                cudaMemcpyAsync(dst.data, src.data, bytes, cudaMemcpyDeviceToDevice, m_stream));
            return;
        }
        launch<CopyArgs, copy_element>(args, args.shape.numel());
    }
    void fill(const TensorView& dst, Scalar value) override {
        launch<FillArgs, fill_element>(fill_args(dst, value), dst.numel());
    }
    void unary(UnaryOp op, const TensorView& dst, const TensorView& src) override {
        const UnaryArgs args = unary_args(op, dst, src);
        UnaryF32Args f;
        if (unary_f32_args(args, f))
            launch<UnaryF32Args, unary_f32x4_element>(f, (f.n + 3) / 4);
        else
            launch<UnaryArgs, unary_element>(args, args.shape.numel());
    }
    void binary(BinaryOp op, DType compute, const TensorView& dst, const TensorView& a,
                const TensorView& b) override {
        const BinaryArgs args = binary_args(op, compute, dst, a, b);
        BinaryF32Args f;
        if (binary_f32_args(args, f))
            launch<BinaryF32Args, binary_f32x4_element>(f, (f.n + 3) / 4);
        else
            launch<BinaryArgs, binary_element>(args, args.shape.numel());
    }
    void reduce(ReduceOp op, const TensorView& dst, const TensorView& src, int reduce_ndim,
                int64_t correction) override {
        const ReduceArgs args = reduce_args(op, dst, src, reduce_ndim, correction);
        const int64_t outputs = args.outer.numel();
        const ReduceSplit split = reduce_split(outputs, args.inner.numel());
        if (split.threads == 1) {
            launch<ReduceArgs, reduce_element>(args, outputs);
            return;
        }
        const int64_t blocks = outputs * split.chunks;
        const size_t bytes = size_t(blocks) * sizeof(ReduceAcc);
        auto* partials = static_cast<ReduceAcc*>(allocate(bytes));
        try {
            reduce_partials<<<unsigned(std::min<int64_t>(blocks, 65535)), k_reduce_threads, 0,
                              m_stream>>>(args, split, partials, blocks);
            CUDA_CHECK(cudaGetLastError());
            launch<ReduceFinishArgs, reduce_finish_element>(
                ReduceFinishArgs{args, partials, split.chunks}, outputs);
        } catch (...) {
            deallocate(partials, bytes);
            throw;
        }
        deallocate(partials, bytes); // reused only by work queued after this
    }
    void matmul(const TensorView& c, const TensorView& a, const TensorView& b) override {
        // The CPU backend's OpenBLAS call, argument for argument (gemm_layout.h).
        const ColumnMajorGemm g = column_major_gemm(c, a, b);
        const auto op = [](bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; };
        ready();
        if (c.dtype == DType::Float32) {
            const float one = 1, zero = 0;
            CUBLAS_CHECK(cublasSgemm(m_cublas.get(), op(g.trans_first), op(g.trans_second), g.m,
                                     g.n, g.k, &one, static_cast<const float*>(g.first), g.ld_first,
                                     static_cast<const float*>(g.second), g.ld_second, &zero,
                                     static_cast<float*>(g.c), g.ldc));
        } else {
            const double one = 1, zero = 0;
            CUBLAS_CHECK(cublasDgemm(m_cublas.get(), op(g.trans_first), op(g.trans_second), g.m,
                                     g.n, g.k, &one, static_cast<const double*>(g.first),
                                     g.ld_first, static_cast<const double*>(g.second), g.ld_second,
                                     &zero, static_cast<double*>(g.c), g.ldc));
        }
    }
    void index_select_rows(const TensorView& dst, const TensorView& table,
                           const TensorView& index) override {
        RowsArgs args = rows_args(dst, table, index);
        launch<RowsArgs, index_select_element>(args, args.rows * args.cols);
    }
    void index_add_rows(const TensorView& dst, const TensorView& index,
                        const TensorView& src) override {
        RowsArgs args = rows_args(dst, src, index);
        if (dst.dtype == DType::Float32 || dst.dtype == DType::Float64)
            launch<RowsArgs, index_add_atomic_element>(args, args.rows * args.cols);
        else // 16-bit gradients: one thread adds in order (no 16-bit atomics needed)
            launch<RowsArgs, index_add_element>(args, args.rows * args.cols, 1);
    }
    void im2col(const TensorView& cols, const TensorView& x, const ConvGeometry& g) override {
        launch<ConvArgs, im2col_element>(conv_args(cols.data, x, g), cols.numel());
    }
    void col2im(const TensorView& dx, const TensorView& cols, const ConvGeometry& g) override {
        launch<ConvArgs, col2im_element>(conv_args(cols.data, dx, g), dx.numel());
    }
    void window_max(const TensorView& values, const TensorView& index, const TensorView& x,
                    const PoolWindows& rows, const PoolWindows& cols) override {
        launch<PoolArgs, window_max_element>(pool_args(values, index, x, rows, cols),
                                             values.numel());
    }
    void window_max_backward(const TensorView& gx, const TensorView& g,
                             const TensorView& index) override {
        launch<PoolGradArgs, window_max_grad_plane>(pool_grad_args(gx, g, index),
                                                    gx.shape[0] * gx.shape[1]);
    }

  private:
    static constexpr size_t k_staged_copy = size_t(8) << 20, k_stage_bytes = size_t(4) << 20;

    // Selects the device, creates the stream and cuBLAS handle on first use, and reports an
    // error kept from a freeing path.
    void ready() {
        std::call_once(m_once, [this] {
            CUDA_CHECK(cudaSetDevice(m_index));
            CUDA_CHECK(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking));
            cublasHandle_t h = nullptr;
            CUBLAS_CHECK(cublasCreate(&h));
            m_cublas.reset(h);
            CUBLAS_CHECK(cublasSetStream(h, m_stream));
            m_ready = true;
        });
        CUDA_CHECK(cudaSetDevice(m_index));
        std::string kept;
        {
            std::lock_guard lock(m_deferred_mutex);
            kept.swap(m_deferred);
        }
        if (!kept.empty()) throw DeviceError(kept);
    }
    void ensure_staging() {
        for (int i = 0; i < 2; ++i) {
            if (!m_staging[i]) CUDA_CHECK(cudaHostAlloc(&m_staging[i], k_stage_bytes, 0));
            if (!m_staged[i])
                CUDA_CHECK(cudaEventCreateWithFlags(&m_staged[i], cudaEventDisableTiming));
        }
    }
    // The pool's cudaMalloc: nullptr when the device is full (the error cleared), a
    // DeviceError for anything else.
    void* device_alloc(size_t size) {
        void* p = nullptr;
        const cudaError_t err = cudaMalloc(&p, size);
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            return nullptr;
        }
        CUDA_CHECK(err);
        return p;
    }
    // The pool's cudaFree, from destructors: never throws; a failure is kept for ready().
    void device_free(void* p, size_t) noexcept {
        cudaSetDevice(m_index);
        const cudaError_t err = cudaFree(p);
        if (err == cudaSuccess || err == cudaErrorCudartUnloading) return;
        cudaGetLastError();
        try {
            std::lock_guard lock(m_deferred_mutex);
            if (m_deferred.empty())
                m_deferred = std::string("cudaFree failed earlier: ") + cudaGetErrorString(err);
        } catch (...) {
        }
    }

    template <class Args, void (*Body)(const Args&, int64_t)>
    void launch(const Args& args, int64_t n, int64_t max_threads = 0) {
        if (n <= 0) return;
        ready();
        const int threads = max_threads == 1 ? 1 : 256;
        const int64_t blocks =
            max_threads == 1 ? 1 : std::min<int64_t>((n + threads - 1) / threads, 65535);
        grid_stride<Args, Body><<<unsigned(blocks), threads, 0, m_stream>>>(args, n);
        CUDA_CHECK(cudaGetLastError());
    }

    int m_index;
    std::string m_name;
    std::once_flag m_once;
    std::atomic<bool> m_ready{false};
    cudaStream_t m_stream = nullptr;
    std::unique_ptr<cublasContext, CublasDeleter> m_cublas;
    std::mutex m_staging_mutex;
    void* m_staging[2] = {nullptr, nullptr};
    cudaEvent_t m_staged[2] = {nullptr, nullptr};
    std::mutex m_deferred_mutex;
    std::string m_deferred;
    BlockPool m_pool;
};

// Why CUDA is unusable, in a user's words where CUDA's own are misleading: without a
// driver, CUDA says its "driver version is insufficient".
std::string unusable_reason(cudaError_t err) {
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
        void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
        if (!driver) return "no NVIDIA driver (libcuda.so.1 not found)";
        dlclose(driver);
    }
    return cudaGetErrorString(err);
}

} // namespace

// The plugin's entry point (devices.cpp finds it with dlsym): C linkage, no mangling.
// Registers each device by name only: contexts, streams and cuBLAS handles are created on
// a device's first use.
extern "C" void nnscope_register_cuda_devices() {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError();
        register_unavailable_device("cuda:0", unusable_reason(err));
        return;
    }
    if (count == 0) {
        register_unavailable_device("cuda:0", "no CUDA device found");
        return;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp p{};
        err = cudaGetDeviceProperties(&p, i);
        if (err != cudaSuccess) {
            cudaGetLastError();
            register_unavailable_device("cuda:" + std::to_string(i), cudaGetErrorString(err));
            continue;
        }
        register_backend(
            std::make_shared<CudaBackend>(i, "cuda:" + std::to_string(i) + " (" + p.name + ")"));
    }
}

} // namespace nnscope::gpu
