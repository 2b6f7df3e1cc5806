// loaded_model.h: what a reader returns: the module tree it built from a file, how sure it is
// of what each tensor is, and what else the file said. The workspace's Document (workspace/
// document.h) is a LoadedModel with where it came from; readers know nothing of it.
//
// A spec or a file written by nnscope declares which tensors are parameters and buffers and
// the module types; a bare state dict (safetensors from elsewhere) does not, so kinds are
// inferred from PyTorch's naming conventions and module types are unknown.
#pragma once

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

struct LoadedModel {
    std::string format; // "spec", "safetensors", "safetensors-index", "pt-index", "pt",
                        // "pt-checkpoint", "torchscript"
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
    // not_runnable_modules() (workspace/model_facts.h) for every model.
    std::vector<NotRunnable> not_runnable;
};

} // namespace nnscope
