// model_lock.h: the one lock between the step worker and the UI, with hand-off.
//
// The worker holds the mutex for a slice of steps and would take it straight back; a
// plain mutex is not fair, so a waiting UI could starve. The UI announces itself in
// `ui_waiting` before locking, and the worker, between slices, waits until no UI thread
// is waiting. Recursive, because one UI action may call another that also locks.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace nnscope::ui {

struct ModelLock {
    std::recursive_mutex mutex;
    std::atomic<int> ui_waiting{0};

    // Worker side, between slices.
    void yield_to_ui() {
        while (ui_waiting.load() > 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
};

// UI side: announces the wait, then locks.
class UiLock {
  public:
    explicit UiLock(ModelLock& l) : m_lock(l) {
        ++m_lock.ui_waiting;
        m_lock.mutex.lock();
        --m_lock.ui_waiting;
    }
    ~UiLock() { m_lock.mutex.unlock(); }
    UiLock(const UiLock&) = delete;
    UiLock& operator=(const UiLock&) = delete;

  private:
    ModelLock& m_lock;
};

} // namespace nnscope::ui
