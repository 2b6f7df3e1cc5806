// document.cpp: a file or a built-in example opened as a Document, and its state saved.
#include "document.h"

#include "errors.h"
#include "examples.h"

namespace nnscope {

Document open_document(const std::string& path, const std::string& entry) {
    return Document{open_model_file(path, entry), path};
}

Document open_example(const std::string& name) {
    for (const auto& ex : builtin_examples())
        if (ex.name == name)
            return Document{model_from_spec_text(ex.json, "example:" + name), "example:" + name};
    std::string known;
    for (const auto& ex : builtin_examples()) known += (known.empty() ? "" : ", ") + ex.name;
    throw ValueError("unknown example '" + name + "' (known: " + known + ")");
}

void save_document_state(const Document& doc, const std::string& path) {
    save_state_dict(*doc.root, path, {doc.metadata, doc.spec, doc.kind_source, doc.torch_metadata});
}

} // namespace nnscope
