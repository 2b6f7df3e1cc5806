// torch_pt.h: PyTorch checkpoint files (torch.save, zip format), read without executing
// anything and written so that torch.load(path, weights_only=True) reads them back.
//
// Reading: the zip (torch_zip.h), data.pkl through the inert pickle VM (pickle.h), then
// the known globals interpreted here: _rebuild_tensor_v2 over the archive's storages
// (views of one storage stay views), _rebuild_parameter, OrderedDict, set. What a file
// holds decides the LoadedModel: a state dict (kinds inferred from names), a checkpoint dict
// (one entry chosen), or a whole pickled nn.Module, whose exact tree is rebuilt with
// declared kinds; torch.nn classes nnscope implements become runnable modules.
#pragma once

#include <string>

#include "loaded_model.h"
#include "module.h"

namespace nnscope::torchpt {

// Throws FormatError naming the file and what is wrong. `entry` picks a checkpoint entry.
LoadedModel open_pt(const std::string& path, const std::string& entry = {});

// A state dict as PyTorch writes it: OrderedDict with _metadata (each module's version;
// `source_metadata`, a read file's _metadata as JSON, adds its other entries and its
// versions), protocol 2, one storage per tensor, little-endian, with version and byteorder
// entries. Atomic.
void save_pt(const Module& root, const std::string& path, const std::string& source_metadata = {});

} // namespace nnscope::torchpt
