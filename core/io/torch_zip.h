// torch_zip.h: the zip container of torch.save files (PyTorch >= 1.6), through libzip.
//
// Reading checks entry sizes and compression ratios before allocating anything; writing
// goes to a temporary file in the target's folder, is fsynced, then renamed over the
// target, so a failure never leaves a partial file or damages an existing one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct zip;

namespace nnscope::safetensors {
class MappedFile;
}

namespace nnscope::torchzip {

inline constexpr uint64_t k_max_entry_size = uint64_t(1) << 40;  // 1 TiB: sanity bound
inline constexpr uint64_t k_max_pickle_size = uint64_t(1) << 30; // data.pkl
inline constexpr uint64_t k_max_ratio = 1000;                    // uncompressed / compressed

class ZipReader {
  public:
    // Throws FormatError(path, ...) when the file is missing or not a zip archive.
    explicit ZipReader(const std::string& path);
    ~ZipReader();
    ZipReader(const ZipReader&) = delete;
    ZipReader& operator=(const ZipReader&) = delete;

    const std::vector<std::string>& names() const { return m_names; }
    bool has(const std::string& name) const;
    uint64_t size(const std::string& name) const;
    // The whole entry; refuses entries over `limit` bytes or with a suspicious ratio.
    std::string read(const std::string& name, uint64_t limit) const;
    // Exactly `size` bytes of an entry into `dst` (the caller checked the size).
    void read_into(const std::string& name, void* dst, uint64_t size) const;
    // Where a stored (uncompressed) entry's bytes start in the file, for mapping them in
    // place of reading (torch.save stores every entry, 64-byte aligned since 1.6... 2.x).
    // nullopt for a compressed entry, or where the archive's own records (the central
    // directory and the local header, parsed here because libzip does not tell offsets)
    // disagree with what libzip says of the entry: the caller then reads it.
    std::optional<uint64_t> stored_offset(const std::string& name) const;
    // The whole file, mapped copy-on-write (writes never reach the file).
    const std::shared_ptr<safetensors::MappedFile>& mapping() const;
    const std::string& path() const { return m_path; }

  private:
    int64_t index_of(const std::string& name) const;
    // The central directory's local-header offset of every entry, by index (libzip's
    // order); empty when it cannot be parsed.
    void read_local_offsets() const;
    std::string m_path;
    zip* m_zip = nullptr;
    std::vector<std::string> m_names;
    mutable std::shared_ptr<safetensors::MappedFile> m_map;
    mutable std::optional<std::vector<uint64_t>> m_local_offsets;
};

struct WriteEntry {
    std::string name;
    const void* data; // must stay valid until write_archive returns
    size_t size;
};

// Stored (uncompressed) entries, in order, written atomically to `path`.
void write_archive(const std::string& path, const std::vector<WriteEntry>& entries);

} // namespace nnscope::torchzip
