// torch_zip.cpp: libzip reading and atomic writing of torch.save archives.
#include "torch_zip.h"

#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "errors.h"
#include "safetensors.h"

namespace nnscope::torchzip {

namespace fs = std::filesystem;

ZipReader::ZipReader(const std::string& path) : m_path(path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw FormatError(path, "cannot open: Is a directory");
    int err = 0;
    m_zip = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!m_zip) {
        if (err == ZIP_ER_NOENT || err == ZIP_ER_OPEN) {
            FILE* f = std::fopen(path.c_str(), "rb");
            if (!f) throw FormatError(path, "cannot open: " + std::string(std::strerror(errno)));
            std::fclose(f);
        }
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        std::string what = zip_error_strerror(&ze);
        zip_error_fini(&ze);
        // Called for files that start like a zip: one that does not open is cut short or
        // damaged (a download that stopped, a copy that failed).
        if (err == ZIP_ER_NOZIP || err == ZIP_ER_INCONS)
            throw FormatError(path, "a damaged or truncated zip archive (" + what + ")");
        throw FormatError(path, "cannot read the zip archive: " + what);
    }
    zip_int64_t n = zip_get_num_entries(m_zip, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(m_zip, zip_uint64_t(i), ZIP_FL_ENC_RAW);
        m_names.push_back(name ? name : "");
    }
}

ZipReader::~ZipReader() {
    if (m_zip) zip_discard(m_zip);
}

int64_t ZipReader::index_of(const std::string& name) const {
    zip_int64_t i = zip_name_locate(m_zip, name.c_str(), ZIP_FL_ENC_RAW);
    return i;
}

bool ZipReader::has(const std::string& name) const {
    return index_of(name) >= 0;
}

uint64_t ZipReader::size(const std::string& name) const {
    zip_stat_t st;
    zip_stat_init(&st);
    int64_t i = index_of(name);
    if (i < 0 || zip_stat_index(m_zip, zip_uint64_t(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        throw FormatError(m_path, "archive entry '" + name + "' is missing");
    return st.size;
}

void ZipReader::read_into(const std::string& name, void* dst, uint64_t size) const {
    int64_t i = index_of(name);
    if (i < 0) throw FormatError(m_path, "archive entry '" + name + "' is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(m_zip, zip_uint64_t(i), 0, &st) != 0)
        throw FormatError(m_path,
                          "archive entry '" + name + "': " + std::string(zip_strerror(m_zip)));
    if (st.size > k_max_entry_size)
        throw FormatError(m_path, "archive entry '" + name + "' declares " +
                                      std::to_string(st.size) + " bytes (limit " +
                                      std::to_string(k_max_entry_size) + ")");
    if ((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size > 0 && st.size > (uint64_t(1) << 20) &&
        st.size / st.comp_size > k_max_ratio)
        throw FormatError(m_path, "archive entry '" + name + "' expands " +
                                      std::to_string(st.size / st.comp_size) + " times (limit " +
                                      std::to_string(k_max_ratio) + "): refused as a zip bomb");
    if (st.size < size)
        throw FormatError(m_path, "archive entry '" + name + "' holds " + std::to_string(st.size) +
                                      " bytes, " + std::to_string(size) + " needed");
    zip_file_t* f = zip_fopen_index(m_zip, zip_uint64_t(i), 0);
    if (!f)
        throw FormatError(m_path,
                          "archive entry '" + name + "': " + std::string(zip_strerror(m_zip)));
    uint64_t done = 0;
    while (done < size) {
        zip_int64_t got = zip_fread(f, static_cast<char*>(dst) + done, size - done);
        if (got <= 0) {
            std::string why = got < 0 ? zip_file_strerror(f) : "unexpected end of data";
            zip_fclose(f);
            throw FormatError(m_path,
                              "archive entry '" + name + "' is truncated or corrupt: " + why);
        }
        done += uint64_t(got);
    }
    zip_fclose(f);
}

// --- entry offsets: the zip records libzip does not expose -----------------------------------

namespace {
uint64_t le(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
} // namespace

const std::shared_ptr<safetensors::MappedFile>& ZipReader::mapping() const {
    if (!m_map) m_map = safetensors::MappedFile::open(m_path);
    return m_map;
}

void ZipReader::read_local_offsets() const {
    m_local_offsets.emplace();
    const uint8_t* d = mapping()->data();
    const uint64_t n = mapping()->size();
    // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
    if (n < 22) return;
    uint64_t eocd = UINT64_MAX;
    for (uint64_t i = n - 22 + 1; i-- > (n > 65557 ? n - 65557 : 0);)
        if (le(d + i, 4) == 0x06054b50) {
            eocd = i;
            break;
        }
    if (eocd == UINT64_MAX) return;
    uint64_t count = le(d + eocd + 10, 2), cd = le(d + eocd + 16, 4);
    if (count == 0xFFFF || cd == 0xFFFFFFFF) { // zip64: its locator sits just before
        if (eocd < 20 || le(d + eocd - 20, 4) != 0x07064b50) return;
        const uint64_t z = le(d + eocd - 20 + 8, 8);
        if (z > n - 56 || le(d + z, 4) != 0x06064b50) return;
        count = le(d + z + 32, 8);
        cd = le(d + z + 48, 8);
    }
    std::vector<uint64_t> offsets;
    uint64_t pos = cd;
    for (uint64_t e = 0; e < count; ++e) {
        if (pos > n - 46 || le(d + pos, 4) != 0x02014b50) return;
        const uint64_t name_len = le(d + pos + 28, 2), extra_len = le(d + pos + 30, 2),
                       comment_len = le(d + pos + 32, 2);
        uint64_t local = le(d + pos + 42, 4);
        if (pos + 46 + name_len + extra_len > n) return;
        if (local == 0xFFFFFFFF) { // in the zip64 extra field, after the sizes it replaces
            uint64_t skip = (le(d + pos + 24, 4) == 0xFFFFFFFF ? 8 : 0) +
                            (le(d + pos + 20, 4) == 0xFFFFFFFF ? 8 : 0);
            const uint8_t* x = d + pos + 46 + name_len;
            const uint8_t* end = x + extra_len;
            bool found = false;
            while (x + 4 <= end) {
                const uint64_t id = le(x, 2), len = le(x + 2, 2);
                if (x + 4 + len > end) break;
                if (id == 1 && len >= skip + 8) {
                    local = le(x + 4 + skip, 8);
                    found = true;
                    break;
                }
                x += 4 + len;
            }
            if (!found) return;
        }
        offsets.push_back(local);
        pos += 46 + name_len + extra_len + comment_len;
    }
    *m_local_offsets = std::move(offsets);
}

std::optional<uint64_t> ZipReader::stored_offset(const std::string& name) const {
    const int64_t i = index_of(name);
    if (i < 0) return std::nullopt;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(m_zip, zip_uint64_t(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_COMP_METHOD) ||
        !(st.valid & ZIP_STAT_SIZE) || st.comp_method != ZIP_CM_STORE)
        return std::nullopt;
    if (!m_local_offsets) read_local_offsets();
    if (size_t(i) >= m_local_offsets->size() || m_local_offsets->size() != m_names.size())
        return std::nullopt;
    const uint8_t* d = mapping()->data();
    const uint64_t n = mapping()->size(), local = (*m_local_offsets)[size_t(i)];
    if (local > n - std::min<uint64_t>(n, 30) || le(d + local, 4) != 0x04034b50)
        return std::nullopt;
    const uint64_t name_len = le(d + local + 26, 2), extra_len = le(d + local + 28, 2);
    const uint64_t data = local + 30 + name_len + extra_len;
    // The local header names the same entry, and its bytes lie within the file.
    if (name_len != name.size() || data > n ||
        std::memcmp(d + local + 30, name.data(), name.size()) != 0 || st.size > n - data)
        return std::nullopt;
    return data;
}

std::string ZipReader::read(const std::string& name, uint64_t limit) const {
    uint64_t n = size(name);
    if (n > limit)
        throw FormatError(m_path, "archive entry '" + name + "' is " + std::to_string(n) +
                                      " bytes (limit " + std::to_string(limit) + ")");
    std::string out(size_t(n), '\0');
    if (n) read_into(name, out.data(), n);
    return out;
}

void write_archive(const std::string& path, const std::vector<WriteEntry>& entries) {
    std::error_code ec;
    if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
        throw FormatError(path, "cannot write: not a regular file");
    static int counter = 0;
    fs::path target(path);
    fs::path tmp =
        target.parent_path() / ("." + target.filename().string() + ".tmp-" +
                                std::to_string(::getpid()) + "-" + std::to_string(counter++));
    auto fail = [&](const std::string& why) {
        std::remove(tmp.c_str());
        throw FormatError(path, why);
    };
    int err = 0;
    zip_t* z = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        std::string what = zip_error_strerror(&ze);
        zip_error_fini(&ze);
        fail("cannot create temporary file '" + tmp.string() + "': " + what);
    }
    for (const auto& e : entries) {
        zip_source_t* src = zip_source_buffer(z, e.data, e.size, 0);
        if (!src) {
            zip_discard(z);
            fail("cannot add '" + e.name + "': " + std::string(zip_strerror(z)));
        }
        zip_int64_t idx = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
        if (idx < 0) {
            zip_source_free(src);
            std::string why = zip_strerror(z);
            zip_discard(z);
            fail("cannot add '" + e.name + "': " + why);
        }
        // Stored, like torch.save: storages can be read (and mapped) without inflating.
        zip_set_file_compression(z, zip_uint64_t(idx), ZIP_CM_STORE, 0);
    }
    if (zip_close(z) != 0) {
        std::string why = zip_strerror(z);
        zip_discard(z);
        fail("cannot write temporary file '" + tmp.string() + "': " + why);
    }
    int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd < 0 || ::fsync(fd) != 0) {
        if (fd >= 0) ::close(fd);
        fail("cannot fsync temporary file '" + tmp.string() + "': " + std::strerror(errno));
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        fail("cannot rename '" + tmp.string() + "' over it: " + std::strerror(errno));
}

} // namespace nnscope::torchzip
