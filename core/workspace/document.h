// document.h: an opened model as the window and nnscope-cli hold it: what the file's reader
// returned (io/loaded_model.h: the module tree, how sure we are of what each tensor is, what
// else the file said) and where it came from.
//
// Both the window and nnscope-cli open files through open_document(), so they always
// agree; the format is decided once, in io/model_file.h.
#pragma once

#include <string>

#include "loaded_model.h"
#include "model_file.h"

namespace nnscope {

struct Document : LoadedModel {
    std::string path; // file, or "example:NAME"
};

// Opens any model file nnscope reads (see open_model_file); `entry` picks a checkpoint
// dict's entry. Never executes anything. Throws FormatError.
Document open_document(const std::string& path, const std::string& entry = {});
// A built-in example (see examples.h); throws ValueError for an unknown name.
Document open_example(const std::string& name);

// save_state_dict with the document's own metadata, spec, kind source and _metadata.
void save_document_state(const Document& doc, const std::string& path);

} // namespace nnscope
