// model_spec.h: JSON model specs -> module trees.
//
//   {"type": "Sequential", "children": [{"type": "Linear", "in_features": 6, "out_features": 16},
//                                       {"type": "BatchNorm1d", "num_features": 16}]}
//
// Types and hyper-parameters use PyTorch's names and defaults. A "Module" entry declares
// its own "parameters", "buffers" (with "persistent") and "attributes", each
// {"shape", "dtype", "init"}, and named "children". The top level may also carry
// "title", "lesson" and "seed" (the initialisation seed). Every error names the file and
// the place in it ("children[1] (BatchNorm1d): ...").
#pragma once

#include <optional>
#include <string>

#include "module.h"

namespace nnscope {

struct ModelSpec {
    ModulePtr root;
    std::string title;
    std::string lesson;
    uint64_t seed = 0;
};

// Bytes allocated while building one spec's model (initialisation temporaries included):
// 16 GiB unless the caller says less.
inline constexpr uint64_t k_max_spec_tensor_bytes = uint64_t(16) << 30;

// Parses JSON text; `path` is only used in messages. `seed` overrides the spec's own
// initialisation seed. Throws FormatError, also when the model's tensors would take more
// than `max_tensor_bytes` together.
ModelSpec parse_model_spec(const std::string& json_text, const std::string& path,
                           std::optional<uint64_t> seed = std::nullopt,
                           uint64_t max_tensor_bytes = k_max_spec_tensor_bytes);
ModelSpec load_model_spec(const std::string& path, std::optional<uint64_t> seed = std::nullopt);

// The type names a spec may use, for `nnscope-cli examples` and error messages.
std::vector<std::string> spec_module_types();

} // namespace nnscope
