// torch_pt_writer.cpp: state dicts written as torch.save writes them (see torch_pt.h):
// data.pkl through pickle_writer.h, one storage per tensor, version and byteorder records.
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "pickle_writer.h"
#include "torch_archive.h"
#include "torch_pt.h"
#include "torch_zip.h"

namespace nnscope::torchpt {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

// A module's `_version` as PyTorch writes it: the native layer's, and 2 for a module of
// unknown class that is a BatchNorm or InstanceNorm by its type name or its buffers
// (_NormBase._version = 2), 1 otherwise.
int pytorch_version(const Module& m) {
    const int v = m.version();
    if (v != 1) return v;
    const std::string& t = m.type_name();
    const bool norm_type =
        t.find("BatchNorm") != std::string::npos || t.find("InstanceNorm") != std::string::npos;
    const bool stats =
        m.own_buffers().contains("running_mean") && m.own_buffers().contains("running_var");
    return norm_type || (t.empty() && stats) ? 2 : 1;
}

// Plain data (a _metadata entry's values) as pickle: ints, floats, strings, bools, None,
// dicts and lists.
void write_plain(pickle::PickleWriter& w, const json& j, int depth = 0) {
    if (depth > 16 || j.is_null()) return w.op(pickle::NONE);
    if (j.is_boolean()) return w.op(j.get<bool>() ? pickle::NEWTRUE : pickle::NEWFALSE);
    if (j.is_number_integer()) return w.integer(j.get<int64_t>());
    if (j.is_number_float()) {
        w.op(pickle::BINFLOAT);
        const double d = j.get<double>();
        uint64_t u;
        std::memcpy(&u, &d, 8);
        for (int i = 7; i >= 0; --i) w.out.push_back(char((u >> (8 * i)) & 0xff)); // big-endian
        return;
    }
    if (j.is_string()) return w.str(j.get<std::string>());
    if (j.is_array()) {
        w.op(pickle::EMPTY_LIST);
        if (j.empty()) return;
        w.op(pickle::MARK);
        for (const auto& x : j) write_plain(w, x, depth + 1);
        return w.op(pickle::APPENDS);
    }
    w.op(pickle::EMPTY_DICT);
    if (j.empty()) return;
    w.op(pickle::MARK);
    for (const auto& [k, x] : j.items()) {
        w.str(k);
        write_plain(w, x, depth + 1);
    }
    w.op(pickle::SETITEMS);
}

} // namespace

void save_pt(const Module& root, const std::string& path, const std::string& source_metadata) {
    StateDict sd = root.state_dict();
    std::vector<Tensor> storages; // contiguous host copies, alive while writing
    pickle::PickleWriter w;
    w.proto();
    w.ordered_dict();
    w.op(pickle::MARK);
    int64_t key = 0;
    std::set<std::string> parameters;
    for (const auto& e : const_cast<Module&>(root).tensor_entries())
        if (e.kind == TensorKind::Parameter) parameters.insert(e.name);
    for (const auto& [name, t] : sd.tensors) {
        if (t.is_uninitialized()) { // as torch.save writes a lazy module's: the class and
                                    // requires_grad
            w.str(name);
            w.global("torch.nn.parameter",
                     parameters.count(name) ? "UninitializedParameter" : "UninitializedBuffer");
            w.op(pickle::MARK);
            w.op(t.requires_grad() ? pickle::NEWTRUE : pickle::NEWFALSE);
            w.op(pickle::TUPLE);
            w.op(pickle::REDUCE);
            continue;
        }
        Tensor h = t.to(Device::cpu()).contiguous();
        if (h.storage_offset() != 0 ||
            size_t(h.numel()) * h.element_size() != h.impl()->storage->nbytes)
            h = h.clone();
        storages.push_back(h);
        // A dtype with no typed storage class (float8, uint16/32/64): as PyTorch 2.x writes
        // it, _rebuild_tensor_v3 over an UntypedStorage of bytes, the dtype given last.
        const bool untyped = dtype_is_storage_only(h.dtype()) && !dtype_is_complex(h.dtype());
        w.str(name);
        w.global("torch._utils", untyped ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
        w.op(pickle::MARK);
        w.op(pickle::MARK);
        w.str("storage");
        if (untyped)
            w.global("torch.storage", "UntypedStorage");
        else
            w.global("torch", storage_name(h.dtype()));
        w.str(std::to_string(key++));
        w.str("cpu");
        w.integer(untyped ? int64_t(h.nbytes()) : h.numel());
        w.op(pickle::TUPLE);
        w.op(pickle::BINPERSID);
        w.integer(0);
        w.int_tuple(h.shape());
        w.int_tuple(h.strides());
        w.op(pickle::NEWFALSE); // requires_grad=False
        w.ordered_dict();       // backward hooks
        if (untyped) w.global("torch", std::string(dtype_name(h.dtype())).c_str());
        w.op(pickle::TUPLE);
        w.op(pickle::REDUCE);
    }
    w.op(pickle::SETITEMS);
    // state_dict._metadata: {prefix: {"version": v}}, set through BUILD on the OrderedDict.
    w.op(pickle::EMPTY_DICT);
    w.str("_metadata");
    w.ordered_dict();
    w.op(pickle::MARK);
    // Each module's version, and what else the source file's _metadata said of it
    // (spectral_norm's {"weight.version": 1}); the source's version wins for modules
    // nnscope knows only by name.
    json source = json::object();
    if (!source_metadata.empty()) {
        source = json::parse(source_metadata, nullptr, false);
        if (!source.is_object()) source = json::object();
    }
    std::map<std::string, const Module*> modules;
    for (const auto& [name, m] : const_cast<Module&>(root).named_modules()) modules[name] = m.get();
    for (const auto& [prefix, version] : sd.versions) {
        json entry = json::object();
        auto it = modules.find(prefix);
        entry["version"] = it != modules.end() ? pytorch_version(*it->second) : version;
        if (source.contains(prefix) && source[prefix].is_object())
            for (const auto& [k, x] : source[prefix].items()) entry[k] = x;
        w.str(prefix);
        write_plain(w, entry);
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
