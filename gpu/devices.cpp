// devices.cpp: registers sim:0 and the CUDA devices (cuda_backend.cu) at start-up.
#include <mutex>

#include "device.h"
#include "gpu.h"

namespace nnscope::gpu {

#ifdef NNSCOPE_HAVE_CUDA
void register_cuda_devices(); // cuda_backend.cu: backends, or the reason CUDA is unusable
#endif

bool cuda_compiled() {
#ifdef NNSCOPE_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

void register_devices() {
    static std::once_flag once;
    std::call_once(once, [] {
#ifdef NNSCOPE_HAVE_CUDA
        register_cuda_devices();
#else
        register_unavailable_device("cuda:0", "nnscope was built without CUDA support");
#endif
        register_backend(make_sim_backend(0));
    });
}

} // namespace nnscope::gpu
