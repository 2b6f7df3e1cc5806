// block_cache.h: freed CPU blocks kept for reuse by exact size, so a model stepping in a
// loop allocates nothing once warm (glibc would mmap and unmap every block over 128 KiB,
// and the kernel would zero its pages again each step).
//
// Bounded: blocks over 64 MiB are never kept, and at most 256 MiB wait in all. Off under
// AddressSanitizer, so it still sees every use after free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <unordered_map>
#include <vector>

namespace nnscope {

class BlockCache {
  public:
    static constexpr size_t k_max_block = size_t(64) << 20;
    static constexpr size_t k_max_cached = size_t(256) << 20;

    ~BlockCache() { clear(); }

    // A free block of exactly `size` bytes, or nullptr.
    void* take(size_t size) {
        if (!k_enabled) return nullptr;
        Lock lock(m_busy);
        auto it = m_free.find(size);
        if (it == m_free.end() || it->second.empty()) return nullptr;
        void* p = it->second.back();
        it->second.pop_back();
        m_cached -= size;
        return p;
    }
    // Keeps the block if there is room; false means the caller frees it.
    bool give(void* p, size_t size) {
        if (!k_enabled || size > k_max_block) return false;
        Lock lock(m_busy);
        if (m_cached + size > k_max_cached) return false;
        m_free[size].push_back(p);
        m_cached += size;
        return true;
    }
    void clear() {
        Lock lock(m_busy);
        for (auto& [size, blocks] : m_free)
            for (void* p : blocks) std::free(p);
        m_free.clear();
        m_cached = 0;
    }

  private:
#if defined(__SANITIZE_ADDRESS__)
    static constexpr bool k_enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    static constexpr bool k_enabled = false;
#else
    static constexpr bool k_enabled = true;
#endif
#else
    static constexpr bool k_enabled = true;
#endif
    // A spin lock: held for a hash lookup only, and almost never contended (the window's
    // worker and UI threads), where a mutex costs a measurable share of a small step.
    struct Lock {
        std::atomic_flag& f;
        explicit Lock(std::atomic_flag& flag) : f(flag) {
            while (f.test_and_set(std::memory_order_acquire))
                f.wait(true, std::memory_order_relaxed);
        }
        ~Lock() {
            f.clear(std::memory_order_release);
            f.notify_one();
        }
    };
    std::atomic_flag m_busy;
    std::unordered_map<size_t, std::vector<void*>> m_free;
    size_t m_cached = 0;
};

} // namespace nnscope
