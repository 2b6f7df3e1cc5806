// state_dict_tree.h: a module tree from a bare state dict (name -> tensor), for the readers
// of files that hold no module tree: safetensors, torch.save state dicts, sharded indexes.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "module.h"

namespace nnscope {

// A tree from a bare state dict: modules from the dotted prefixes, kinds inferred from the
// names (infer_tensor_kind) or, when given, from `declared_kinds` / `module_types` (what
// nnscope writes into files). Inferred parameters keep the file's requires_grad (PyTorch
// saves detached tensors); declared ones require grad.
ModulePtr
tree_from_state_dict(const std::vector<std::pair<std::string, Tensor>>& entries,
                     const std::vector<std::pair<std::string, std::string>>* declared_kinds,
                     const std::vector<std::pair<std::string, std::string>>* module_types);
// The inference rules alone: "parameter" or "buffer" for `name` in a state dict whose keys
// `has_key` answers for (some rules look at a tensor's siblings). Buffers: running_mean,
// running_var, num_batches_tracked; integer and bool tensors; spectral_norm's NAME_u and
// NAME_v (beside NAME_orig); prune's NAME_mask (beside NAME_orig); a parametrization's own
// tensors (parametrizations.NAME.K.*: spectral_norm's _u/_v, orthogonal's base). Parameters:
// everything else, NAME_orig, weight_norm's NAME_g and NAME_v, and parametrizations.NAME.original*.
const char* infer_tensor_kind(const std::string& name, DType dtype,
                              const std::function<bool(const std::string&)>& has_key);

} // namespace nnscope
