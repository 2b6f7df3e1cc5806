// model_file.h: the one way in for files. detect_model_file() decides a file's format, once,
// from its content (zip magic, and code/ in the archive for TorchScript; torch.save's legacy
// magic number; safetensors' header) and, for the JSON formats, its name; open_model_file()
// hands it to that format's reader, which returns a LoadedModel. Never executes anything.
//
// save_state_dict() is the way out: a module's state dict written in the format its path
// names.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loaded_model.h"

namespace nnscope {

enum class ModelFileFormat {
    TorchScript,      // a zip archive with code/ beside data.pkl (torch.jit.save)
    TorchSave,        // a zip archive with data.pkl (torch.save), or the legacy format
    Safetensors,      // an 8-byte header length, then the JSON header
    SafetensorsIndex, // *.index.json: a sharded checkpoint's weight_map
    ModelSpec,        // *.json: nnscope's model spec
};
// Throws FormatError for a folder, an unreadable file, or one of no known format.
ModelFileFormat detect_model_file(const std::string& path);

// Opens a spec (.json), a safetensors file, a sharded index (.safetensors.index.json), a
// PyTorch checkpoint (torch.save's zip or legacy format; `entry` picks a checkpoint dict's
// entry) or a TorchScript archive. Throws FormatError naming the file and what is wrong.
LoadedModel open_model_file(const std::string& path, const std::string& entry = {});
// A model spec's text as a LoadedModel (`where` names it in errors: a path, "example:NAME").
LoadedModel model_from_spec_text(const std::string& text, const std::string& where);

// What a save carries beside the tensors (see save_state_dict).
struct SaveExtras {
    std::vector<std::pair<std::string, std::string>> metadata; // safetensors metadata to keep
    std::string spec;                                          // the model spec, if any
    KindSource kind_source = KindSource::Declared;             // where the kinds written came from
    std::string torch_metadata;                                // LoadedModel::torch_metadata
};

// Writes the module's state dict to `path`, format by extension (.safetensors, or
// .pt/.pth as torch.save writes a state dict). Safetensors get nnscope's kinds, with where
// they came from ("nnscope.kind_source": inferred kinds stay inferred when reopened), and
// module types in the metadata so a round trip restores the tree, and the model's spec
// so it restores a runnable model; .pt files get `_metadata` as torch.save writes it, the
// source's entries kept. Atomic: a failure leaves any previous file intact. Throws
// FormatError.
void save_state_dict(const Module& root, const std::string& path, const SaveExtras& extras = {});

} // namespace nnscope
