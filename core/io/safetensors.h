// safetensors.h: the safetensors file format, read and written per its published spec.
//
// Layout: u64 little-endian N, then N bytes of JSON header, then the data buffer.
// The header maps names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data buffer) plus an optional "__metadata__" string-to-string map.
// Reading validates like the reference implementation and never touches tensor data:
// the file is memory-mapped and tensors point into the mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dtype.h"

namespace nnscope::safetensors {

inline constexpr uint64_t k_max_header_size = 100'000'000; // as the reference reader

// A read-only-file, copy-on-write memory mapping (writes never reach the file).
class MappedFile {
  public:
    // Throws FormatError(path, "cannot open: <strerror>") etc.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    uint8_t* data() const { return m_data; }
    size_t size() const { return m_size; }
    const std::string& path() const { return m_path; }

  private:
    MappedFile() = default;
    uint8_t* m_data = nullptr;
    size_t m_size = 0;
    std::string m_path;
};

struct TensorInfo {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0; // offsets relative to the data buffer
    uint64_t end = 0;
};

struct Header {
    std::vector<std::pair<std::string, std::string>> metadata; // "__metadata__", file order
    std::vector<TensorInfo> tensors;                           // sorted by begin offset
    uint64_t data_start = 0;                                   // 8 + N
};

// Parses and validates the header of a file of `file_size` bytes whose first bytes are
// `bytes` (`available` of them, at least min(file_size, 8 + N) are needed).
// Throws FormatError naming `path` and what is wrong.
Header parse_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                    const std::string& path);

struct WriteEntry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data; // contiguous, little-endian, nbytes = numel * dtype_size
    size_t nbytes;
};

// Writes a safetensors file atomically: a temporary file in the same folder, fsync,
// rename over `path`. On any failure the previous file at `path` is left intact and a
// FormatError is thrown. Entries are written in the given order; the header is padded
// with spaces to a multiple of 8 bytes.
void write_file(const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& metadata,
                const std::vector<WriteEntry>& entries);

} // namespace nnscope::safetensors
