// safetensors.cpp: reading (mmap + header validation) and atomic writing of safetensors.
//
// The header is parsed with nlohmann/json through its SAX interface, which lets us reject
// duplicate keys (the DOM parser silently keeps one), bound the nesting depth, and record
// the file order of tensors and metadata while still building an ordinary json DOM.
// Validation follows the reference Rust reader (huggingface/safetensors, tensor.rs):
// strict UTF-8, a leading '{', known dtypes, non-negative integer shapes and offsets,
// checked size arithmetic, contiguous offsets from 0 that cover the whole data buffer.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "json_text.h"
#include "tensor.h"
#include "utf8.h"

namespace nnscope::safetensors {

namespace {

using json = nlohmann::json;

constexpr std::string_view k_metadata_key = "__metadata__";
constexpr size_t k_max_json_depth = 128; // serde_json's recursion limit

// safetensors dtype codes the reference knows but nnscope cannot represent.
constexpr std::string_view k_unsupported_codes[] = {
    "F8_E8M0",
    "F4",
    "F6_E2M3",
    "F6_E3M2",
};
constexpr std::string_view k_supported_list =
    "F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL; kept but not computed with: F8_E4M3, "
    "F8_E5M2, U16, U32, U64, C64";

std::string errno_text(int err) {
    return std::strerror(err);
}

// 'name' for messages: one line, control bytes (and all non-ASCII bytes of a name that is
// not UTF-8) escaped, long names shortened.
std::string quote(std::string_view name) {
    constexpr size_t k_max = 200;
    bool utf8 = valid_utf8(name);
    std::string out = "'";
    for (size_t i = 0; i < name.size() && i < k_max; ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        if (c == '\'' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (name.size() > k_max) out += "...";
    out += "'";
    return out;
}

std::string hex_byte(uint8_t b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", b);
    return buf;
}

template <class Int> std::string format_shape(const std::vector<Int>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// "[2, -1]": a json array written like format_shape.
std::string format_json_array(const nlohmann::json& a) {
    std::string s = "[";
    for (size_t i = 0; i < a.size(); ++i) {
        if (i) s += ", ";
        s += a[i].dump();
    }
    return s + "]";
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) {
    return !__builtin_mul_overflow(a, b, &out);
}

// --- header JSON ------------------------------------------------------------------------

// Builds a json DOM like nlohmann's own parser, but fails on duplicate keys and excessive
// nesting, and records the order of the top-level keys and of "__metadata__"'s keys.
class HeaderSax {
  public:
    json root;
    std::vector<std::string> top_keys;
    std::vector<std::string> metadata_keys;
    std::string error; // set when parsing stopped

    bool null() { return put(nullptr); }
    bool boolean(bool v) { return put(v); }
    bool number_integer(json::number_integer_t v) { return put(v); }
    bool number_unsigned(json::number_unsigned_t v) { return put(v); }
    bool number_float(json::number_float_t v, const std::string&) { return put(v); }
    bool string(std::string& v) { return put(std::move(v)); }
    bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }

    bool start_object(size_t) { return open(json::object()); }
    bool start_array(size_t) { return open(json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(std::string& k) {
        if (m_stack.size() == 1) {
            m_top_key = k;
            top_keys.push_back(k);
        } else if (m_stack.size() == 2 && m_top_key == k_metadata_key) {
            metadata_keys.push_back(k);
        }
        m_key = std::move(k);
        return true;
    }

    template <class Exception>
    bool parse_error(size_t /*position*/, const std::string& /*last_token*/, const Exception& ex) {
        error = "header is not valid JSON: " + shorten_json_error(ex.what());
        return false;
    }

  private:
    std::vector<json*> m_stack; // open containers
    std::string m_key;          // key of the next value in the innermost object
    std::string m_top_key;      // latest key of the root object

    bool put(json value) { return insert(std::move(value)) != nullptr; }

    json* insert(json value) {
        if (m_stack.empty()) {
            root = std::move(value);
            return &root;
        }
        json* parent = m_stack.back();
        if (parent->is_array()) {
            parent->get_ref<json::array_t&>().push_back(std::move(value));
            return &parent->get_ref<json::array_t&>().back();
        }
        auto [it, inserted] = parent->get_ref<json::object_t&>().emplace(m_key, std::move(value));
        if (!inserted) {
            if (m_stack.size() == 1)
                error = m_key == k_metadata_key ? "duplicate \"__metadata__\" in header"
                                                : "duplicate tensor name " + quote(m_key);
            else if (m_top_key == k_metadata_key)
                error = "__metadata__: duplicate key " + quote(m_key);
            else
                error = "tensor " + quote(m_top_key) + ": duplicate key " + quote(m_key);
            return nullptr;
        }
        return &it->second;
    }

    bool open(json value) {
        if (m_stack.size() >= k_max_json_depth) {
            error = "header is not valid JSON: nesting deeper than " +
                    std::to_string(k_max_json_depth) + " levels";
            return false;
        }
        json* v = insert(std::move(value));
        if (!v) return false;
        m_stack.push_back(v);
        return true;
    }

    bool close() {
        m_stack.pop_back();
        return true;
    }
};

// Reads a non-negative JSON integer (as serde reads a usize): no floats, no negatives.
bool get_u64(const json& v, uint64_t& out) {
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) { // e.g. "-0"
        out = static_cast<uint64_t>(v.get<int64_t>());
        return true;
    }
    return false;
}

struct ParsedEntry {
    TensorInfo info;
    size_t file_index;
};

TensorInfo parse_entry(const std::string& name, const json& entry, const std::string& path) {
    auto fail = [&](const std::string& msg) -> FormatError {
        return FormatError(path, "tensor " + quote(name) + ": " + msg);
    };
    if (!entry.is_object())
        throw fail(std::string("entry must be an object, got ") + entry.type_name());
    auto field = [&](const char* key) -> const json& {
        auto it = entry.find(key);
        if (it == entry.end()) throw fail(std::string("missing field '") + key + "'");
        return *it;
    };
    const json& dtype_j = field("dtype");
    const json& shape_j = field("shape");
    const json& offsets_j = field("data_offsets");

    // dtype
    if (!dtype_j.is_string())
        throw fail(std::string("'dtype' must be a string, got ") + dtype_j.type_name());
    const std::string& code = dtype_j.get_ref<const std::string&>();
    std::optional<DType> dtype = dtype_from_safetensors_code(code);
    if (!dtype) {
        bool known = std::find(std::begin(k_unsupported_codes), std::end(k_unsupported_codes),
                               code) != std::end(k_unsupported_codes);
        if (known)
            throw fail("unsupported dtype " + quote(code) +
                       " (supported: " + std::string(k_supported_list) + ")");
        throw fail("unknown dtype " + quote(code));
    }

    // shape
    if (!shape_j.is_array())
        throw fail(std::string("'shape' must be an array of non-negative integers, got ") +
                   shape_j.type_name());
    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    std::vector<uint64_t> dims;
    dims.reserve(shape_j.size());
    for (size_t i = 0; i < shape_j.size(); ++i) {
        const json& d = shape_j[i];
        uint64_t u;
        if (!get_u64(d, u)) {
            if (d.is_number_integer())
                throw fail("negative dimension " + d.dump() + " in shape " +
                           format_json_array(shape_j));
            throw fail("shape element " + std::to_string(i) + " is not an integer (got " +
                       d.dump() + ")");
        }
        dims.push_back(u);
    }

    // data_offsets
    uint64_t begin = 0, end = 0;
    if (!offsets_j.is_array() || offsets_j.size() != 2 || !get_u64(offsets_j[0], begin) ||
        !get_u64(offsets_j[1], end))
        throw fail("'data_offsets' must be [begin, end] with non-negative integers, got " +
                   offsets_j.dump());
    if (end < begin)
        throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "]: end is before begin");

    if (dims.size() > k_max_tensor_rank)
        throw fail("rank " + std::to_string(dims.size()) + " exceeds the limit of " +
                   std::to_string(k_max_tensor_rank) + " dimensions");
    // sizes, with checked arithmetic
    uint64_t numel = 1;
    for (uint64_t d : dims)
        if (!checked_mul(numel, d, numel))
            throw fail("number of elements of shape " + format_shape(dims) + " overflows 64 bits");
    uint64_t nbytes;
    if (!checked_mul(numel, dtype_size(*dtype), nbytes))
        throw fail("byte size of " + code + " " + format_shape(dims) + " overflows 64 bits");
    if (end - begin != nbytes)
        throw fail("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] hold " + std::to_string(end - begin) + " bytes but " + code + " " +
                   format_shape(dims) + " needs " + std::to_string(nbytes));
    for (uint64_t d : dims) {
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw fail("dimension " + std::to_string(d) + " in shape is too large");
        info.shape.push_back(static_cast<int64_t>(d));
    }
    info.begin = begin;
    info.end = end;
    return info;
}

void parse_metadata(const json& meta, const std::vector<std::string>& keys, Header& header,
                    const std::string& path) {
    if (meta.is_null()) return; // the reference reads null as "no metadata"
    if (!meta.is_object())
        throw FormatError(path, std::string("__metadata__ must be an object of strings, got ") +
                                    meta.type_name());
    for (const std::string& k : keys) {
        const json& v = meta.at(k);
        if (!v.is_string())
            throw FormatError(path, "__metadata__: value of " + quote(k) +
                                        " must be a string, got " + v.type_name());
        header.metadata.emplace_back(k, v.get<std::string>());
    }
}

// --- writing ----------------------------------------------------------------------------

// The temporary file of write_file: closed and removed unless committed.
class TempFile {
  public:
    TempFile(const std::string& target, const std::string& tmp_path)
        : m_target(target), m_path(tmp_path) {}
    ~TempFile() {
        if (m_fd >= 0) ::close(m_fd);
        if (m_created) ::unlink(m_path.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    // `exact_mode`: set `mode` as is (the mode of the file being replaced) instead of
    // letting the umask apply.
    void create(mode_t mode, bool exact_mode) {
        m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (m_fd < 0) fail("cannot create temporary file", errno);
        m_created = true;
        if (exact_mode && ::fchmod(m_fd, mode) != 0)
            fail("cannot set the mode of temporary file", errno);
    }
    void write_all(const void* data, size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            ssize_t w = ::write(m_fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("cannot write temporary file", errno);
            }
            if (w == 0) fail("cannot write temporary file", EIO);
            p += w;
            n -= static_cast<size_t>(w);
        }
    }
    void sync_and_close() {
        if (::fsync(m_fd) != 0) fail("cannot fsync temporary file", errno);
        int fd = m_fd;
        m_fd = -1;
        if (::close(fd) != 0) fail("cannot close temporary file", errno);
    }
    void rename_over_target() {
        if (::rename(m_path.c_str(), m_target.c_str()) != 0) {
            int err = errno;
            throw FormatError(m_target,
                              "cannot rename " + quote(m_path) + " over it: " + errno_text(err));
        }
        m_created = false;
    }

  private:
    [[noreturn]] void fail(const char* what, int err) {
        throw FormatError(m_target,
                          std::string(what) + " " + quote(m_path) + ": " + errno_text(err));
    }
    std::string m_target;
    std::string m_path;
    int m_fd = -1;
    bool m_created = false;
};

std::string temp_path_for(const std::string& path) {
    static std::atomic<uint64_t> counter{0};
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.size() > 200) base.resize(200); // stay under NAME_MAX with the suffix
    return dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1));
}

void sync_directory_of(const std::string& path) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; // best effort: the file itself is already in place
    ::fsync(fd);
    ::close(fd);
}

} // namespace

// --- MappedFile -------------------------------------------------------------------------

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        throw FormatError(path, "cannot open: " + errno_text(err));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        throw FormatError(path, "cannot stat: " + errno_text(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw FormatError(path, "cannot open: " + errno_text(EISDIR));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw FormatError(path, "cannot open: not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > std::numeric_limits<size_t>::max()) {
        ::close(fd);
        throw FormatError(path, "cannot map: file too large");
    }
    std::shared_ptr<MappedFile> file(new MappedFile());
    file->m_path = path;
    file->m_size = static_cast<size_t>(st.st_size);
    if (file->m_size > 0) {
        void* p = ::mmap(nullptr, file->m_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            file->m_size = 0;
            throw FormatError(path, "cannot map: " + errno_text(err));
        }
        file->m_data = static_cast<uint8_t*>(p);
    }
    ::close(fd); // the mapping keeps the file alive
    return file;
}

MappedFile::~MappedFile() {
    if (m_data) ::munmap(m_data, m_size);
}

// --- parse_header -----------------------------------------------------------------------

Header parse_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                    const std::string& path) {
    if (file_size < 8)
        throw FormatError(path, "header too small: file has " + std::to_string(file_size) +
                                    " bytes, need at least 8");
    if (available < 8)
        throw FormatError(path, "header truncated: only " + std::to_string(available) +
                                    " bytes available, need 8");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    if (n > k_max_header_size)
        throw FormatError(path, "header too large: " + std::to_string(n) + " bytes (limit " +
                                    std::to_string(k_max_header_size) + ")");
    uint64_t data_start = 8 + n; // no overflow: n <= k_max_header_size
    if (data_start > file_size)
        throw FormatError(path, "header length " + std::to_string(n) + " exceeds file size " +
                                    std::to_string(file_size) + " (8 + " + std::to_string(n) +
                                    " bytes needed)");
    if (available < data_start)
        throw FormatError(path, "header truncated: only " + std::to_string(available) +
                                    " bytes available, need " + std::to_string(data_start));

    const uint8_t* text = bytes + 8;
    size_t text_len = static_cast<size_t>(n);
    size_t bad = find_invalid_utf8(std::string_view(reinterpret_cast<const char*>(text), text_len));
    if (bad != std::string_view::npos)
        throw FormatError(path, "header is not valid UTF-8 (invalid byte " + hex_byte(text[bad]) +
                                    " at header offset " + std::to_string(bad) + ")");
    if (text_len == 0) throw FormatError(path, "header does not start with '{' (it is empty)");
    if (text[0] != '{')
        throw FormatError(path,
                          "header does not start with '{' (first byte " + hex_byte(text[0]) + ")");

    // nlohmann stops at a NUL byte as if the input ended there; in JSON text a raw NUL is
    // never valid (the reference rejects e.g. NUL padding as trailing characters).
    if (const void* nul = std::memchr(text, 0, text_len))
        throw FormatError(path, "header is not valid JSON: NUL byte at header offset " +
                                    std::to_string(static_cast<const uint8_t*>(nul) - text));

    HeaderSax sax;
    bool ok = false;
    try {
        ok = json::sax_parse(text, text + text_len, &sax);
    } catch (const json::exception& e) {
        // e.g. out_of_range for numbers; sax_parse reports syntax errors via parse_error.
        throw FormatError(path, std::string("header is not valid JSON: ") + e.what());
    }
    if (!ok || !sax.error.empty())
        throw FormatError(path, sax.error.empty() ? "header is not valid JSON" : sax.error);

    Header header;
    header.data_start = data_start;
    const size_t tensor_count = sax.top_keys.size() - (sax.root.contains(k_metadata_key) ? 1 : 0);
    if (tensor_count > k_max_tensors_per_file)
        throw FormatError(path, std::to_string(tensor_count) + " tensors exceed the limit of " +
                                    std::to_string(k_max_tensors_per_file));
    std::vector<ParsedEntry> entries;
    entries.reserve(sax.top_keys.size());
    for (size_t i = 0; i < sax.top_keys.size(); ++i) {
        const std::string& name = sax.top_keys[i];
        const json& value = sax.root.at(name);
        if (name == k_metadata_key) {
            parse_metadata(value, sax.metadata_keys, header, path);
            continue;
        }
        entries.push_back({parse_entry(name, value, path), i});
    }

    // Sorted by (begin, end), as the reference; stable so equal zero-size tensors keep
    // file order.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const ParsedEntry& a, const ParsedEntry& b) {
                         if (a.info.begin != b.info.begin) return a.info.begin < b.info.begin;
                         return a.info.end < b.info.end;
                     });
    uint64_t covered = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        const TensorInfo& t = entries[i].info;
        if (t.begin != covered) {
            std::string why = i == 0 ? "the first tensor must begin at 0"
                                     : "previous tensor ended at " + std::to_string(covered);
            throw FormatError(path, "tensor " + quote(t.name) +
                                        ": data offsets not contiguous (begins at " +
                                        std::to_string(t.begin) + ", " + why + ")");
        }
        covered = t.end;
    }
    uint64_t buffer_len = file_size - data_start;
    if (covered != buffer_len)
        throw FormatError(path, "data buffer is " + std::to_string(buffer_len) +
                                    " bytes but tensors cover " + std::to_string(covered));

    header.tensors.reserve(entries.size());
    for (ParsedEntry& e : entries) header.tensors.push_back(std::move(e.info));
    return header;
}

// --- write_file -------------------------------------------------------------------------

void write_file(const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& metadata,
                const std::vector<WriteEntry>& entries) {
    using ojson = nlohmann::ordered_json;

    // Validate everything before touching the file system.
    std::unordered_set<std::string_view> seen;
    for (const auto& [k, v] : metadata) {
        if (!valid_utf8(k) || !valid_utf8(v))
            throw FormatError(path, "metadata entry " + quote(k) + " is not valid UTF-8");
        if (!seen.insert(k).second) throw FormatError(path, "duplicate metadata key " + quote(k));
    }
    seen.clear();
    uint64_t total = 0;
    for (const WriteEntry& e : entries) {
        if (e.name.empty()) throw FormatError(path, "tensor name is empty");
        if (e.name == k_metadata_key)
            throw FormatError(path, "tensor name '__metadata__' is reserved");
        if (!valid_utf8(e.name))
            throw FormatError(path, "tensor name " + quote(e.name) + " is not valid UTF-8");
        if (!seen.insert(e.name).second)
            throw FormatError(path, "duplicate tensor name " + quote(e.name));
        uint64_t numel = 1;
        for (int64_t d : e.shape) {
            if (d < 0)
                throw FormatError(path, "tensor " + quote(e.name) + ": negative dimension " +
                                            std::to_string(d) + " in shape " +
                                            format_shape(e.shape));
            if (!checked_mul(numel, static_cast<uint64_t>(d), numel))
                throw FormatError(path, "tensor " + quote(e.name) + ": number of elements of " +
                                            "shape " + format_shape(e.shape) +
                                            " overflows 64 bits");
        }
        uint64_t nbytes;
        std::string what =
            std::string(dtype_safetensors_code(e.dtype)) + " " + format_shape(e.shape);
        if (!checked_mul(numel, dtype_size(e.dtype), nbytes))
            throw FormatError(path, "tensor " + quote(e.name) + ": byte size of " + what +
                                        " overflows 64 bits");
        if (nbytes != e.nbytes)
            throw FormatError(path, "tensor " + quote(e.name) + ": data has " +
                                        std::to_string(e.nbytes) + " bytes but " + what +
                                        " needs " + std::to_string(nbytes));
        if (e.nbytes > 0 && e.data == nullptr)
            throw FormatError(path, "tensor " + quote(e.name) + ": no data");
        if (__builtin_add_overflow(total, nbytes, &total))
            throw FormatError(path, "total data size overflows 64 bits");
    }

    // The header, in the given order. Names are known to be unique, so entries are appended
    // to ordered_json's underlying vector directly (its operator[] searches linearly).
    ojson header = ojson::object();
    auto& items = static_cast<ojson::object_t::Container&>(header.get_ref<ojson::object_t&>());
    items.reserve(entries.size() + 1);
    if (!metadata.empty()) {
        ojson meta = ojson::object();
        auto& meta_items =
            static_cast<ojson::object_t::Container&>(meta.get_ref<ojson::object_t&>());
        for (const auto& [k, v] : metadata) meta_items.emplace_back(k, v);
        items.emplace_back(std::string(k_metadata_key), std::move(meta));
    }
    uint64_t offset = 0;
    for (const WriteEntry& e : entries) {
        ojson info = ojson::object();
        info["dtype"] = std::string(dtype_safetensors_code(e.dtype));
        ojson shape = ojson::array();
        for (int64_t d : e.shape) shape.push_back(static_cast<uint64_t>(d));
        info["shape"] = std::move(shape);
        info["data_offsets"] = ojson::array({offset, offset + e.nbytes});
        offset += e.nbytes;
        items.emplace_back(e.name, std::move(info));
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const ojson::exception& ex) {
        throw FormatError(path, std::string("cannot encode header: ") + ex.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    uint64_t n = text.size();
    if (n > k_max_header_size)
        throw FormatError(path, "header too large: " + std::to_string(n) + " bytes (limit " +
                                    std::to_string(k_max_header_size) + ")");
    std::string prefix(8, '\0');
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    text.insert(0, prefix);

    // Keep the permissions of the file being replaced, if any.
    // Only regular files are replaced (never a directory, device or fifo); keep their mode.
    mode_t mode = 0666;
    bool replacing = false;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) throw FormatError(path, "cannot write: " + errno_text(EISDIR));
        if (!S_ISREG(st.st_mode)) throw FormatError(path, "cannot write: not a regular file");
        mode = st.st_mode & 0777;
        replacing = true;
    }

    TempFile tmp(path, temp_path_for(path));
    tmp.create(mode, replacing);
    tmp.write_all(text.data(), text.size());
    for (const WriteEntry& e : entries)
        if (e.nbytes > 0) tmp.write_all(e.data, e.nbytes);
    tmp.sync_and_close();
    tmp.rename_over_target();
    sync_directory_of(path);
}

} // namespace nnscope::safetensors
