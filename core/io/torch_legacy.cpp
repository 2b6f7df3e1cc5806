// torch_legacy.cpp: reading the pre-1.6 torch.save format (see torch_legacy.h).
#include "torch_legacy.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "errors.h"
#include "safetensors.h"
#include "torch_archive.h"

namespace nnscope::torchpt {

namespace {

// The magic number pickle's LONG1 argument: 0x1950a86a20f9469cfc6c, little-endian.
constexpr uint8_t k_magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                               0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t k_protocol_version = 1001;

// Where the magic LONG1 sits in the first pickle (after PROTO, and FRAME from protocol 4).
size_t magic_at(const uint8_t* data, size_t size) {
    const size_t end = std::min<size_t>(size, 32);
    for (size_t i = 0; i + sizeof k_magic <= end; ++i)
        if (std::memcmp(data + i, k_magic, sizeof k_magic) == 0) return i;
    return SIZE_MAX;
}

} // namespace

bool is_legacy_file(const uint8_t* data, size_t size) {
    return size > 2 && data[0] == 0x80 && magic_at(data, size) != SIZE_MAX;
}

bool is_tar_file(const uint8_t* data, size_t size) {
    return size >= 512 && std::memcmp(data + 257, "ustar", 5) == 0;
}

namespace {
// Releases every pickle loaded (pickle::release: cycles too) unless kept, also when the
// constructor throws half-way.
struct Loaded {
    std::vector<pickle::ValuePtr> values;
    ~Loaded() {
        for (auto& v : values) pickle::release(v);
    }
};
} // namespace

LegacyFile::LegacyFile(const std::string& path) : m_path(path) {
    Loaded loaded;
    m_file = safetensors::MappedFile::open(path);
    const uint8_t* data = m_file->data();
    const size_t size = m_file->size();
    auto fail = [&](const std::string& what) -> void {
        throw FormatError(path, "legacy torch.save format: " + what);
    };
    size_t pos = magic_at(data, size);
    if (pos == SIZE_MAX) fail("no magic number");
    pos += sizeof k_magic;
    if (pos >= size || data[pos] != '.') fail("the magic number pickle does not end");
    ++pos;
    auto next = [&](const char* what,
                    const std::function<pickle::ValuePtr(const pickle::ValuePtr&)>& pl = {}) {
        if (pos >= size) fail(std::string("the file ends before its ") + what);
        size_t used = 0;
        pickle::ValuePtr v = pickle::load_one(data + pos, size - pos, path + ": " + what, used, pl);
        pos += used;
        loaded.values.push_back(v);
        return v;
    };
    pickle::ValuePtr version = next("protocol version");
    if (!version || !version->is(Kind::Int) || version->i != k_protocol_version)
        fail("unsupported protocol version " + pickle::describe(version, 1) + " (expected 1001)");
    pickle::ValuePtr sys_info = next("sys_info");
    if (const ValuePtr* little = dict_get(sys_info, "little_endian");
        little && *little && (*little)->is(Kind::Bool) && !(*little)->b)
        fail("written on a big-endian machine, which nnscope does not read");
    // The main pickle. Module classes come as ('module', class, file, source) persistent
    // ids: the class stands for them, as _legacy_load's persistent_load returns it (the
    // source text is never looked at). Storages stay persistent ids for the Archive.
    std::map<std::string, uint64_t> element_sizes;
    m_root = next("main pickle", [&](const pickle::ValuePtr& pid) -> pickle::ValuePtr {
        if (!pid || !pid->is(Kind::Tuple) || pid->items.size() < 2 || !pid->items[0] ||
            !pid->items[0]->is(Kind::String))
            return nullptr;
        const auto& items = pid->items;
        if (items[0]->s == "module" && items[1] && items[1]->is(Kind::Global)) return items[1];
        if (items[0]->s == "storage" && items.size() >= 3 && items[1] &&
            items[1]->is(Kind::Global) && items[2] && items[2]->is(Kind::String))
            for (const auto& t : k_storage_types)
                if (items[1]->name == t.name) element_sizes[items[2]->s] = dtype_size(t.dtype);
        return nullptr;
    });
    pickle::ValuePtr keys = next("storage keys");
    if (!keys || !keys->is(Kind::List))
        fail("the storage keys are not a list: " + pickle::describe(keys, 1));
    for (const auto& k : keys->items) {
        if (!k || !k->is(Kind::String))
            fail("a storage key is not a string: " + pickle::describe(k, 1));
        auto es = element_sizes.find(k->s);
        if (es == element_sizes.end())
            fail("storage '" + k->s + "' is listed but no tensor uses it");
        if (size - pos < 8)
            fail("truncated: storage '" + k->s + "' starts at byte " + std::to_string(pos) +
                 " but the file ends at " + std::to_string(size));
        int64_t numel;
        std::memcpy(&numel, data + pos, 8); // little-endian (sys_info said so)
        pos += 8;
        if (numel < 0 || uint64_t(numel) > (size - pos) / es->second)
            fail("truncated: storage '" + k->s + "' declares " + std::to_string(numel) +
                 " elements of " + std::to_string(es->second) + " bytes at byte " +
                 std::to_string(pos) + " but the file ends at " + std::to_string(size));
        if (!m_storages.emplace(k->s, Storage{pos, numel, es->second}).second)
            fail("storage '" + k->s + "' is listed twice");
        pos += uint64_t(numel) * es->second;
        m_storage_bytes += uint64_t(numel) * es->second;
    }
    // Kept: the main pickle (the Archive takes it); the others go with `loaded`.
    std::erase_if(loaded.values, [&](const pickle::ValuePtr& v) { return v == m_root; });
}

LegacyFile::~LegacyFile() {
    pickle::release(m_root); // when never taken
}

const LegacyFile::Storage* LegacyFile::find(const std::string& key) const {
    auto it = m_storages.find(key);
    return it == m_storages.end() ? nullptr : &it->second;
}

const uint8_t* LegacyFile::bytes(const Storage& s) const {
    return m_file->data() + s.offset;
}

} // namespace nnscope::torchpt
