// block_pool.cpp: BlockPool, the caching allocator of the GPU backends (see block_pool.h).
#include "block_pool.h"

#include <algorithm>
#include <bit>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NNSCOPE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(NNSCOPE_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace nnscope::gpu {

size_t BlockPool::size_class(size_t nbytes) {
    constexpr size_t small_step = 512, small_limit = size_t(1) << 20;
    if (nbytes <= small_limit)
        return std::max<size_t>(small_step, (nbytes + small_step - 1) / small_step * small_step);
    const size_t step = std::bit_floor(nbytes) / 4; // quarter of the power of two below
    return (nbytes + step - 1) / step * step;
}

void* BlockPool::allocate(size_t nbytes) {
    const size_t size = size_class(nbytes);
    std::lock_guard lock(m_mutex);
    void* p = nullptr;
    if (auto it = m_cached.find(size); it != m_cached.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        ++m_stats.cache_hits;
        if (m_host_memory) UNPOISON(p, size);
    } else {
        p = m_alloc(size);
        if (!p && release_cached_locked() > 0) p = m_alloc(size);
        if (!p) return nullptr;
        ++m_stats.device_allocations;
        m_stats.reserved += size;
    }
    m_stats.in_use += nbytes;
    m_stats.peak_in_use = std::max(m_stats.peak_in_use, m_stats.in_use);
    return p;
}

void BlockPool::deallocate(void* ptr, size_t nbytes) noexcept {
    if (!ptr) return;
    const size_t size = size_class(nbytes);
    std::lock_guard lock(m_mutex);
    m_stats.in_use -= nbytes;
    try {
        m_cached[size].push_back(ptr);
        if (m_host_memory) POISON(ptr, size); // a use after free is still reported
    } catch (...) { // no memory for the list itself: give the block back instead
        m_free(ptr, size);
        m_stats.reserved -= size;
    }
}

size_t BlockPool::release_cached() noexcept {
    std::lock_guard lock(m_mutex);
    return release_cached_locked();
}

size_t BlockPool::release_cached_locked() noexcept {
    size_t released = 0;
    for (auto& [size, blocks] : m_cached) {
        for (void* p : blocks) {
            if (m_host_memory) UNPOISON(p, size);
            m_free(p, size);
        }
        released += size * blocks.size();
    }
    m_cached.clear();
    m_stats.reserved -= released;
    return released;
}

MemoryStats BlockPool::stats() const {
    std::lock_guard lock(m_mutex);
    return m_stats;
}

} // namespace nnscope::gpu
