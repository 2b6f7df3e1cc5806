// block_pool.h: a device's caching allocator, shared by the CUDA backend and sim:0.
//
// Freed blocks are kept by size class and handed out again, as PyTorch's CUDA caching
// allocator does: a model stepping in a loop asks the device for memory only while it warms
// up, and never frees (cudaFree synchronises the whole device). Classes are 512-byte steps
// up to 1 MiB, then quarter steps of each power of two, so a block wastes at most a quarter.
// When the device has no memory left, every cached block is returned and the request tried
// once more. Statistics (in use, reserved, peak, device allocations, cache hits) feed
// `nnscope-cli devices` and the window's status bar. Thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend.h"

namespace nnscope::gpu {

class BlockPool {
  public:
    // `device_alloc` returns nullptr when the device is out of memory (and throws on any
    // other failure); `device_free(block, size)` never throws. `host_memory`: the blocks are host
    // memory (sim:0), so AddressSanitizer is told that cached blocks must not be touched.
    BlockPool(std::function<void*(size_t)> device_alloc,
              std::function<void(void*, size_t)> device_free, bool host_memory)
        : m_alloc(std::move(device_alloc)), m_free(std::move(device_free)),
          m_host_memory(host_memory) {}
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    static size_t size_class(size_t nbytes);

    // A block of at least nbytes, or nullptr when the device has none even with the cache
    // returned to it.
    void* allocate(size_t nbytes);
    void deallocate(void* ptr, size_t nbytes) noexcept;
    // Returns every cached block to the device; the bytes returned.
    size_t release_cached() noexcept;
    MemoryStats stats() const;

  private:
    size_t release_cached_locked() noexcept;

    std::function<void*(size_t)> m_alloc;
    std::function<void(void*, size_t)> m_free;
    bool m_host_memory;
    mutable std::mutex m_mutex;
    std::unordered_map<size_t, std::vector<void*>> m_cached; // by size class
    MemoryStats m_stats;
};

} // namespace nnscope::gpu
