// cpu_threads.h: how the CPU kernels split work over the cores (OpenMP), and the
// attribute that compiles a hot loop for AVX2 and baseline x86-64. Shared by the CPU backend
// (backend/cpu) and the fused float32 kernels (nn/fused_*.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nnscope::cpu {

// Work (elements touched) below which one thread does it all: a parallel region costs a
// few microseconds, a 32x16 BatchNorm far less.
constexpr int64_t k_parallel_work = 1 << 15;

// Threads to split `rows` rows over, for `work` elements in all.
inline int plan_threads(int64_t rows, int64_t work) {
#ifdef _OPENMP
    if (work < k_parallel_work || rows < 2) return 1;
    return int(std::min<int64_t>(omp_get_max_threads(), rows));
#else
    (void)rows, (void)work;
    return 1;
#endif
}

// body(begin, end, t) over [0, rows) in `threads` contiguous chunks, chunk t on thread t.
template <class F> void for_chunks(int64_t rows, int threads, F&& body) {
    if (threads <= 1) {
        body(int64_t(0), rows, 0);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        body(rows * t / nt, rows * (t + 1) / nt, t);
    }
#endif
}

// The hot loops, compiled twice (AVX2 and baseline x86-64) and picked when loaded.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNSCOPE_HOT __attribute__((target_clones("avx2", "default")))
#else
#define NNSCOPE_HOT
#endif

} // namespace nnscope::cpu
