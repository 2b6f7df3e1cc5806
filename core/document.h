// document.h: an opened model: its module tree, where it came from, and how sure we are of
// what each tensor is.
//
// Both the window and nnscope-cli open files through open_document(), so they always
// agree. A spec or a file written by nnscope declares which tensors are parameters and
// buffers and the module types; a bare state dict (safetensors from elsewhere) does not,
// so kinds are inferred from PyTorch's naming conventions and module types are unknown.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "module.h"

namespace nnscope {

enum class KindSource { Declared, Inferred };

// A module that cannot run, and why, in words that say how to get a runnable file.
struct NotRunnable {
    std::string module; // dotted name, "" for the root
    std::string type;   // the class as the file names it ("torch.nn.modules.linear.Linear")
    std::string reason;
};
// One line for the first of them: "layer1.0 (torchvision.models.resnet.BasicBlock): no
// forward code: ...; and 9 more modules (nnscope-cli inspect lists each)".
std::string not_runnable_summary(const std::vector<NotRunnable>& modules);

struct Document {
    std::string path;   // file, or "example:NAME"
    std::string format; // "spec", "safetensors", "safetensors-index", "pt", "pt-checkpoint",
                        // "torchscript"
    ModulePtr root;
    KindSource kind_source = KindSource::Declared;
    std::string title, lesson;
    std::vector<std::pair<std::string, std::string>> metadata; // safetensors __metadata__
    // .pt checkpoint dicts: every entry with what it holds, and the one opened.
    std::vector<std::pair<std::string, std::string>> checkpoint_entries;
    std::string entry;
    std::string note; // one line about how the file was read (entry chosen, classes not runnable)
    // The model spec (JSON) the model was built from: specs and examples, and safetensors
    // files nnscope saved from them. Saved with the state dict ("nnscope.spec"), so the
    // file reopens as the same runnable model, hyper-parameters, title and lesson included.
    std::string spec;
    // A .pt state dict's `_metadata` ({prefix: {"version": 2, ...}}, JSON): written back
    // when the state dict is saved as .pt (and kept through safetensors as
    // "nnscope.torch_metadata"), so spectral_norm's and the modules' versions survive.
    std::string torch_metadata;
    // What the reader knew of modules that cannot run (whole pickled modules); see
    // not_runnable_modules() (model_facts.h) for every document.
    std::vector<NotRunnable> not_runnable;
};

// Opens a spec (.json), a safetensors file, a sharded index (.safetensors.index.json), a
// PyTorch checkpoint (.pt/.pth; `entry` picks a checkpoint dict's entry) or a TorchScript
// archive: zip archives by their content (code/ beside data.pkl: TorchScript), the rest by
// extension.
// Never executes anything. Throws FormatError.
Document open_document(const std::string& path, const std::string& entry = {});
// A built-in example (see examples.h); throws ValueError for an unknown name.
Document open_example(const std::string& name);

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

// What a save carries beside the tensors (a document's; see save_document_state).
struct SaveExtras {
    std::vector<std::pair<std::string, std::string>> metadata; // safetensors metadata to keep
    std::string spec;                                          // the model spec, if any
    KindSource kind_source = KindSource::Declared; // where the kinds written came from
    std::string torch_metadata;                    // Document::torch_metadata
};

// Writes the module's state dict to `path`, format by extension (.safetensors, or
// .pt/.pth as torch.save writes a state dict). Safetensors get nnscope's kinds, with where
// they came from ("nnscope.kind_source": inferred kinds stay inferred when reopened), and
// module types in the metadata so a round trip restores the tree, and the model's spec
// so it restores a runnable model; .pt files get `_metadata` as torch.save writes it, the
// source's entries kept. Atomic: a failure leaves any previous file intact. Throws
// FormatError.
void save_state_dict(const Module& root, const std::string& path, const SaveExtras& extras = {});
// save_state_dict with the document's own metadata, spec, kind source and _metadata.
void save_document_state(const Document& doc, const std::string& path);

} // namespace nnscope
