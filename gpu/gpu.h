// gpu.h: the GPU part's one public header. register_devices() adds the simulated device
// and, when built with CUDA, every usable CUDA device to the core's device registry (or
// records why CUDA is unusable). No CUDA header is reachable from here.
#pragma once

#include <memory>

#include "backend.h"

namespace nnscope::gpu {

// Call once at start-up, before any tensor is moved.
void register_devices();
// True when this build includes the CUDA backend.
bool cuda_compiled();

std::shared_ptr<Backend> make_sim_backend(int index);

// Test hook: the n-th allocation on a simulated device from now on (1: the next) fails as
// out of memory, as a GPU would when full; 0 turns it off.
void sim_fail_allocation(int n);

} // namespace nnscope::gpu
