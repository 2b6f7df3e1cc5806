// devices.cpp: registers sim:0 and the CUDA devices. The CUDA backend is a plugin,
// libnnscope_cuda.so beside the executable, opened here with dlopen: the CUDA runtime and
// cuBLAS (hundreds of MiB of shared libraries) are loaded only by programs that ask for
// devices, never by `nnscope-cli inspect` and the like.
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>

#include "device.h"
#include "gpu.h"

namespace nnscope::gpu {

#ifdef NNSCOPE_HAVE_CUDA
namespace {
// cuda_backend.cu's nnscope_register_cuda_devices(): backends, or why CUDA is unusable.
void register_cuda_devices() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::string plugin = (exe.parent_path() / "libnnscope_cuda.so").string();
    void* handle = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* why = dlerror();
        register_unavailable_device("cuda:0", std::string("cannot load the CUDA backend: ") +
                                                  (why ? why : plugin));
        return;
    }
    auto entry = reinterpret_cast<void (*)()>(dlsym(handle, "nnscope_register_cuda_devices"));
    if (!entry) {
        register_unavailable_device("cuda:0", "the CUDA backend plugin has no entry point");
        return;
    }
    entry(); // the plugin stays loaded: its backends live in the registry
}
} // namespace
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
