// model_file.cpp: a file's format decided once (detect_model_file), its reader called, and
// state dicts written in the format a path names.
#include "model_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "json_text.h"
#include "model_spec.h"
#include "safetensors.h"
#include "state_dict_tree.h"
#include "torch_legacy.h"
#include "torch_pt.h"
#include "torch_zip.h"
#include "torchscript.h"

namespace nnscope {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FormatError(path, "cannot open: " + std::string(std::strerror(errno)));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Tensors of one safetensors file, pointing into its mapping (no data is read).
std::vector<std::pair<std::string, Tensor>> map_safetensors(const std::string& path,
                                                            safetensors::Header& header_out) {
    auto file = safetensors::MappedFile::open(path);
    header_out = safetensors::parse_header(file->data(), file->size(), file->size(), path);
    std::vector<std::pair<std::string, Tensor>> out;
    for (const auto& info : header_out.tensors) {
        uint8_t* p = file->data() + header_out.data_start + info.begin;
        Tensor t;
        if (reinterpret_cast<uintptr_t>(p) % dtype_size(info.dtype) == 0)
            t = from_external(p, info.shape, info.dtype, file);
        else // an unaligned entry (legal in the format): copied so element access is aligned
            t = from_host_bytes(p, size_t(info.end - info.begin), info.shape, info.dtype);
        out.emplace_back(info.name, t);
    }
    return out;
}

const std::string* find_meta(const std::vector<std::pair<std::string, std::string>>& meta,
                             const std::string& key) {
    for (const auto& [k, v] : meta)
        if (k == key) return &v;
    return nullptr;
}

// nnscope's own metadata: {"name": "parameter"|"buffer"} and {"module": "Type"}.
bool parse_nnscope_meta(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& meta,
                        std::vector<std::pair<std::string, std::string>>& kinds,
                        std::vector<std::pair<std::string, std::string>>& types) {
    const std::string* k = find_meta(meta, "nnscope.kinds");
    const std::string* t = find_meta(meta, "nnscope.modules");
    if (!k || !t) return false;
    try {
        const json kinds_json = parse_json(*k, path, "malformed nnscope metadata"),
                   types_json = parse_json(*t, path, "malformed nnscope metadata");
        if (!kinds_json.is_object() || !types_json.is_object())
            throw FormatError(path, "malformed nnscope metadata");
        for (auto& [name, v] : kinds_json.items()) {
            std::string kind = v.get<std::string>();
            if (kind != "parameter" && kind != "buffer")
                throw FormatError(path,
                                  "nnscope.kinds: unknown kind '" + kind + "' for '" + name + "'");
            kinds.emplace_back(name, kind);
        }
        for (auto& [name, v] : types_json.items())
            types.emplace_back(name, v.is_null() ? "" : v.get<std::string>());
    } catch (const json::exception& e) {
        throw FormatError(path, std::string("malformed nnscope metadata: ") + e.what());
    }
    return true;
}

// Dotted names compared component by component, numbers as numbers ("2" < "10").
bool natural_less(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        size_t ie = a.find('.', i), je = b.find('.', j);
        std::string ca = a.substr(i, ie == std::string::npos ? std::string::npos : ie - i);
        std::string cb = b.substr(j, je == std::string::npos ? std::string::npos : je - j);
        bool na = !ca.empty() && ca.size() < 19 &&
                  ca.find_first_not_of("0123456789") == std::string::npos;
        bool nb = !cb.empty() && cb.size() < 19 &&
                  cb.find_first_not_of("0123456789") == std::string::npos;
        if (ca != cb) {
            if (na && nb) return std::stoll(ca) < std::stoll(cb);
            return ca < cb;
        }
        if (ie == std::string::npos || je == std::string::npos)
            return ie == std::string::npos && je != std::string::npos;
        i = ie + 1;
        j = je + 1;
    }
    return a.size() < b.size();
}

// A bare safetensors file keeps no state-dict order (writers sort by dtype and name), so
// the best guess is PyTorch's: modules in natural order, each module's own tensors before
// its children's, and the standard layers' registration order within a module.
void sort_like_state_dict(std::vector<std::pair<std::string, Tensor>>& entries) {
    auto split = [](const std::string& name) {
        size_t dot = name.rfind('.');
        return dot == std::string::npos
                   ? std::pair<std::string, std::string>{"", name}
                   : std::pair<std::string, std::string>{name.substr(0, dot), name.substr(dot + 1)};
    };
    auto rank = [](const std::string& leaf) {
        static const char* order[] = {"weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked"};
        for (int i = 0; i < 5; ++i)
            if (leaf == order[i]) return i;
        return 5;
    };
    std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
        auto [px, lx] = split(x.first);
        auto [py, ly] = split(y.first);
        if (px != py) {
            // A module's own tensors come before those of its descendants.
            if (py.starts_with(px) && (px.empty() || py[px.size()] == '.')) return true;
            if (px.starts_with(py) && (py.empty() || px[py.size()] == '.')) return false;
            return natural_less(px, py);
        }
        return rank(lx) < rank(ly);
    });
}

bool model_from_saved_spec(LoadedModel& doc, const std::string& path,
                           const std::vector<std::pair<std::string, Tensor>>& entries);

LoadedModel model_from_entries(const std::string& path, const std::string& format,
                               std::vector<std::pair<std::string, Tensor>> entries,
                               std::vector<std::pair<std::string, std::string>> meta) {
    LoadedModel doc;
    doc.format = format;
    doc.metadata = std::move(meta);
    std::vector<std::pair<std::string, std::string>> kinds, types;
    const bool nnscope_meta = parse_nnscope_meta(path, doc.metadata, kinds, types);
    // Kinds nnscope wrote after inferring them are still inferred ("kinds never pretend"):
    // inferred again, with the file's requires_grad.
    const std::string* source = find_meta(doc.metadata, "nnscope.kind_source");
    const bool declared = nnscope_meta && !(source && *source == "inferred");
    if (!nnscope_meta && !ends_with(format, "-index"))
        sort_like_state_dict(entries); // an index has its order
    try {
        doc.root = tree_from_state_dict(entries, declared ? &kinds : nullptr,
                                        nnscope_meta ? &types : nullptr);
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(path, e.what());
    }
    doc.kind_source = declared ? KindSource::Declared : KindSource::Inferred;
    if (const std::string* tm = find_meta(doc.metadata, "nnscope.torch_metadata"))
        doc.torch_metadata = *tm;
    if (format == "safetensors") model_from_saved_spec(doc, path, entries);
    return doc;
}

LoadedModel open_safetensors_index(const std::string& path) {
    json index = parse_json(read_text(path), path, "invalid JSON");
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw FormatError(path, "not a safetensors index: no \"weight_map\" object");
    const fs::path dir = fs::path(path).parent_path();
    // Shards in first-mention order, each opened once.
    std::vector<std::string> shard_names;
    std::vector<std::pair<std::string, std::string>> wanted; // tensor -> shard, index order
    std::unordered_map<std::string, std::string> shard_of;
    for (auto& [name, shard] : index["weight_map"].items()) {
        if (!shard.is_string())
            throw FormatError(path, "weight_map[\"" + name + "\"] is not a file name");
        std::string s = shard.get<std::string>();
        if (s.empty() || s.find('/') != std::string::npos || s == "..")
            throw FormatError(path, "weight_map[\"" + name + "\"]: shard '" + s +
                                        "' must be a file name in the index's folder");
        wanted.emplace_back(name, s);
        shard_of.emplace(name, s);
        if (std::find(shard_names.begin(), shard_names.end(), s) == shard_names.end())
            shard_names.push_back(s);
    }
    std::unordered_map<std::string, Tensor> found; // "shard\0tensor" -> tensor
    std::vector<std::pair<std::string, std::string>> meta;
    bool pickled = false; // pytorch_model.bin.index.json: torch.save state dicts as shards
    for (const auto& s : shard_names) {
        std::vector<std::pair<std::string, Tensor>> tensors;
        if (ends_with(s, ".bin") || ends_with(s, ".pt") || ends_with(s, ".pth")) {
            LoadedModel shard = torchpt::open_pt((dir / s).string());
            if (shard.format != "pt" || shard.kind_source != KindSource::Inferred)
                throw FormatError(
                    path, "shard '" + s + "' holds " +
                              (shard.format == "pt" ? "a whole module" : "a " + shard.format) +
                              ", not a state dict");
            for (const auto& [n, t] : shard.root->state_dict().tensors) tensors.emplace_back(n, t);
            pickled = true;
        } else {
            safetensors::Header header;
            tensors = map_safetensors((dir / s).string(), header);
            if (meta.empty()) meta = header.metadata;
        }
        for (auto& [n, t] : tensors) {
            auto it = shard_of.find(n);
            if (it == shard_of.end() || it->second != s)
                throw FormatError(path, "shard '" + s + "' holds tensor '" + n +
                                            "' that the weight_map does not assign to it");
            found.emplace(s + '\0' + n, t);
        }
    }
    std::vector<std::pair<std::string, Tensor>> entries;
    entries.reserve(wanted.size());
    for (const auto& [name, s] : wanted) {
        auto it = found.find(s + '\0' + name);
        if (it == found.end())
            throw FormatError(path, "weight_map assigns '" + name + "' to shard '" + s +
                                        "', which does not hold it");
        entries.emplace_back(name, it->second);
    }
    if (index.contains("metadata") && index["metadata"].is_object())
        for (auto& [k, v] : index["metadata"].items())
            if (!find_meta(meta, k))
                meta.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    return model_from_entries(path, pickled ? "pt-index" : "safetensors-index", entries,
                              std::move(meta));
}

LoadedModel from_spec(const ModelSpec& spec, const std::string& text) {
    LoadedModel doc;
    doc.format = "spec";
    doc.root = spec.root;
    doc.title = spec.title;
    doc.lesson = spec.lesson;
    doc.spec = text;
    return doc;
}

// A safetensors file nnscope saved from a spec: the spec's model, built within the bytes
// the file's own tensors hold (a file cannot make it allocate more), with the file's values
// loaded strictly. Any mismatch leaves the plain tree and says why in the note.
bool model_from_saved_spec(LoadedModel& doc, const std::string& path,
                           const std::vector<std::pair<std::string, Tensor>>& entries) {
    const std::string* spec = find_meta(doc.metadata, "nnscope.spec");
    if (!spec) return false;
    uint64_t bytes = 0;
    StateDict sd;
    for (const auto& [name, t] : entries) {
        bytes += t.nbytes();
        sd.tensors.set(name, t);
    }
    try {
        ModelSpec built = parse_model_spec(*spec, path + " (nnscope.spec)", std::nullopt,
                                           2 * bytes + (uint64_t(1) << 20));
        built.root->load_state_dict(sd, true);
        doc.root = built.root;
        doc.title = built.title;
        doc.lesson = built.lesson;
        doc.spec = *spec;
        doc.kind_source = KindSource::Declared;
        return true;
    } catch (const std::exception& e) {
        doc.note = std::string("the saved model spec does not fit this file's tensors, shown as a "
                               "plain tree: ") +
                   e.what();
        return false;
    }
}

// The first bytes of a file, as many as it has up to `n`.
std::string file_head(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FormatError(path, "cannot open: " + std::string(std::strerror(errno)));
    std::string head(n, '\0');
    in.read(head.data(), std::streamsize(n));
    head.resize(size_t(in.gcount()));
    return head;
}

// A safetensors header: an 8-byte little-endian length that fits the file, then '{'.
bool looks_like_safetensors(const std::string& head, uintmax_t file_size) {
    if (head.size() < 9 || head[8] != '{') return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(head[size_t(i)]);
    return n >= 2 && n <= file_size - 8;
}

} // namespace

ModelFileFormat detect_model_file(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw FormatError(path, "is a directory, not a model file");
    const std::string head = file_head(path, 512);
    // Zip archives by what they hold, whatever their extension: TorchScript (code/ beside
    // data.pkl) or torch.save's (data.pkl alone).
    if (head.starts_with(std::string_view("PK\3\4", 4))) {
        torchzip::ZipReader zip(path);
        return torchscript::is_torchscript(zip) ? ModelFileFormat::TorchScript
                                                : ModelFileFormat::TorchSave;
    }
    // torch.save's legacy format, whatever the extension (".pth.tar" was common), and its
    // tar format before 0.4 (which its reader names and refuses).
    const auto* bytes = reinterpret_cast<const uint8_t*>(head.data());
    if (torchpt::is_legacy_file(bytes, head.size()) || torchpt::is_tar_file(bytes, head.size()))
        return ModelFileFormat::TorchSave;
    if (ends_with(path, ".index.json")) return ModelFileFormat::SafetensorsIndex;
    if (ends_with(path, ".json")) return ModelFileFormat::ModelSpec;
    if (ends_with(path, ".safetensors") || looks_like_safetensors(head, fs::file_size(path, ec)))
        return ModelFileFormat::Safetensors;
    // Named as torch.save's files are, but neither of its formats: its reader says what is wrong.
    if (ends_with(path, ".pt") || ends_with(path, ".pth") || ends_with(path, ".bin") ||
        ends_with(path, ".ckpt"))
        return ModelFileFormat::TorchSave;
    throw FormatError(
        path,
        "unknown file type (expected .json, .safetensors, .safetensors.index.json, .pt or .pth)");
}

LoadedModel open_model_file(const std::string& path, const std::string& entry) {
    switch (detect_model_file(path)) {
    case ModelFileFormat::TorchScript:
        if (!entry.empty())
            throw FormatError(path, "--entry " + entry + ": a TorchScript archive has no entries");
        return torchscript::open_torchscript(path);
    case ModelFileFormat::TorchSave:
        return torchpt::open_pt(path, entry);
    case ModelFileFormat::SafetensorsIndex:
        return open_safetensors_index(path);
    case ModelFileFormat::ModelSpec:
        return model_from_spec_text(read_text(path), path);
    case ModelFileFormat::Safetensors: {
        safetensors::Header header;
        auto entries = map_safetensors(path, header);
        return model_from_entries(path, "safetensors", entries, header.metadata);
    }
    }
    throw FormatError(path, "unknown file type");
}

LoadedModel model_from_spec_text(const std::string& text, const std::string& where) {
    return from_spec(parse_model_spec(text, where), text);
}

void save_state_dict(const Module& root, const std::string& path, const SaveExtras& extras) {
    if (ends_with(path, ".pt") || ends_with(path, ".pth"))
        return torchpt::save_pt(root, path, extras.torch_metadata);
    if (!ends_with(path, ".safetensors"))
        throw FormatError(path, "cannot write this file type (supported: .safetensors, .pt, .pth)");
    StateDict sd = root.state_dict();
    auto& mutable_root = const_cast<Module&>(root);
    json kinds = json::object(), types = json::object();
    std::set<std::string> parameter_names;
    for (const auto& e : mutable_root.tensor_entries())
        if (e.kind == TensorKind::Parameter) parameter_names.insert(e.name);
    std::vector<Tensor> host; // keeps the contiguous host copies alive while writing
    std::vector<safetensors::WriteEntry> entries;
    for (const auto& [name, t] : sd.tensors) {
        if (t.is_uninitialized()) // safetensors has no such entry; a .pt file does
            throw FormatError(
                path, "cannot write '" + name +
                          "' to safetensors: it is uninitialized (a lazy "
                          "module before its first forward pass); save as .pt, or run the model "
                          "once in PyTorch first");
        if (dtype_safetensors_code(t.dtype()).empty())
            throw FormatError(path, "cannot write '" + name +
                                        "' to safetensors: the format has no " +
                                        std::string(dtype_name(t.dtype())) + " dtype; save as .pt");
        Tensor h = t.to(Device::cpu()).contiguous();
        host.push_back(h);
        entries.push_back(
            {name, h.dtype(), h.shape(), h.numel() ? h.data_ptr() : nullptr, h.nbytes()});
        kinds[name] = parameter_names.count(name) ? "parameter" : "buffer";
    }
    for (const auto& [name, m] : mutable_root.named_modules())
        types[name] = m->type_name().empty() ? json(nullptr) : json(m->type_name());
    std::vector<std::pair<std::string, std::string>> meta;
    for (const auto& [k, v] : extras.metadata)
        if (!k.starts_with("nnscope.")) meta.emplace_back(k, v);
    if (!find_meta(meta, "format")) meta.insert(meta.begin(), {"format", "pt"});
    meta.emplace_back("nnscope.kinds", kinds.dump());
    if (extras.kind_source == KindSource::Inferred)
        meta.emplace_back("nnscope.kind_source", "inferred");
    meta.emplace_back("nnscope.modules", types.dump());
    if (!extras.spec.empty()) meta.emplace_back("nnscope.spec", extras.spec);
    if (!extras.torch_metadata.empty())
        meta.emplace_back("nnscope.torch_metadata", extras.torch_metadata);
    safetensors::write_file(path, meta, entries);
}

} // namespace nnscope
