// torchscript.h: TorchScript archives (torch.jit.save of a scripted or traced module), read
// without running anything.
//
// The archive is a zip like torch.save's (torch_archive.h) plus code/: data.pkl holds the
// module object graph (each module an object of a __torch__ class with its attributes),
// code/__torch__/**.py the classes' declarations and methods. The tree comes from both:
// a class's __parameters__ and __buffers__ lists say which tensor attributes are
// parameters and buffers, any other tensor attribute is a plain attribute, submodules are
// the attributes holding module objects, in the class's attribute order (PyTorch's
// state_dict() order for the loaded module). Type names are the classes' own names, without
// the ___torch_mangle_N namespaces (what PyTorch's original_name gives).
#pragma once

#include <string>

#include "loaded_model.h"
#include "module.h"

namespace nnscope::torchzip {
class ZipReader;
}

namespace nnscope::torchscript {

// Does the archive hold TorchScript code (a code/ folder beside data.pkl)?
bool is_torchscript(const torchzip::ZipReader& zip);

// Throws FormatError naming the file, and the archive's code file where one is at fault.
LoadedModel open_torchscript(const std::string& path);

// Writes `root` (opened from a TorchScript archive) as a TorchScript archive at `out`: the
// source archive's code and records, with every tensor's storage bytes replaced by the
// tensor's current values, so torch.jit.load reads the model as it is now. Refuses (one
// FormatError) a tensor whose shape or dtype no longer matches the archive's record.
// Atomic: a failure leaves any previous file at `out` intact.
void save_torchscript(Module& root, const std::string& out);

} // namespace nnscope::torchscript
