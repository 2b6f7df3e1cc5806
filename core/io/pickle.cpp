// pickle.cpp: the inert pickle virtual machine (protocols 0 to 5) and describe().
//
// The machine follows CPython's Modules/_pickle.c opcode by opcode, but where Python
// imports or calls, it only records names (Global) and would-be calls (Object), so a
// file can never run anything. Files are treated as hostile:
//  - every read is checked against the end of the data and every length field against
//    the bytes left before anything is allocated;
//  - the stack, the memo, the number of values and the nesting depth are bounded by
//    Limits; nothing here recurses as deep as a file wants;
//  - containers can form cycles and arbitrarily deep chains through the memo and
//    APPEND/SETITEMS, so every container created is also held by the machine until the
//    end: containers the result does not reach are emptied before they are released (no
//    deep destructor recursion, no leaked cycles), and the result's nesting depth is
//    measured without recursion and refused beyond Limits::max_depth.
#include "pickle.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "errors.h"
#include "pickle_opcodes.h"
#include "utf8.h"

namespace nnscope::pickle {

namespace {

// Python's names for the kinds, in the order of enum Kind.
const char* kind_name(Kind k) {
    static const char* const names[] = {"None",   "bool",   "int",          "float", "str",
                                        "bytes",  "tuple",  "list",         "dict",  "set",
                                        "global", "object", "persistent id"};
    return names[size_t(k)];
}

// Values that hold other values (and so can nest, share and form cycles).
bool is_container(Kind k) {
    switch (k) {
    case Kind::Tuple:
    case Kind::List:
    case Kind::Dict:
    case Kind::Set:
    case Kind::Object:
    case Kind::PersistentId:
        return true;
    default:
        return false;
    }
}

// The values a value holds, in a fixed order: items, dict keys and values, args,
// kwargs, state, list_items, pid (null fields included; callers skip them).
size_t child_count(const Value& v) {
    return v.items.size() + 2 * v.dict.size() + 3 + v.list_items.size() + 1;
}

const Value* child_at(const Value& v, size_t i) {
    if (i < v.items.size()) return v.items[i].get();
    i -= v.items.size();
    if (i < 2 * v.dict.size()) return (i % 2 ? v.dict[i / 2].second : v.dict[i / 2].first).get();
    i -= 2 * v.dict.size();
    if (i == 0) return v.args.get();
    if (i == 1) return v.kwargs.get();
    if (i == 2) return v.state.get();
    i -= 3;
    if (i < v.list_items.size()) return v.list_items[i].get();
    return v.pid.get();
}

// Drops every value `v` holds (shallow: the children are released, not visited).
void strip(Value& v) {
    v.items.clear();
    v.dict.clear();
    v.args.reset();
    v.kwargs.reset();
    v.state.reset();
    v.list_items.clear();
    v.pid.reset();
}

int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A bounded, printable excerpt of a text argument for error messages.
std::string excerpt(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 40)) {
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out += char(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > 40) out += "...";
    return "'" + out + "'";
}

std::string_view trim(std::string_view s) {
    auto space = [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
    };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

struct Slot {
    ValuePtr v;
    size_t depth = 0; // nesting depth as far as known: 0 for scalars, 1 + children's for containers
};

class Machine {
  public:
    Machine(const uint8_t* data, size_t size, const std::string& path, const Limits& limits)
        : m_data(data), m_size(size), m_path(path), m_limits(limits) {}

    // Containers still held are emptied first, so that releasing them never recurses
    // and cycles among them do not leak (only those that load() hands out survive).
    ~Machine() {
        for (auto& c : m_containers) strip(*c);
    }

    ValuePtr run();
    size_t consumed() const { return m_pos; }
    // Legacy torch.save files name classes by persistent ids: the hook may replace them.
    std::function<ValuePtr(const ValuePtr&)> persistent_load;

  private:
    const uint8_t* m_data;
    size_t m_size;
    size_t m_pos = 0;
    size_t m_op_pos = 0; // where the current opcode starts, for messages
    uint8_t m_op = 0;
    const std::string& m_path;
    const Limits& m_limits;

    std::vector<Slot> m_stack;
    std::vector<size_t> m_marks; // stack sizes at each MARK
    std::unordered_map<uint64_t, Slot> m_memo;
    std::vector<ValuePtr> m_containers; // every container created, see ~Machine
    size_t m_created = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(m_path, "pickle: " + what + " at byte " + std::to_string(m_op_pos));
    }
    std::string op() const { return op_name(m_op); }

    // --- reading ---------------------------------------------------------------------

    size_t left() const { return m_size - m_pos; }

    const uint8_t* read(size_t n) {
        if (n > left()) fail("truncated " + op());
        const uint8_t* p = m_data + m_pos;
        m_pos += n;
        return p;
    }

    // A length field's bytes, checked against what is left before anything is allocated.
    std::string_view read_counted(uint64_t n) {
        if (n > left())
            fail("truncated " + op() + ": length " + std::to_string(n) + " exceeds the " +
                 std::to_string(left()) + " bytes left");
        return {reinterpret_cast<const char*>(read(size_t(n))), size_t(n)};
    }

    template <typename T> T read_le() {
        const uint8_t* p = read(sizeof(T));
        uint64_t v = 0;
        for (size_t k = 0; k < sizeof(T); ++k) v |= uint64_t(p[k]) << (8 * k);
        return T(v);
    }

    // A protocol 0 argument: the bytes up to the next newline (not included).
    std::string_view read_line() {
        const void* nl = std::memchr(m_data + m_pos, '\n', left());
        if (!nl) fail("truncated " + op() + " (no end of line)");
        size_t n = static_cast<const uint8_t*>(nl) - (m_data + m_pos);
        std::string_view line(reinterpret_cast<const char*>(m_data + m_pos), n);
        m_pos += n + 1;
        return line;
    }

    // --- parsing text arguments ------------------------------------------------------

    // A decimal integer as Python's int() reads it (sign, digits, surrounding spaces).
    bool parse_int(std::string_view text, int64_t& out, bool& overflow) const {
        overflow = false;
        std::string_view s = trim(text);
        bool neg = false;
        if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
            neg = s[0] == '-';
            s.remove_prefix(1);
        }
        if (s.empty()) return false;
        uint64_t mag = 0;
        for (size_t k = 0; k < s.size(); ++k) {
            char c = s[k];
            if (c == '_' && k > 0 && k + 1 < s.size() && s[k - 1] != '_') continue;
            if (c < '0' || c > '9') return false;
            if (mag > (std::numeric_limits<uint64_t>::max() - 9) / 10)
                overflow = true;
            else
                mag = mag * 10 + uint64_t(c - '0');
        }
        if (overflow) return true;
        if (neg) {
            if (mag > uint64_t(std::numeric_limits<int64_t>::max()) + 1)
                overflow = true;
            else
                out = mag == uint64_t(std::numeric_limits<int64_t>::max()) + 1
                          ? std::numeric_limits<int64_t>::min()
                          : -int64_t(mag);
        } else {
            if (mag > uint64_t(std::numeric_limits<int64_t>::max()))
                overflow = true;
            else
                out = int64_t(mag);
        }
        return true;
    }

    int64_t int_arg(std::string_view text) {
        int64_t v = 0;
        bool overflow = false;
        if (!parse_int(text, v, overflow)) fail("invalid " + op() + " argument " + excerpt(text));
        if (overflow) fail("integer does not fit in 64 bits");
        return v;
    }

    double float_arg(std::string_view text) {
        std::string_view s = trim(text);
        bool neg = false;
        if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
            neg = s[0] == '-';
            s.remove_prefix(1);
        }
        double v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || s[0] == '+' || s[0] == '-' || end != s.data() + s.size() ||
            (ec != std::errc() && ec != std::errc::result_out_of_range))
            fail("invalid FLOAT argument " + excerpt(text));
        if (ec == std::errc::result_out_of_range) {
            // from_chars leaves v alone here; Python gives inf or a zero. Which one
            // depends on the decimal exponent of the first significant digit.
            size_t e = s.find_first_of("eE");
            std::string_view mant = s.substr(0, e);
            long long exp10 = 0;
            if (e != std::string_view::npos) {
                std::string_view es = s.substr(e + 1);
                bool eneg = !es.empty() && es[0] == '-';
                if (!es.empty() && (es[0] == '-' || es[0] == '+')) es.remove_prefix(1);
                auto er = std::from_chars(es.data(), es.data() + es.size(), exp10);
                if (er.ec == std::errc::result_out_of_range) exp10 = 1'000'000'000'000LL;
                exp10 = std::min(exp10, 1'000'000'000'000LL);
                if (eneg) exp10 = -exp10;
            }
            size_t dot = mant.find('.');
            std::string_view ip = mant.substr(0, dot);
            std::string_view fp =
                dot == std::string_view::npos ? std::string_view() : mant.substr(dot + 1);
            size_t first = ip.find_first_not_of('0');
            size_t first_fp = fp.find_first_not_of('0');
            long long mag = first != std::string_view::npos      ? (long long)(ip.size() - first)
                            : first_fp != std::string_view::npos ? -(long long)first_fp
                                                                 : -1'000'000'000'000LL;
            v = mag + exp10 > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        }
        return neg ? -v : v;
    }

    // Two's complement little-endian, as LONG1 / LONG4 store it.
    int64_t long_bytes(std::string_view b) {
        if (b.empty()) return 0;
        size_t n = b.size();
        bool neg = (uint8_t(b[n - 1]) & 0x80) != 0;
        if (n > 8) {
            // The extra high bytes must be pure sign extension of a 64-bit value.
            uint8_t ext = neg ? 0xff : 0x00;
            for (size_t k = 8; k < n; ++k)
                if (uint8_t(b[k]) != ext) fail("integer does not fit in 64 bits");
            if (((uint8_t(b[7]) & 0x80) != 0) != neg) fail("integer does not fit in 64 bits");
            n = 8;
        }
        uint64_t u = 0;
        for (size_t k = 0; k < n; ++k) u |= uint64_t(uint8_t(b[k])) << (8 * k);
        if (neg && n < 8) u |= ~uint64_t(0) << (8 * n);
        return int64_t(u);
    }

    // STRING's argument: a quoted Python 2 repr, decoded like codecs.escape_decode.
    std::string escape_decode(std::string_view line) {
        if (line.size() < 2 || line.front() != line.back() ||
            (line.front() != '\'' && line.front() != '"'))
            fail("the STRING argument must be quoted");
        std::string_view s = line.substr(1, line.size() - 2);
        std::string out;
        out.reserve(s.size());
        for (size_t k = 0; k < s.size(); ++k) {
            char c = s[k];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (++k >= s.size()) fail("trailing \\ in STRING argument");
            c = s[k];
            static constexpr std::string_view from = "\\'\"bftnrva", to = "\\'\"\b\f\t\n\r\v\a";
            if (c == '\n') continue; // a line continuation
            if (size_t e = from.find(c); e != std::string_view::npos) {
                out += to[e];
            } else if (c == 'x') {
                int hi = k + 1 < s.size() ? hex_digit(s[k + 1]) : -1;
                int lo = k + 2 < s.size() ? hex_digit(s[k + 2]) : -1;
                if (hi < 0 || lo < 0) fail("invalid \\x escape in STRING argument");
                out += char(hi * 16 + lo);
                k += 2;
            } else if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int d = 0; d < 2 && k + 1 < s.size() && s[k + 1] >= '0' && s[k + 1] <= '7';
                     ++d)
                    v = v * 8 + (s[++k] - '0');
                out += char(v & 0xff);
            } else {
                out += '\\';
                out += c;
            }
        }
        return out;
    }

    // UNICODE's argument: raw-unicode-escape (bytes are Latin-1 code points, and an odd
    // run of backslashes before u/U starts a \uXXXX / \UXXXXXXXX escape), to UTF-8.
    // Surrogate pairs are joined; a lone surrogate becomes U+FFFD.
    std::string raw_unicode_decode(std::string_view s) {
        std::string out;
        out.reserve(s.size());
        uint32_t pending_high = 0; // a high surrogate waiting for its low half
        auto put = [&](uint32_t cp) {
            if (pending_high) {
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    append_utf8(out, 0x10000 + ((pending_high - 0xd800) << 10) + (cp - 0xdc00));
                    pending_high = 0;
                    return;
                }
                append_utf8(out, 0xfffd);
                pending_high = 0;
            }
            if (cp >= 0xd800 && cp <= 0xdbff)
                pending_high = cp;
            else
                append_utf8(out, cp);
        };
        size_t k = 0;
        while (k < s.size()) {
            unsigned char c = s[k];
            if (c != '\\') {
                put(c);
                ++k;
                continue;
            }
            size_t run = 0;
            while (k + run < s.size() && s[k + run] == '\\') ++run;
            size_t after = k + run;
            bool escape =
                (run % 2 == 1) && after < s.size() && (s[after] == 'u' || s[after] == 'U');
            for (size_t b = 0; b < (escape ? run - 1 : run); ++b) put('\\');
            k = after;
            if (!escape) continue;
            size_t digits = s[k] == 'u' ? 4 : 8;
            ++k;
            uint32_t cp = 0;
            for (size_t d = 0; d < digits; ++d, ++k) {
                int h = k < s.size() ? hex_digit(s[k]) : -1;
                if (h < 0)
                    fail(std::string("truncated \\") + (digits == 4 ? "uXXXX" : "UXXXXXXXX") +
                         " escape in UNICODE argument");
                cp = cp * 16 + uint32_t(h);
            }
            if (cp > 0x10ffff) fail("\\U escape out of range in UNICODE argument");
            put(cp);
        }
        if (pending_high) append_utf8(out, 0xfffd);
        return out;
    }

    // --- values, the stack and the memo ----------------------------------------------

    ValuePtr make(Kind k) {
        if (++m_created > m_limits.max_values)
            fail("more than " + std::to_string(m_limits.max_values) + " values");
        auto v = std::make_shared<Value>();
        v->kind = k;
        if (is_container(k)) m_containers.push_back(v);
        return v;
    }

    void check_depth(size_t depth) const {
        if (depth > m_limits.max_depth)
            fail("nesting deeper than " + std::to_string(m_limits.max_depth));
    }

    void push(ValuePtr v, size_t depth = 0) {
        if (m_stack.size() + m_marks.size() >= m_limits.max_stack)
            fail("stack exceeds " + std::to_string(m_limits.max_stack) + " entries");
        m_stack.push_back({std::move(v), depth});
    }
    void push_slot(Slot s) { push(std::move(s.v), s.depth); }

    size_t fence() const { return m_marks.empty() ? 0 : m_marks.back(); }

    void need(size_t n) const {
        if (m_stack.size() - fence() < n) fail("stack underflow in " + op());
    }

    Slot pop() {
        need(1);
        Slot s = std::move(m_stack.back());
        m_stack.pop_back();
        return s;
    }

    Slot& top() {
        need(1);
        return m_stack.back();
    }

    // Pops the last MARK and returns where its items begin on the stack.
    size_t pop_mark() {
        if (m_marks.empty()) fail("MARK not found for " + op());
        size_t m = m_marks.back();
        m_marks.pop_back();
        return m;
    }

    // The value below the items of a MARK (APPENDS / SETITEMS / ADDITEMS's target).
    Slot& target_below(size_t mark) {
        if (mark == 0 || mark <= fence()) fail("stack underflow in " + op());
        return m_stack[mark - 1];
    }

    // Items [from, end) of the stack moved into a new container of `kind`.
    Slot collect(Kind kind, size_t from) {
        ValuePtr v = make(kind);
        size_t depth = 0;
        v->items.reserve(m_stack.size() - from);
        for (size_t k = from; k < m_stack.size(); ++k) {
            depth = std::max(depth, m_stack[k].depth);
            v->items.push_back(std::move(m_stack[k].v));
        }
        m_stack.resize(from);
        check_depth(depth + 1);
        return {v, depth + 1};
    }

    // A child of depth `child` added to the container in `target`.
    void grow(Slot& target, size_t child) {
        target.depth = std::max(target.depth, child + 1);
        check_depth(target.depth);
    }

    void memo_put(uint64_t key) {
        const Slot& s = top();
        auto it = m_memo.find(key);
        if (it != m_memo.end()) {
            it->second = s;
            return;
        }
        if (m_memo.size() >= m_limits.max_memo)
            fail("memo exceeds " + std::to_string(m_limits.max_memo) + " entries");
        m_memo.emplace(key, s);
    }

    void memo_get(uint64_t key) {
        auto it = m_memo.find(key);
        if (it == m_memo.end()) fail("memo key " + std::to_string(key) + " not found");
        push_slot(it->second);
    }

    int64_t memo_key_arg(std::string_view text) {
        int64_t v = 0;
        bool overflow = false;
        if (!parse_int(text, v, overflow) || overflow)
            fail("invalid " + op() + " argument " + excerpt(text));
        return v;
    }

    void push_scalar(Kind k) { push(make(k)); }
    void push_bool(bool b) {
        ValuePtr v = make(Kind::Bool);
        v->b = b;
        push(std::move(v));
    }
    void push_int(int64_t i) {
        ValuePtr v = make(Kind::Int);
        v->i = i;
        push(std::move(v));
    }
    void push_float(double f) {
        ValuePtr v = make(Kind::Float);
        v->f = f;
        push(std::move(v));
    }
    void push_text(Kind k, std::string s) {
        ValuePtr v = make(k);
        v->s = std::move(s);
        push(std::move(v));
    }
    void push_unicode(std::string_view s) {
        if (!valid_utf8(s)) fail("invalid UTF-8 in " + op());
        push_text(Kind::String, std::string(s));
    }
    // Python 2 str (STRING, BINSTRING, SHORT_BINSTRING): text if it is UTF-8 (as
    // torch.load decodes it), bytes otherwise.
    void push_py2_str(std::string s) {
        Kind k = valid_utf8(s) ? Kind::String : Kind::Bytes;
        push_text(k, std::move(s));
    }
    void push_global(std::string_view module, std::string_view name) {
        if (!valid_utf8(module) || !valid_utf8(name)) fail("invalid UTF-8 in " + op());
        ValuePtr v = make(Kind::Global);
        v->module = std::string(module);
        v->name = std::string(name);
        push(std::move(v));
    }

    // An Object of class `cls` (a Global) called with `args` (a Tuple).
    Slot make_object(const Slot& cls, Slot args, const char* what) {
        if (!cls.v->is(Kind::Global))
            fail(std::string(what) + " is not a global (got " + kind_name(cls.v->kind) + ")");
        if (!args.v->is(Kind::Tuple))
            fail(op() + " arguments are not a tuple (got " + kind_name(args.v->kind) + ")");
        ValuePtr obj = make(Kind::Object);
        obj->module = cls.v->module;
        obj->name = cls.v->name;
        obj->args = std::move(args.v);
        check_depth(args.depth + 1);
        return {obj, args.depth + 1};
    }

    void step();
    ValuePtr finish(Slot result);
};

void Machine::step() {
    switch (m_op) {
    case PROTO: {
        uint8_t proto = *read(1);
        if (proto > k_highest_protocol) fail("unsupported protocol " + std::to_string(proto));
        break;
    }
    case FRAME: {
        uint64_t n = read_le<uint64_t>();
        if (n > left())
            fail("truncated FRAME: length " + std::to_string(n) + " exceeds the " +
                 std::to_string(left()) + " bytes left");
        break; // frames are transparent
    }
    case MARK:
        if (m_stack.size() + m_marks.size() >= m_limits.max_stack)
            fail("stack exceeds " + std::to_string(m_limits.max_stack) + " entries");
        m_marks.push_back(m_stack.size());
        break;
    case POP:
        if (m_stack.size() > fence())
            m_stack.pop_back();
        else if (!m_marks.empty())
            m_marks.pop_back(); // as CPython: POP at a MARK drops it
        else
            fail("stack underflow in POP");
        break;
    case POP_MARK:
        m_stack.resize(pop_mark());
        break;
    case DUP:
        push_slot(top());
        break;

    // --- scalars ---
    case NONE:
        push_scalar(Kind::None);
        break;
    case NEWTRUE:
        push_bool(true);
        break;
    case NEWFALSE:
        push_bool(false);
        break;
    case INT: {
        std::string_view line = read_line();
        if (line == "00")
            push_bool(false);
        else if (line == "01")
            push_bool(true);
        else
            push_int(int_arg(line));
        break;
    }
    case BININT:
        push_int(int32_t(read_le<uint32_t>()));
        break;
    case BININT1:
        push_int(*read(1));
        break;
    case BININT2:
        push_int(read_le<uint16_t>());
        break;
    case LONG: {
        std::string_view line = read_line();
        if (!line.empty() && line.back() == 'L') line.remove_suffix(1);
        push_int(int_arg(line));
        break;
    }
    case LONG1: {
        uint8_t n = *read(1);
        push_int(long_bytes(read_counted(n)));
        break;
    }
    case LONG4: {
        int32_t n = int32_t(read_le<uint32_t>());
        if (n < 0) fail("negative LONG4 byte count");
        push_int(long_bytes(read_counted(uint64_t(n))));
        break;
    }
    case FLOAT:
        push_float(float_arg(read_line()));
        break;
    case BINFLOAT: {
        const uint8_t* p = read(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
        push_float(std::bit_cast<double>(u));
        break;
    }

    // --- strings and bytes ---
    case STRING:
        push_py2_str(escape_decode(read_line()));
        break;
    case BINSTRING: {
        int32_t n = int32_t(read_le<uint32_t>());
        if (n < 0) fail("negative BINSTRING byte count");
        push_py2_str(std::string(read_counted(uint64_t(n))));
        break;
    }
    case SHORT_BINSTRING:
        push_py2_str(std::string(read_counted(*read(1))));
        break;
    case UNICODE:
        push_text(Kind::String, raw_unicode_decode(read_line()));
        break;
    case SHORT_BINUNICODE:
        push_unicode(read_counted(*read(1)));
        break;
    case BINUNICODE:
        push_unicode(read_counted(read_le<uint32_t>()));
        break;
    case BINUNICODE8:
        push_unicode(read_counted(read_le<uint64_t>()));
        break;
    case SHORT_BINBYTES:
        push_text(Kind::Bytes, std::string(read_counted(*read(1))));
        break;
    case BINBYTES:
        push_text(Kind::Bytes, std::string(read_counted(read_le<uint32_t>())));
        break;
    case BINBYTES8:
    case BYTEARRAY8:
        push_text(Kind::Bytes, std::string(read_counted(read_le<uint64_t>())));
        break;
    case NEXT_BUFFER:
    case READONLY_BUFFER:
        fail("out-of-band buffers unsupported (" + op() + ")");

    // --- containers ---
    case EMPTY_TUPLE:
        push(make(Kind::Tuple), 1);
        break;
    case EMPTY_LIST:
        push(make(Kind::List), 1);
        break;
    case EMPTY_DICT:
        push(make(Kind::Dict), 1);
        break;
    case EMPTY_SET:
        push(make(Kind::Set), 1);
        break;
    case TUPLE:
        push_slot(collect(Kind::Tuple, pop_mark()));
        break;
    case LIST:
        push_slot(collect(Kind::List, pop_mark()));
        break;
    case FROZENSET:
        push_slot(collect(Kind::Set, pop_mark()));
        break;
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
        size_t n = size_t(m_op - TUPLE1 + 1);
        need(n);
        push_slot(collect(Kind::Tuple, m_stack.size() - n));
        break;
    }
    case DICT: {
        size_t m = pop_mark();
        if ((m_stack.size() - m) % 2) fail("odd number of items for DICT");
        ValuePtr d = make(Kind::Dict);
        size_t depth = 0;
        d->dict.reserve((m_stack.size() - m) / 2);
        for (size_t k = m; k < m_stack.size(); k += 2) {
            depth = std::max({depth, m_stack[k].depth, m_stack[k + 1].depth});
            d->dict.emplace_back(std::move(m_stack[k].v), std::move(m_stack[k + 1].v));
        }
        m_stack.resize(m);
        check_depth(depth + 1);
        push(std::move(d), depth + 1);
        break;
    }
    case APPEND: {
        Slot v = pop();
        Slot& t = top();
        if (t.v->is(Kind::List))
            t.v->items.push_back(std::move(v.v));
        else if (t.v->is(Kind::Object))
            t.v->list_items.push_back(std::move(v.v));
        else
            fail(std::string("APPEND to a ") + kind_name(t.v->kind));
        grow(t, v.depth);
        break;
    }
    case APPENDS: {
        size_t m = pop_mark();
        Slot& t = target_below(m);
        std::vector<ValuePtr>* into = nullptr;
        if (t.v->is(Kind::List))
            into = &t.v->items;
        else if (t.v->is(Kind::Object))
            into = &t.v->list_items;
        else
            fail(std::string("APPENDS to a ") + kind_name(t.v->kind));
        for (size_t k = m; k < m_stack.size(); ++k) {
            grow(t, m_stack[k].depth);
            into->push_back(std::move(m_stack[k].v));
        }
        m_stack.resize(m);
        break;
    }
    case SETITEM: {
        need(3);
        Slot v = pop();
        Slot k = pop();
        Slot& t = top();
        if (!t.v->is(Kind::Dict) && !t.v->is(Kind::Object))
            fail(std::string("SETITEM on a ") + kind_name(t.v->kind));
        grow(t, std::max(k.depth, v.depth));
        t.v->dict.emplace_back(std::move(k.v), std::move(v.v));
        break;
    }
    case SETITEMS: {
        size_t m = pop_mark();
        Slot& t = target_below(m);
        if (!t.v->is(Kind::Dict) && !t.v->is(Kind::Object))
            fail(std::string("SETITEMS on a ") + kind_name(t.v->kind));
        if ((m_stack.size() - m) % 2) fail("odd number of items for SETITEMS");
        for (size_t k = m; k < m_stack.size(); k += 2) {
            grow(t, std::max(m_stack[k].depth, m_stack[k + 1].depth));
            t.v->dict.emplace_back(std::move(m_stack[k].v), std::move(m_stack[k + 1].v));
        }
        m_stack.resize(m);
        break;
    }
    case ADDITEMS: {
        size_t m = pop_mark();
        Slot& t = target_below(m);
        if (!t.v->is(Kind::Set)) fail(std::string("ADDITEMS to a ") + kind_name(t.v->kind));
        for (size_t k = m; k < m_stack.size(); ++k) {
            grow(t, m_stack[k].depth);
            t.v->items.push_back(std::move(m_stack[k].v));
        }
        m_stack.resize(m);
        break;
    }

    // --- the memo ---
    case GET: {
        int64_t key = memo_key_arg(read_line());
        if (key < 0) fail("memo key " + std::to_string(key) + " not found");
        memo_get(uint64_t(key));
        break;
    }
    case BINGET:
        memo_get(*read(1));
        break;
    case LONG_BINGET:
        memo_get(read_le<uint32_t>());
        break;
    case PUT: {
        int64_t key = memo_key_arg(read_line());
        if (key < 0) fail("negative PUT argument");
        memo_put(uint64_t(key));
        break;
    }
    case BINPUT:
        memo_put(*read(1));
        break;
    case LONG_BINPUT:
        memo_put(read_le<uint32_t>());
        break;
    case MEMOIZE:
        memo_put(m_memo.size());
        break;

    // --- globals and objects, recorded, never called ---
    case GLOBAL: {
        std::string_view module = read_line();
        std::string_view name = read_line();
        push_global(module, name);
        break;
    }
    case STACK_GLOBAL: {
        need(2);
        Slot name = pop();
        Slot module = pop();
        if (!module.v->is(Kind::String) || !name.v->is(Kind::String))
            fail("STACK_GLOBAL requires str");
        push_global(module.v->s, name.v->s);
        break;
    }
    case REDUCE: {
        need(2);
        Slot args = pop();
        Slot callable = pop();
        push_slot(make_object(callable, std::move(args), "REDUCE callable"));
        break;
    }
    case NEWOBJ: {
        need(2);
        Slot args = pop();
        Slot cls = pop();
        push_slot(make_object(cls, std::move(args), "NEWOBJ class"));
        break;
    }
    case NEWOBJ_EX: {
        need(3);
        Slot kwargs = pop();
        Slot args = pop();
        Slot cls = pop();
        if (!kwargs.v->is(Kind::Dict))
            fail(std::string("NEWOBJ_EX keyword arguments are not a dict (got ") +
                 kind_name(kwargs.v->kind) + ")");
        Slot obj = make_object(cls, std::move(args), "NEWOBJ_EX class");
        obj.v->kwargs = std::move(kwargs.v);
        grow(obj, kwargs.depth);
        push_slot(std::move(obj));
        break;
    }
    case INST: {
        std::string_view module = read_line();
        std::string_view name = read_line();
        if (!valid_utf8(module) || !valid_utf8(name)) fail("invalid UTF-8 in INST");
        Slot args = collect(Kind::Tuple, pop_mark());
        ValuePtr obj = make(Kind::Object);
        obj->module = std::string(module);
        obj->name = std::string(name);
        obj->args = std::move(args.v);
        check_depth(args.depth + 1);
        push(std::move(obj), args.depth + 1);
        break;
    }
    case OBJ: {
        size_t m = pop_mark();
        if (m_stack.size() - m < 1) fail("stack underflow in OBJ");
        Slot cls = std::move(m_stack[m]);
        Slot args = collect(Kind::Tuple, m + 1);
        m_stack.pop_back(); // the moved-from class
        push_slot(make_object(cls, std::move(args), "OBJ class"));
        break;
    }
    case BUILD: {
        need(2);
        Slot state = pop();
        Slot& t = top();
        if (!t.v->is(Kind::Object)) fail(std::string("BUILD on a ") + kind_name(t.v->kind));
        t.v->state = std::move(state.v);
        grow(t, state.depth);
        break;
    }
    case PERSID: {
        std::string_view line = read_line();
        for (unsigned char c : line)
            if (c >= 0x80) fail("persistent id is not ASCII");
        ValuePtr s = make(Kind::String);
        s->s = std::string(line);
        ValuePtr p = make(Kind::PersistentId);
        p->pid = std::move(s);
        push(std::move(p), 1);
        break;
    }
    case BINPERSID: {
        Slot pid = pop();
        if (persistent_load)
            if (ValuePtr r = persistent_load(pid.v)) {
                push(std::move(r), pid.depth);
                break;
            }
        ValuePtr p = make(Kind::PersistentId);
        p->pid = std::move(pid.v);
        check_depth(pid.depth + 1);
        push(std::move(p), pid.depth + 1);
        break;
    }
    case EXT1:
        fail("extension registry unsupported (EXT1 code " + std::to_string(*read(1)) + ")");
    case EXT2:
        fail("extension registry unsupported (EXT2 code " + std::to_string(read_le<uint16_t>()) +
             ")");
    case EXT4:
        fail("extension registry unsupported (EXT4 code " +
             std::to_string(int32_t(read_le<uint32_t>())) + ")");
    default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", m_op);
        fail(std::string("unknown opcode ") + hex);
    }
    }
}

ValuePtr Machine::run() {
    while (m_pos < m_size) {
        m_op_pos = m_pos;
        m_op = m_data[m_pos++];
        if (m_op == STOP) return finish(pop()); // anything after STOP is ignored
        step();
    }
    m_op_pos = m_pos;
    fail("truncated: no STOP opcode");
}

// Measures the result's real nesting depth (APPEND / SETITEMS / BUILD through the memo
// can deepen containers already inside others, which the per-slot depths cannot see)
// and keeps the containers it reaches out of ~Machine's emptying. Iterative DFS; edges
// back to a container on the current path (cycles) are not followed.
ValuePtr Machine::finish(Slot result) {
    constexpr size_t on_path = std::numeric_limits<size_t>::max();
    std::unordered_map<const Value*, size_t> height; // finished containers, or on_path
    struct Frame {
        const Value* v;
        size_t next = 0;
        size_t h = 1;
    };
    std::vector<Frame> frames;
    if (result.v && is_container(result.v->kind)) {
        frames.push_back({result.v.get()});
        height[result.v.get()] = on_path;
    }
    while (!frames.empty()) {
        Frame& f = frames.back();
        if (f.next < child_count(*f.v)) {
            const Value* c = child_at(*f.v, f.next++);
            if (!c || !is_container(c->kind)) continue;
            auto [it, fresh] = height.try_emplace(c, on_path);
            if (!fresh) {
                if (it->second != on_path) f.h = std::max(f.h, it->second + 1);
                continue;
            }
            if (frames.size() >= m_limits.max_depth)
                fail("nesting deeper than " + std::to_string(m_limits.max_depth));
            frames.push_back({c});
            continue;
        }
        size_t h = f.h;
        check_depth(h);
        height[f.v] = h;
        frames.pop_back();
        if (!frames.empty()) frames.back().h = std::max(frames.back().h, h + 1);
    }
    // Everything the result does not reach is emptied and released here, flat.
    std::vector<ValuePtr> containers = std::move(m_containers);
    m_containers.clear();
    for (auto& c : containers)
        if (!height.count(c.get())) strip(*c);
    return std::move(result.v);
}

// --- describe ---------------------------------------------------------------------------

constexpr size_t k_max_elements = 8;  // elements shown per container
constexpr size_t k_max_text = 64;     // bytes shown of a str / bytes
constexpr size_t k_max_output = 4000; // total length, roughly

// Python's repr() of a float: the shortest round-trip digits, exponent form when the
// decimal point would be before -4 or after 16 digits.
std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    std::string sign;
    if (s[0] == '-') {
        sign = "-";
        s.erase(0, 1);
    }
    size_t e = s.find('e');
    int exp = std::atoi(s.c_str() + e + 1);
    std::string digits;
    for (size_t k = 0; k < e; ++k)
        if (s[k] != '.') digits += s[k];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    if (digits == "0") return sign + "0.0";
    int decpt = exp + 1;
    std::string out;
    if (decpt <= -4 || decpt > 16) {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += eb;
    } else if (decpt <= 0) {
        out = "0." + std::string(size_t(-decpt), '0') + digits;
    } else if (size_t(decpt) >= digits.size()) {
        out = digits + std::string(size_t(decpt) - digits.size(), '0') + ".0";
    } else {
        out = digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
    }
    return sign + out;
}

void escape_char(std::string& out, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '\\':
        out += "\\\\";
        return;
    case '\'':
        out += "\\'";
        return;
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    default:
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += char(c);
        }
    }
}

void text_repr(std::string& out, const std::string& s, bool bytes) {
    size_t n = std::min(s.size(), k_max_text);
    if (!bytes) // do not cut a UTF-8 sequence
        while (n < s.size() && n > 0 && (uint8_t(s[n]) & 0xc0) == 0x80) --n;
    if (bytes) out += 'b';
    out += '\'';
    for (size_t k = 0; k < n; ++k) {
        unsigned char c = s[k];
        if (bytes && c >= 0x80) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            escape_char(out, c);
        }
    }
    if (n < s.size()) out += "...";
    out += '\'';
}

class Describer {
  public:
    std::string out;

    void value(const Value* v, int depth) {
        if (out.size() > k_max_output) {
            out += "...";
            return;
        }
        if (!v) {
            out += "<null>";
            return;
        }
        switch (v->kind) {
        case Kind::None:
            out += "None";
            return;
        case Kind::Bool:
            out += v->b ? "True" : "False";
            return;
        case Kind::Int:
            out += std::to_string(v->i);
            return;
        case Kind::Float:
            out += float_repr(v->f);
            return;
        case Kind::String:
            text_repr(out, v->s, false);
            return;
        case Kind::Bytes:
            text_repr(out, v->s, true);
            return;
        case Kind::Global:
            out += v->qualified_name();
            return;
        case Kind::Tuple:
            out += '(';
            seq(v->items, depth);
            if (v->items.size() == 1 && depth > 0) out += ',';
            out += ')';
            return;
        case Kind::List:
            out += '[';
            seq(v->items, depth);
            out += ']';
            return;
        case Kind::Set:
            if (v->items.empty()) {
                out += "set()";
                return;
            }
            out += '{';
            seq(v->items, depth);
            out += '}';
            return;
        case Kind::Dict:
            out += '{';
            pairs(v->dict, depth);
            out += '}';
            return;
        case Kind::PersistentId:
            out += "persistent_id(";
            if (depth <= 0)
                out += "...";
            else
                value(v->pid.get(), depth - 1);
            out += ')';
            return;
        case Kind::Object:
            object(*v, depth);
            return;
        }
    }

  private:
    // Elements of a container at `depth` (each one level down), at most k_max_elements.
    void seq(const std::vector<ValuePtr>& items, int depth) {
        if (items.empty()) return;
        if (depth <= 0) {
            out += "...";
            return;
        }
        for (size_t k = 0; k < items.size(); ++k) {
            if (k) out += ", ";
            if (k == k_max_elements || out.size() > k_max_output) {
                out += "...";
                return;
            }
            value(items[k].get(), depth - 1);
        }
    }

    void pairs(const std::vector<std::pair<ValuePtr, ValuePtr>>& items, int depth) {
        if (items.empty()) return;
        if (depth <= 0) {
            out += "...";
            return;
        }
        for (size_t k = 0; k < items.size(); ++k) {
            if (k) out += ", ";
            if (k == k_max_elements || out.size() > k_max_output) {
                out += "...";
                return;
            }
            value(items[k].first.get(), depth - 1);
            out += ": ";
            value(items[k].second.get(), depth - 1);
        }
    }

    // module.name(arg, ..., kw=value, state=..., items={...}, list=[...]): the call
    // REDUCE / NEWOBJ recorded, then what BUILD / SETITEMS / APPENDS added.
    void object(const Value& v, int depth) {
        out += v.qualified_name();
        out += '(';
        bool any = false;
        auto sep = [&] {
            if (any) out += ", ";
            any = true;
        };
        bool has_more = (v.args && !v.args->items.empty()) || v.kwargs || v.state ||
                        !v.dict.empty() || !v.list_items.empty();
        if (depth <= 0) {
            if (has_more) out += "...";
            out += ')';
            return;
        }
        if (v.args) {
            if (v.args->is(Kind::Tuple)) {
                if (!v.args->items.empty()) {
                    sep();
                    seq(v.args->items, depth);
                }
            } else {
                sep();
                out += "*";
                value(v.args.get(), depth - 1);
            }
        }
        if (v.kwargs) {
            if (v.kwargs->is(Kind::Dict)) {
                size_t k = 0;
                for (const auto& [key, val] : v.kwargs->dict) {
                    sep();
                    if (k++ == k_max_elements || out.size() > k_max_output) {
                        out += "...";
                        break;
                    }
                    if (key && key->is(Kind::String))
                        out += key->s;
                    else
                        value(key.get(), depth - 1);
                    out += '=';
                    value(val.get(), depth - 1);
                }
            } else {
                sep();
                out += "**";
                value(v.kwargs.get(), depth - 1);
            }
        }
        if (v.state) {
            sep();
            out += "state=";
            value(v.state.get(), depth - 1);
        }
        if (!v.dict.empty()) {
            sep();
            out += "items={";
            pairs(v.dict, depth);
            out += '}';
        }
        if (!v.list_items.empty()) {
            sep();
            out += "list=[";
            seq(v.list_items, depth);
            out += ']';
        }
        out += ')';
    }
};

} // namespace

ValuePtr load(const uint8_t* data, size_t size, const std::string& path, const Limits& limits) {
    Machine m(data, size, path, limits);
    return m.run();
}

ValuePtr load_one(const uint8_t* data, size_t size, const std::string& path, size_t& consumed,
                  const std::function<ValuePtr(const ValuePtr&)>& persistent_load,
                  const Limits& limits) {
    Machine m(data, size, path, limits);
    m.persistent_load = persistent_load;
    ValuePtr v = m.run();
    consumed = m.consumed();
    return v;
}

void release(ValuePtr& v) {
    std::vector<ValuePtr> reached; // holds every container until all are emptied
    std::unordered_set<const Value*> seen;
    if (v && is_container(v->kind)) {
        reached.push_back(v);
        seen.insert(v.get());
    }
    for (size_t k = 0; k < reached.size(); ++k) {
        const Value& c = *reached[k];
        auto visit = [&](const ValuePtr& child) {
            if (child && is_container(child->kind) && seen.insert(child.get()).second)
                reached.push_back(child);
        };
        for (const auto& x : c.items) visit(x);
        for (const auto& [key, val] : c.dict) {
            visit(key);
            visit(val);
        }
        visit(c.args);
        visit(c.kwargs);
        visit(c.state);
        for (const auto& x : c.list_items) visit(x);
        visit(c.pid);
    }
    for (auto& c : reached) strip(*c);
    v.reset();
}

std::string describe(const ValuePtr& v, int max_depth) {
    Describer d;
    d.value(v.get(), max_depth);
    return d.out;
}

} // namespace nnscope::pickle
