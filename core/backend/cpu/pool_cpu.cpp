// pool_cpu.cpp: max pooling on the host. Planes in parallel; within a row of outputs, the
// outputs whose windows are whole and evenly spaced (all but the padded borders) take one
// tap at a time across the row, so the comparisons of neighbouring outputs are independent
// and vectorise (a branch per tap, as in ATen's loop, is mispredicted often on random
// values). The rest go one output at a time. Measured on ResNet-18's first pooling
// (8x64x56x56, 3x3, stride 2), 2 threads, in a scripted model of the pooling alone: 5.9 ms
// before, 1.85 ms after (tests/benchmarks/NOTES.md, entry 15).
#include "pool_cpu.h"

#include <algorithm>
#include <limits>
#include <type_traits>

namespace nnscope::pool_cpu {

namespace {

// The outputs [lo, hi) of a row whose windows have `taps` columns at first = base + j * stride.
struct EvenSpan {
    int64_t lo = 0, hi = 0, base = 0, stride = 1, taps = 0, step = 1;
};

EvenSpan even_span(const std::vector<PoolTaps>& cols) {
    EvenSpan e;
    const int64_t n = int64_t(cols.size());
    for (const PoolTaps& c : cols) e.taps = std::max(e.taps, c.count);
    while (e.lo < n && cols[size_t(e.lo)].count < e.taps) ++e.lo;
    e.hi = n;
    while (e.hi > e.lo && cols[size_t(e.hi - 1)].count < e.taps) --e.hi;
    if (e.hi - e.lo < 2) return {};
    e.stride = cols[size_t(e.lo + 1)].first - cols[size_t(e.lo)].first;
    e.base = cols[size_t(e.lo)].first - e.lo * e.stride;
    e.step = cols[size_t(e.lo)].step;
    for (int64_t j = e.lo; j < e.hi; ++j)
        if (cols[size_t(j)].count != e.taps || cols[size_t(j)].first != e.base + j * e.stride ||
            cols[size_t(j)].step != e.step)
            return {};
    return e;
}

// One output: its window scanned in order.
template <class T>
inline void one_window(const T* plane, int64_t w, const PoolTaps& r, const PoolTaps& c, T* value,
                       int64_t* index) {
    int64_t best = r.count && c.count ? r.first * w + c.first : 0;
    T best_v = -std::numeric_limits<T>::infinity();
    for (int64_t a = 0; a < r.count; ++a) {
        const int64_t row = (r.first + a * r.step) * w + c.first;
        for (int64_t b = 0; b < c.count; ++b) {
            const int64_t at = row + b * c.step;
            const bool take = pool_beats(plane[at], best_v);
            best_v = take ? plane[at] : best_v;
            best = take ? at : best;
        }
    }
    *value = best_v;
    if (index) *index = best;
}

// The even outputs of one row, tap by tap; `tap` keeps each output's winning tap number.
template <class T, class Stride>
inline void even_row(const T* plane, int64_t w, const PoolTaps& r, const EvenSpan& e, Stride stride,
                     T* values, int32_t* tap) {
    for (int64_t a = 0; a < r.count; ++a) {
        const T* in = plane + (r.first + a * r.step) * w + e.base;
        for (int64_t b = 0; b < e.taps; ++b, in += e.step) {
            const int32_t t = int32_t(a * e.taps + b);
            if (tap)
                for (int64_t j = e.lo; j < e.hi; ++j) {
                    const T v = in[j * stride], cur = values[j];
                    const bool take = pool_beats(v, cur);
                    values[j] = take ? v : cur;
                    tap[j] = take ? t : tap[j];
                }
            else
                for (int64_t j = e.lo; j < e.hi; ++j) {
                    const T v = in[j * stride], cur = values[j];
                    values[j] = pool_beats(v, cur) ? v : cur;
                }
        }
    }
}

template <class T>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void window_max_impl(const T* x, int64_t planes, int64_t h, int64_t w, const std::vector<PoolTaps>& rows,
                     const std::vector<PoolTaps>& cols, T* values, int64_t* index) {
    const int64_t oh = int64_t(rows.size()), ow = int64_t(cols.size());
    const EvenSpan e = even_span(cols);
#pragma omp parallel if (planes * oh * ow > (1 << 15))
    {
        std::vector<int32_t> taps(index ? size_t(ow) : 0);
        int32_t* tap = index ? taps.data() : nullptr;
        std::vector<int64_t> tap_at;
#pragma omp for
        for (int64_t p = 0; p < planes; ++p) {
            const T* plane = x + p * h * w;
            for (int64_t i = 0; i < oh; ++i) {
                const PoolTaps& r = rows[size_t(i)];
                T* v = values + (p * oh + i) * ow;
                int64_t* at = index ? index + (p * oh + i) * ow : nullptr;
                for (int64_t j = 0; j < ow; ++j)
                    if (j < e.lo || j >= e.hi)
                        one_window(plane, w, r, cols[size_t(j)], v + j, at ? at + j : nullptr);
                if (e.hi <= e.lo) continue;
                std::fill(v + e.lo, v + e.hi, -std::numeric_limits<T>::infinity());
                if (tap) std::fill(tap + e.lo, tap + e.hi, 0);
                if (e.stride == 1)
                    even_row(plane, w, r, e, std::integral_constant<int64_t, 1>{}, v, tap);
                else if (e.stride == 2)
                    even_row(plane, w, r, e, std::integral_constant<int64_t, 2>{}, v, tap);
                else
                    even_row(plane, w, r, e, e.stride, v, tap);
                if (!at) continue;
                if (!r.count) {
                    std::fill(at + e.lo, at + e.hi, 0);
                    continue;
                }
                // Tap number to position (no division per output).
                tap_at.resize(size_t(r.count * e.taps));
                for (int64_t a = 0; a < r.count; ++a)
                    for (int64_t b = 0; b < e.taps; ++b)
                        tap_at[size_t(a * e.taps + b)] =
                            (r.first + a * r.step) * w + e.base + b * e.step;
                for (int64_t j = e.lo; j < e.hi; ++j) at[j] = tap_at[size_t(tap[j])] + j * e.stride;
            }
        }
    }
}

template <class T>
void scatter_impl(const T* g, const int64_t* index, int64_t planes, int64_t per_plane, int64_t hw,
                  T* gx) {
#pragma omp parallel for if (planes * per_plane > (1 << 15))
    for (int64_t p = 0; p < planes; ++p) {
        T* out = gx + p * hw;
        for (int64_t k = p * per_plane; k < (p + 1) * per_plane; ++k) out[index[k]] += g[k];
    }
}

} // namespace

void window_max(const float* x, int64_t planes, int64_t h, int64_t w,
                const std::vector<PoolTaps>& rows, const std::vector<PoolTaps>& cols, float* values,
                int64_t* index) {
    window_max_impl(x, planes, h, w, rows, cols, values, index);
}
void window_max(const double* x, int64_t planes, int64_t h, int64_t w,
                const std::vector<PoolTaps>& rows, const std::vector<PoolTaps>& cols,
                double* values, int64_t* index) {
    window_max_impl(x, planes, h, w, rows, cols, values, index);
}
void scatter_grads(const float* g, const int64_t* index, int64_t planes, int64_t per_plane,
                   int64_t hw, float* gx) {
    scatter_impl(g, index, planes, per_plane, hw, gx);
}
void scatter_grads(const double* g, const int64_t* index, int64_t planes, int64_t per_plane,
                   int64_t hw, double* gx) {
    scatter_impl(g, index, planes, per_plane, hw, gx);
}

} // namespace nnscope::pool_cpu
