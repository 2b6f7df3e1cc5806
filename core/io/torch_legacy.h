// torch_legacy.h: the format torch.save wrote before PyTorch 1.6, and still writes with
// _use_new_zipfile_serialization=False (torch/serialization.py, _legacy_save/_legacy_load):
// five things in a row, none of them zipped:
//   the magic number pickle (0x1950a86a20f9469cfc6c), the protocol version pickle (1001),
//   the sys_info pickle, the main pickle (persistent ids name storages
//   ('storage', type, key, location, numel, view) and, in whole-module files, the module
//   classes ('module', class, source file, source)), the pickled list of storage keys,
//   then per key: its element count (int64, little-endian) and its bytes.
// Read as inertly as the zip format: the pickles through the same VM, storages indexed
// (offset, count) and read only when a tensor needs them. The tar format of PyTorch before
// 0.4 is recognised and refused.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "pickle.h"

namespace nnscope::safetensors {
class MappedFile;
}

namespace nnscope::torchpt {

// Does the file start with the legacy magic number pickle?
bool is_legacy_file(const uint8_t* data, size_t size);
// Is it a tar archive (PyTorch before 0.4 saved one)?
bool is_tar_file(const uint8_t* data, size_t size);

class LegacyFile {
  public:
    // Reads the pickles and indexes the storages; throws FormatError naming what is wrong.
    explicit LegacyFile(const std::string& path);
    ~LegacyFile();

    // The main pickle's value, handed over once (the Archive owns and releases it).
    pickle::ValuePtr take_root() { return std::move(m_root); }
    const std::string& path() const { return m_path; }

    struct Storage {
        uint64_t offset = 0; // of the bytes, after the element count
        int64_t numel = 0;
        uint64_t element_size = 1;
    };
    const Storage* find(const std::string& key) const;
    const uint8_t* bytes(const Storage& s) const;
    // The file's mapping, which tensors over bytes() keep alive.
    const std::shared_ptr<safetensors::MappedFile>& mapping() const { return m_file; }
    uint64_t storage_bytes() const { return m_storage_bytes; }

  private:
    std::string m_path;
    std::shared_ptr<safetensors::MappedFile> m_file;
    pickle::ValuePtr m_root;
    std::map<std::string, Storage> m_storages;
    uint64_t m_storage_bytes = 0;
};

} // namespace nnscope::torchpt
