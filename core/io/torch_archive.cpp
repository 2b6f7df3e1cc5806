// torch_archive.cpp: the zip archives PyTorch writes, read as inert values (see
// torch_archive.h): storages from data/N, tensor records rebuilt as views of them.
#include "torch_archive.h"

#include "safetensors.h"

#include <cerrno>
#include <cstdio>

#include "torch_legacy.h"

namespace nnscope::torchpt {

namespace {
int64_t as_int(const ValuePtr& v, bool& ok) {
    if (v && v->is(Kind::Int)) return v->i;
    if (v && v->is(Kind::Bool)) return v->b;
    ok = false;
    return 0;
}
} // namespace

Archive::Archive(const std::string& path) : m_path(path) {
    // What the file is, by its first bytes.
    uint8_t head[512] = {};
    size_t got = 0;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        got = std::fread(head, 1, sizeof head, f);
        std::fclose(f);
    } else {
        throw FormatError(path, "cannot open: " + std::string(std::strerror(errno)));
    }
    if (!(got >= 4 && std::memcmp(head, "PK\3\4", 4) == 0)) {
        if (is_legacy_file(head, got)) {
            m_legacy = std::make_unique<LegacyFile>(path);
            m_root = m_legacy->take_root();
            return;
        }
        if (is_tar_file(head, got))
            throw FormatError(
                path, "a tar archive: torch.save's format before PyTorch 0.4, which nnscope "
                      "does not read (load it with PyTorch and torch.save it again)");
        throw FormatError(path,
                          "not a PyTorch file: neither a zip archive (torch.save since 1.6) nor "
                          "torch.save's legacy format");
    }
    m_zip = std::make_unique<torchzip::ZipReader>(path);
    if (m_zip->names().empty()) throw FormatError(path, "empty zip archive: not a torch.save file");
    const std::string& first = m_zip->names()[0];
    auto slash = first.find('/');
    m_prefix = slash == std::string::npos ? "" : first.substr(0, slash + 1);
    if (!m_zip->has(m_prefix + "data.pkl")) {
        for (const auto& n : m_zip->names())
            if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0) {
                m_prefix = n.substr(0, n.size() - 8);
                break;
            }
        if (!m_zip->has(m_prefix + "data.pkl"))
            throw FormatError(path, "no data.pkl in the archive: not a torch.save file");
    }
    if (m_zip->has(m_prefix + "byteorder")) {
        std::string order = m_zip->read(m_prefix + "byteorder", 16);
        if (order == "big")
            m_big_endian = true;
        else if (order != "little")
            throw FormatError(path, "unknown byteorder '" + order.substr(0, 16) + "'");
    }
    std::string pkl = m_zip->read(m_prefix + "data.pkl", torchzip::k_max_pickle_size);
    m_root =
        pickle::load(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), path + ": data.pkl");
}

Archive::~Archive() { // frees self-referencing values too
    pickle::release(m_root);
    for (auto& v : m_other_pickles) pickle::release(v);
}

ValuePtr Archive::load_pickle(const std::string& record) {
    if (!m_zip || !m_zip->has(m_prefix + record)) return nullptr;
    std::string pkl = m_zip->read(m_prefix + record, torchzip::k_max_pickle_size);
    m_other_pickles.push_back(pickle::load(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(),
                                           path() + ": " + record));
    return m_other_pickles.back();
}

bool Archive::is_tensor(const ValuePtr& v) {
    return v && v->is(Kind::Object) && v->module.starts_with("torch") &&
           (v->name == "_rebuild_tensor_v2" || v->name == "_rebuild_parameter" ||
            (v->module == "torch.nn.parameter" &&
             (v->name == "UninitializedParameter" || v->name == "UninitializedBuffer")) ||
            v->name == "_rebuild_parameter_with_state" || v->name == "_rebuild_from_type_v2" ||
            v->name == "_rebuild_tensor" || v->name == "_rebuild_tensor_v3");
}

uint64_t Archive::storage_bytes() {
    if (!m_storage_bytes) {
        uint64_t total = 0;
        if (m_legacy)
            total = m_legacy->storage_bytes();
        else
            for (const auto& n : m_zip->names())
                if (n.starts_with(m_prefix + "data/")) total += m_zip->size(n);
        m_storage_bytes = total;
    }
    return *m_storage_bytes;
}

Tensor Archive::tensor(const ValuePtr& v, const std::string& where) {
    if (auto it = m_tensors.find(v.get()); it != m_tensors.end()) return it->second;
    // A record whose data is itself (possible through the memo) must not recurse forever.
    if (!m_building.insert(v.get()).second) fail(where, "a tensor record refers to itself");
    if (m_tensors.size() >= k_max_tensors_per_file)
        fail(where, "more than " + std::to_string(k_max_tensors_per_file) +
                        " tensors in one file (the limit)");
    Tensor t = build_tensor(v, where);
    m_building.erase(v.get());
    m_tensors[v.get()] = t;
    return t;
}

void Archive::fail(const std::string& where, const std::string& what) const {
    throw FormatError(path(), (where.empty() ? "" : where + ": ") + what);
}

const std::vector<ValuePtr>& Archive::args_of(const ValuePtr& v, size_t min,
                                              const std::string& where) const {
    if (!v->args || !v->args->is(Kind::Tuple) || v->args->items.size() < min)
        fail(where, v->qualified_name() + " expects at least " + std::to_string(min) +
                        " arguments, got " + pickle::describe(v->args, 1));
    return v->args->items;
}

Shape Archive::int_tuple(const ValuePtr& v, const char* what, const std::string& where) const {
    if (!v ||
        !(v->is(Kind::Tuple) || v->is(Kind::List) || (v->is(Kind::Object) && v->name == "Size")))
        fail(where,
             std::string(what) + " must be a tuple of integers, got " + pickle::describe(v, 1));
    const auto& items =
        v->is(Kind::Object)
            ? (v->args && !v->args->items.empty() ? v->args->items[0]->items : v->items)
            : v->items;
    Shape out;
    for (const auto& x : items) {
        bool ok = true;
        out.push_back(as_int(x, ok));
        if (!ok)
            fail(where,
                 std::string(what) + " must be a tuple of integers, got " + pickle::describe(v, 1));
    }
    return out;
}

Tensor Archive::storage(const ValuePtr& pid_value, const std::string& where) {
    if (!pid_value || !pid_value->is(Kind::PersistentId))
        fail(where, "tensor storage is not a persistent id: " + pickle::describe(pid_value, 2));
    const ValuePtr& pid = pid_value->pid;
    if (!pid || !pid->is(Kind::Tuple) || pid->items.size() < 5 ||
        !pid->items[0]->is(Kind::String) || pid->items[0]->s != "storage")
        fail(where, "unknown persistent id " + pickle::describe(pid, 2));
    const ValuePtr& type = pid->items[1];
    const ValuePtr& key = pid->items[2];
    bool ok = true;
    int64_t numel = as_int(pid->items[4], ok);
    if (!type || !type->is(Kind::Global) || !key || !key->is(Kind::String) || !ok || numel < 0)
        fail(where, "malformed storage record " + pickle::describe(pid, 2));
    std::optional<DType> dtype;
    for (const auto& s : k_storage_types)
        if ((type->module == "torch" || type->module == "torch.storage") && type->name == s.name)
            dtype = s.dtype;
    if (!dtype)
        fail(where,
             "unsupported storage type " + type->qualified_name() + " (storage '" + key->s + "')");
    if (m_legacy) return legacy_storage(pid->items, *dtype, where);
    const std::string cache_key = m_storage_folder + key->s;
    if (auto it = m_storages.find(cache_key); it != m_storages.end()) {
        if (it->second.dtype() != *dtype)
            fail(where, "storage '" + key->s + "' is used with two dtypes");
        return it->second;
    }
    if (key->s.empty() || key->s.find('/') != std::string::npos ||
        key->s.find("..") != std::string::npos)
        fail(where, "invalid storage key '" + key->s + "'");
    const std::string entry = m_prefix + m_storage_folder + key->s;
    if (!m_zip->has(entry))
        fail(where, "storage '" + key->s + "' is missing from the archive (" + entry + ")");
    const uint64_t es = dtype_size(*dtype);
    if (uint64_t(numel) > torchzip::k_max_entry_size / es)
        fail(where,
             "storage '" + key->s + "' declares " + std::to_string(numel) + " elements: too large");
    const uint64_t nbytes = uint64_t(numel) * es;
    if (m_zip->size(entry) < nbytes)
        fail(where, "storage '" + key->s + "' declares " + std::to_string(numel) + " elements (" +
                        std::to_string(nbytes) + " bytes) but the archive entry holds " +
                        std::to_string(m_zip->size(entry)) + " bytes");
    // torch.save stores entries uncompressed and aligned: such a storage is the file's own
    // bytes, mapped copy-on-write and read only when its values are used. Others are read.
    const std::optional<uint64_t> at =
        m_big_endian || !nbytes ? std::nullopt : m_zip->stored_offset(entry);
    if (at && *at % es == 0) {
        const auto& map = m_zip->mapping();
        Tensor s = from_external(map->data() + *at, {numel}, *dtype, map);
        m_storages[cache_key] = s;
        return s;
    }
    if (nbytes) ++m_storages_read;
    Tensor s = empty({numel}, TensorOptions(*dtype));
    if (nbytes) m_zip->read_into(entry, s.data_ptr(), nbytes);
    if (m_big_endian && es > 1) {
        auto* b = static_cast<uint8_t*>(s.data_ptr());
        for (uint64_t i = 0; i < nbytes; i += es)
            for (uint64_t j = 0; j < es / 2; ++j) std::swap(b[i + j], b[i + es - 1 - j]);
    }
    m_storages[cache_key] = s;
    return s;
}

// _rebuild_tensor_v3 (PyTorch 2.x, for dtypes without a typed storage class: float8,
// uint16/32/64): its storage is untyped bytes and its 7th argument the dtype, a global
// torch.<dtype>. The bytes are viewed as that dtype, in place.
Tensor Archive::typed_view(const Tensor& bytes, const std::vector<ValuePtr>& a,
                           const std::string& where) {
    const ValuePtr& d = a.size() > 6 ? a[6] : nullptr;
    if (!d || !d->is(Kind::Global) || d->module != "torch")
        fail(where, "_rebuild_tensor_v3 without a dtype: " + pickle::describe(d, 1));
    const std::optional<DType> dtype = dtype_from_name(d->name);
    if (!dtype) fail(where, "unsupported dtype torch." + d->name);
    if (bytes.dtype() != DType::UInt8) fail(where, "_rebuild_tensor_v3 over a typed storage");
    const uint64_t es = dtype_size(*dtype), n = uint64_t(bytes.numel());
    if (n % es != 0)
        fail(where, "a storage of " + std::to_string(n) + " bytes holds no whole " + d->name +
                        " elements");
    uint8_t* p = static_cast<uint8_t*>(bytes.data_ptr());
    if (reinterpret_cast<uintptr_t>(p) % es != 0) // an unaligned entry: copied
        return from_host_bytes(p, size_t(n), {int64_t(n / es)}, *dtype);
    return from_external(p, {int64_t(n / es)}, *dtype, std::make_shared<Tensor>(bytes));
}

// A legacy storage: ('storage', type, key, location, numel, view) where view is None or
// (view key, offset, size) into the root storage `key`.
Tensor Archive::legacy_storage(const std::vector<ValuePtr>& pid, DType dtype,
                               const std::string& where) {
    const std::string& key = pid[2]->s;
    const LegacyFile::Storage* rec = m_legacy->find(key);
    if (!rec) fail(where, "storage '" + key + "' is not among the file's storages");
    if (rec->element_size != dtype_size(dtype))
        fail(where, "storage '" + key + "' is used with two dtypes");
    Tensor s;
    if (auto it = m_storages.find(key); it != m_storages.end()) {
        s = it->second;
    } else {
        // The file's bytes, mapped, where they are aligned for the dtype; else copied (the
        // legacy layout aligns nothing, so this is not reported).
        const uint8_t* bytes = m_legacy->bytes(*rec);
        if (rec->numel && reinterpret_cast<uintptr_t>(bytes) % rec->element_size == 0) {
            s = from_external(const_cast<uint8_t*>(bytes), {rec->numel}, dtype,
                              m_legacy->mapping());
        } else {
            s = empty({rec->numel}, TensorOptions(dtype));
            if (rec->numel)
                std::memcpy(s.data_ptr(), bytes, uint64_t(rec->numel) * rec->element_size);
        }
        m_storages[key] = s;
    }
    if (pid.size() > 5 && pid[5] && pid[5]->is(Kind::Tuple)) { // a view of the root storage
        const auto& v = pid[5]->items;
        bool ok = v.size() == 3;
        const int64_t offset = ok ? as_int(v[1], ok) : 0, size = ok ? as_int(v[2], ok) : 0;
        if (!ok || offset < 0 || size < 0 || offset > rec->numel || size > rec->numel - offset)
            fail(where, "malformed storage view " + pickle::describe(pid[5], 2) + " of storage '" +
                            key + "'");
        return as_strided(s, {size}, {1}, offset);
    }
    return s;
}

Tensor Archive::build_tensor(const ValuePtr& v, const std::string& where) {
    if (!is_tensor(v)) fail(where, "expected a tensor, got " + pickle::describe(v, 2));
    if (v->module == "torch.nn.parameter") { // a lazy module's, before its first call
        const bool parameter = v->name == "UninitializedParameter";
        const ValuePtr* a = v->args && v->args->is(Kind::Tuple) && !v->args->items.empty()
                                ? &v->args->items[0]
                                : nullptr;
        const bool requires_grad = a && *a && (*a)->is(Kind::Bool) ? (*a)->b : parameter;
        return make_uninitialized(parameter, requires_grad);
    }
    if (v->name == "_rebuild_parameter" || v->name == "_rebuild_parameter_with_state") {
        const auto& a = args_of(v, 2, where);
        Tensor data = tensor(a[0], where);
        bool requires_grad = a[1] && a[1]->is(Kind::Bool) ? a[1]->b : true;
        return make_parameter(data, requires_grad && data.is_floating_point());
    }
    if (v->name == "_rebuild_from_type_v2") {
        // torch 2: (func, new_type, args, state): func rebuilds, new_type may be Parameter.
        const auto& a = args_of(v, 3, where);
        auto inner = std::make_shared<pickle::Value>();
        inner->kind = Kind::Object;
        inner->module = a[0] ? a[0]->module : "";
        inner->name = a[0] ? a[0]->name : "";
        inner->args = a[2];
        Tensor t = build_tensor(inner, where);
        if (a[1] && a[1]->name == "Parameter") return make_parameter(t, t.is_floating_point());
        return t;
    }
    // _rebuild_tensor (PyTorch before 1.0) has _rebuild_tensor_v2's first four arguments.
    const auto& a = args_of(v, 4, where);
    Tensor s = storage(a[0], where);
    if (v->name == "_rebuild_tensor_v3") s = typed_view(s, a, where);
    bool ok = true;
    int64_t offset = as_int(a[1], ok);
    if (!ok) fail(where, "storage offset must be an integer, got " + pickle::describe(a[1], 1));
    Shape size = int_tuple(a[2], "size", where), stride = int_tuple(a[3], "stride", where);
    try {
        // A legacy storage view starts inside its root storage: offsets are the view's, and
        // the tensor must stay within the view, as PyTorch's sliced storage bounds it.
        if (s.storage_offset() != 0) {
            int64_t last = offset;
            bool empty_tensor = false;
            for (size_t d = 0; d < size.size(); ++d) {
                if (size[d] == 0) empty_tensor = true;
                if (size[d] > 0 && stride[d] > 0) last += (size[d] - 1) * stride[d];
            }
            if (offset < 0 || (!empty_tensor && last >= s.numel()))
                fail(where, "a tensor reaches past its storage view of " +
                                std::to_string(s.numel()) + " elements");
        }
        Tensor t = as_strided(s, size, stride, offset + s.storage_offset());
        if (a.size() > 4 && a[4] && a[4]->is(Kind::Bool) && a[4]->b && t.is_floating_point())
            t.set_requires_grad(true);
        return t;
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        fail(where, e.what());
    }
}

void set_own_training(Module& m, bool mode) {
    std::vector<std::pair<ModulePtr, bool>> children;
    for (const auto& [n, c] : m.own_children())
        if (c) children.emplace_back(c, c->is_training());
    m.train(mode);
    for (auto& [c, child_mode] : children) c->train(child_mode);
}

} // namespace nnscope::torchpt
