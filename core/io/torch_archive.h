// torch_archive.h: the zip archives PyTorch writes (torch.save since 1.6, and torch.jit.save),
// read as inert values: data.pkl through the pickle VM (pickle.h), storages from data/N,
// and the tensor records (_rebuild_tensor_v2, _rebuild_parameter, ...) rebuilt as views of
// those storages. torch.save's legacy format (torch_legacy.h) opens through the same class:
// its main pickle is the root and its storages follow the pickles. Shared by the torch.save reader
// (torch_pt.cpp) and the TorchScript reader (torchscript.cpp); what the records mean as a model is
// theirs to decide.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "errors.h"
#include "module.h"
#include "pickle.h"
#include "tensor.h"
#include "torch_zip.h"

namespace nnscope::torchpt {

using pickle::Kind;
using pickle::ValuePtr;

// --- storage types ----------------------------------------------------------------------------

struct StorageType {
    const char* name;
    DType dtype;
};
constexpr StorageType k_storage_types[] = {
    {"FloatStorage", DType::Float32},
    {"DoubleStorage", DType::Float64},
    {"HalfStorage", DType::Float16},
    {"BFloat16Storage", DType::BFloat16},
    {"LongStorage", DType::Int64},
    {"IntStorage", DType::Int32},
    {"ShortStorage", DType::Int16},
    {"CharStorage", DType::Int8},
    {"ByteStorage", DType::UInt8},
    {"BoolStorage", DType::Bool},
    {"ComplexFloatStorage", DType::Complex64},
    {"ComplexDoubleStorage", DType::Complex128},
    {"UntypedStorage", DType::UInt8},
};

inline const char* storage_name(DType d) {
    for (const auto& s : k_storage_types)
        if (s.dtype == d && std::strcmp(s.name, "UntypedStorage") != 0) return s.name;
    return "ByteStorage";
}

// Items of a dict or an OrderedDict object (REDUCE'd, then SETITEMS).
inline const std::vector<std::pair<ValuePtr, ValuePtr>>* dict_items(const ValuePtr& v) {
    if (!v) return nullptr;
    if (v->is(Kind::Dict)) return &v->dict;
    if (v->is(Kind::Object) && v->module == "collections" && v->name == "OrderedDict")
        return &v->dict;
    return nullptr;
}

inline const ValuePtr* dict_get(const ValuePtr& v, const std::string& key) {
    auto items = dict_items(v);
    if (!items) return nullptr;
    for (const auto& [k, val] : *items)
        if (k && k->is(Kind::String) && k->s == key) return &val;
    return nullptr;
}

inline std::vector<std::string> string_set(const ValuePtr& v) {
    std::vector<std::string> out;
    if (!v) return out;
    const std::vector<ValuePtr>* items = nullptr;
    if (v->is(Kind::Set) || v->is(Kind::List) || v->is(Kind::Tuple))
        items = &v->items;
    else if (v->is(Kind::Object) && (v->name == "set") && v->args && v->args->is(Kind::Tuple) &&
             !v->args->items.empty() && v->args->items[0] && v->args->items[0]->is(Kind::List))
        items = &v->args->items[0]->items;
    if (items)
        for (const auto& x : *items)
            if (x && x->is(Kind::String)) out.push_back(x->s);
    return out;
}

// --- the archive and its tensors --------------------------------------------------------------

class LegacyFile;

class Archive {
  public:
    // Opens the zip, finds its top folder and reads data.pkl (the object graph); or opens a
    // legacy-format file. Anything else is refused with what it is (a damaged zip, the tar
    // format of PyTorch before 0.4, not a PyTorch file).
    explicit Archive(const std::string& path);
    ~Archive();
    Archive(const Archive&) = delete;
    Archive& operator=(const Archive&) = delete;

    const ValuePtr& root() const { return m_root; }
    const std::string& path() const { return m_path; }
    bool is_legacy() const { return m_legacy != nullptr; }
    // The zip (TorchScript reads its code files); not for a legacy file.
    const torchzip::ZipReader& zip() const { return *m_zip; }
    // The archive's top folder with its slash ("archive/", "resnet18/"), or "".
    const std::string& prefix() const { return m_prefix; }

    // Another pickle of the archive (TorchScript's constants.pkl), kept alive with the
    // archive; null when the record is absent.
    ValuePtr load_pickle(const std::string& record);
    // The folder tensors' storages are read from: "data/" (data.pkl), "constants/".
    void set_storage_folder(std::string folder) { m_storage_folder = std::move(folder); }

    // Is `v` a tensor (a call of one of the rebuild functions)?
    static bool is_tensor(const ValuePtr& v);
    // Bytes of every storage entry (data/*): a bound on what the file's tensors can hold.
    uint64_t storage_bytes();
    // The storages read so far, by record name ("data/0", "constants/1"), in host byte order.
    const std::map<std::string, Tensor>& storages() const { return m_storages; }
    bool big_endian() const { return m_big_endian; }
    // Zip entries read into memory rather than mapped from the file (compressed, unaligned
    // or byte-swapped storages).
    size_t storages_read() const { return m_storages_read; }
    // The tensor `v` rebuilds; the same pickle value always gives the same tensor.
    Tensor tensor(const ValuePtr& v, const std::string& where);

  private:
    [[noreturn]] void fail(const std::string& where, const std::string& what) const;
    const std::vector<ValuePtr>& args_of(const ValuePtr& v, size_t min,
                                         const std::string& where) const;
    Shape int_tuple(const ValuePtr& v, const char* what, const std::string& where) const;
    Tensor storage(const ValuePtr& pid_value, const std::string& where);
    Tensor build_tensor(const ValuePtr& v, const std::string& where);

    Tensor legacy_storage(const std::vector<ValuePtr>& pid, DType dtype, const std::string& where);
    Tensor typed_view(const Tensor& bytes, const std::vector<ValuePtr>& args,
                      const std::string& where);

    std::string m_path;
    std::unique_ptr<torchzip::ZipReader> m_zip;
    std::unique_ptr<LegacyFile> m_legacy;
    std::string m_prefix;
    bool m_big_endian = false;
    std::optional<uint64_t> m_storage_bytes;
    ValuePtr m_root;
    std::vector<ValuePtr> m_other_pickles;
    std::string m_storage_folder = "data/";
    std::map<std::string, Tensor> m_storages;
    size_t m_storages_read = 0;
    std::map<const pickle::Value*, Tensor> m_tensors;
    std::set<const pickle::Value*> m_building;
};

// Sets one module's training flag and leaves its children's as they are (what a file
// records per module; Module::train() recurses).
void set_own_training(Module& m, bool mode);

} // namespace nnscope::torchpt
