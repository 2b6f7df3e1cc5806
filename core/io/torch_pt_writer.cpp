// torch_pt_writer.cpp: state dicts written as torch.save writes them (see torch_pt.h):
// data.pkl through pickle_writer.h, one storage per tensor, version and byteorder records.
#include <cctype>
#include <filesystem>

#include "pickle_writer.h"
#include "torch_archive.h"
#include "torch_pt.h"
#include "torch_zip.h"

namespace nnscope::torchpt {

namespace fs = std::filesystem;

void save_pt(const Module& root, const std::string& path) {
    StateDict sd = root.state_dict();
    std::vector<Tensor> storages; // contiguous host copies, alive while writing
    pickle::PickleWriter w;
    w.proto();
    w.ordered_dict();
    w.op(pickle::MARK);
    int64_t key = 0;
    for (const auto& [name, t] : sd.tensors) {
        Tensor h = t.to(Device::cpu()).contiguous();
        if (h.storage_offset() != 0 ||
            size_t(h.numel()) * h.element_size() != h.impl()->storage->nbytes)
            h = h.clone();
        storages.push_back(h);
        w.str(name);
        w.global("torch._utils", "_rebuild_tensor_v2");
        w.op(pickle::MARK);
        w.op(pickle::MARK);
        w.str("storage");
        w.global("torch", storage_name(h.dtype()));
        w.str(std::to_string(key++));
        w.str("cpu");
        w.integer(h.numel());
        w.op(pickle::TUPLE);
        w.op(pickle::BINPERSID);
        w.integer(0);
        w.int_tuple(h.shape());
        w.int_tuple(h.strides());
        w.op(pickle::NEWFALSE); // requires_grad=False
        w.ordered_dict(); // backward hooks
        w.op(pickle::TUPLE);
        w.op(pickle::REDUCE);
    }
    w.op(pickle::SETITEMS);
    // state_dict._metadata: {prefix: {"version": v}}, set through BUILD on the OrderedDict.
    w.op(pickle::EMPTY_DICT);
    w.str("_metadata");
    w.ordered_dict();
    w.op(pickle::MARK);
    for (const auto& [prefix, version] : sd.versions) {
        w.str(prefix);
        w.op(pickle::EMPTY_DICT);
        w.str("version");
        w.integer(version);
        w.op(pickle::SETITEM);
    }
    w.op(pickle::SETITEMS);
    w.op(pickle::SETITEM);
    w.op(pickle::BUILD);
    w.op(pickle::STOP);

    // The archive's top folder: the file's stem, as torch.save names it.
    std::string stem = fs::path(path).stem().string(), archive;
    for (char c : stem)
        archive += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    if (archive.empty()) archive = "archive";
    static const std::string version = "3\n", byteorder = "little";
    std::vector<torchzip::WriteEntry> entries;
    entries.push_back({archive + "/data.pkl", w.out.data(), w.out.size()});
    entries.push_back({archive + "/byteorder", byteorder.data(), byteorder.size()});
    for (size_t i = 0; i < storages.size(); ++i)
        entries.push_back({archive + "/data/" + std::to_string(i),
                           storages[i].numel() ? storages[i].data_ptr() : "",
                           storages[i].nbytes()});
    entries.push_back({archive + "/version", version.data(), version.size()});
    torchzip::write_archive(path, entries);
}

} // namespace nnscope::torchpt
