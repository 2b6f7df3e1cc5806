// lexer.cpp: the tokenizer (see lexer.h).
#include "lexer.h"

#include <cerrno>
#include <cstdlib>

#include "utf8.h"

namespace nnscope::script {

namespace {

constexpr size_t k_max_indent_levels = 100;

bool name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}
bool digit(char c) {
    return c >= '0' && c <= '9';
}

class Lexer {
  public:
    Lexer(std::string_view src, const std::string& file) : m_src(src), m_file(file) {}

    std::vector<Token> run() {
        m_indents.push_back(0);
        bool line_start = true;
        while (m_pos < m_src.size()) {
            if (line_start && m_depth == 0) {
                if (!indentation()) continue; // a blank or comment line
                line_start = false;
            }
            const char c = m_src[m_pos];
            if (c == '\n') {
                ++m_pos;
                if (m_depth == 0) {
                    push(Tok::Newline, "");
                    line_start = true;
                }
                ++m_line;
            } else if (c == ' ' || c == '\r' || c == '\t') {
                ++m_pos;
            } else if (c == '#') {
                while (m_pos < m_src.size() && m_src[m_pos] != '\n') ++m_pos;
            } else if (c == '\\' && m_pos + 1 < m_src.size() && m_src[m_pos + 1] == '\n') {
                m_pos += 2;
                ++m_line;
            } else if (name_start(c)) {
                size_t b = m_pos;
                while (m_pos < m_src.size() && name_char(m_src[m_pos])) ++m_pos;
                push(Tok::Name, std::string(m_src.substr(b, m_pos - b)));
            } else if (digit(c) ||
                       (c == '.' && m_pos + 1 < m_src.size() && digit(m_src[m_pos + 1]))) {
                number();
            } else if (c == '"' || c == '\'') {
                string(c);
            } else {
                op();
            }
        }
        if (!m_tokens.empty() && m_tokens.back().kind != Tok::Newline) push(Tok::Newline, "");
        while (m_indents.size() > 1) {
            m_indents.pop_back();
            push(Tok::Dedent, "");
        }
        push(Tok::End, "");
        return std::move(m_tokens);
    }

  private:
    [[noreturn]] void fail(const std::string& what) {
        throw ScriptError(m_file, m_line, what, "SyntaxError");
    }

    void push(Tok kind, std::string text) {
        Token t;
        t.kind = kind;
        t.text = std::move(text);
        t.line = m_line;
        m_tokens.push_back(std::move(t));
    }

    // Measures the indentation of a new line; false for a blank or comment-only line.
    bool indentation() {
        size_t width = 0, p = m_pos;
        while (p < m_src.size() && (m_src[p] == ' ' || m_src[p] == '\t')) {
            if (m_src[p] == '\t') fail("tabs in indentation");
            ++width, ++p;
        }
        if (p >= m_src.size() || m_src[p] == '\n' || m_src[p] == '#' || m_src[p] == '\r') {
            while (p < m_src.size() && m_src[p] != '\n') ++p;
            if (p < m_src.size()) ++p, ++m_line;
            m_pos = p;
            return false;
        }
        m_pos = p;
        if (width > m_indents.back()) {
            if (m_indents.size() >= k_max_indent_levels)
                fail("blocks nested deeper than " + std::to_string(k_max_indent_levels) +
                     " levels");
            m_indents.push_back(width);
            push(Tok::Indent, "");
        } else {
            while (width < m_indents.back()) {
                m_indents.pop_back();
                push(Tok::Dedent, "");
            }
            if (width != m_indents.back())
                fail("unindent does not match any outer indentation level");
        }
        return true;
    }

    void number() {
        size_t b = m_pos;
        bool is_float = false;
        while (m_pos < m_src.size() && digit(m_src[m_pos])) ++m_pos;
        if (m_pos < m_src.size() && m_src[m_pos] == '.') {
            is_float = true;
            ++m_pos;
            while (m_pos < m_src.size() && digit(m_src[m_pos])) ++m_pos;
        }
        if (m_pos < m_src.size() && (m_src[m_pos] == 'e' || m_src[m_pos] == 'E')) {
            size_t p = m_pos + 1;
            if (p < m_src.size() && (m_src[p] == '+' || m_src[p] == '-')) ++p;
            if (p < m_src.size() && digit(m_src[p])) {
                is_float = true;
                m_pos = p;
                while (m_pos < m_src.size() && digit(m_src[m_pos])) ++m_pos;
            }
        }
        if (m_pos < m_src.size() && name_char(m_src[m_pos])) fail("invalid number literal");
        std::string text(m_src.substr(b, m_pos - b));
        Token t;
        t.line = m_line;
        t.text = text;
        errno = 0;
        if (is_float) {
            t.kind = Tok::Float;
            t.f = std::strtod(text.c_str(), nullptr);
        } else {
            t.kind = Tok::Int;
            t.i = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) fail("integer literal " + text + " does not fit in 64 bits");
        }
        m_tokens.push_back(std::move(t));
    }

    unsigned hex_digits(int n) {
        unsigned v = 0;
        for (int k = 0; k < n; ++k) {
            if (m_pos >= m_src.size()) fail("truncated escape in a string");
            char c = m_src[m_pos++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= unsigned(c - 'A' + 10);
            else
                fail("invalid escape in a string");
        }
        return v;
    }

    void string(char quote) {
        const int start_line = m_line;
        ++m_pos;
        std::string out;
        for (;;) {
            if (m_pos >= m_src.size() || m_src[m_pos] == '\n') {
                m_line = start_line;
                fail("unterminated string");
            }
            char c = m_src[m_pos++];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_pos >= m_src.size()) fail("unterminated string");
            char e = m_src[m_pos++];
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case '0':
                out += '\0';
                break;
            case 'a':
                out += '\a';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'v':
                out += '\v';
                break;
            case '\\':
                out += '\\';
                break;
            case '\'':
                out += '\'';
                break;
            case '"':
                out += '"';
                break;
            case '\n':
                ++m_line;
                break;
            case 'x':
                out += char(hex_digits(2));
                break;
            case 'u':
                append_utf8(out, hex_digits(4));
                break;
            case 'U': {
                unsigned cp = hex_digits(8);
                if (cp > 0x10FFFF) fail("invalid escape in a string");
                append_utf8(out, cp);
                break;
            }
            default:
                fail(std::string("invalid escape \\") + e + " in a string");
            }
        }
        push(Tok::String, std::move(out));
    }

    void op() {
        static const char* three[] = {"**=", "//=", ">>=", "<<=", "..."};
        static const char* two[] = {"->", "==", "!=", "<=", ">=", "**", "//", "+=", "-=",
                                    "*=", "/=", "%=", "<<", ">>", "&=", "|=", "^=", "@="};
        for (const char* t : three)
            if (m_src.substr(m_pos, 3) == t) {
                m_pos += 3;
                push(Tok::Op, t);
                return;
            }
        for (const char* t : two)
            if (m_src.substr(m_pos, 2) == t) {
                m_pos += 2;
                push(Tok::Op, t);
                return;
            }
        const char c = m_src[m_pos];
        if (std::string_view("()[]{},:.;=+-*/%<>@&|^~").find(c) == std::string_view::npos)
            fail(std::string("unexpected character '") +
                 (c >= 32 && c < 127 ? std::string(1, c)
                                     : "\\x" + std::to_string(unsigned(uint8_t(c)))) +
                 "'");
        ++m_pos;
        if (c == '(' || c == '[' || c == '{') ++m_depth;
        if ((c == ')' || c == ']' || c == '}') && m_depth > 0) --m_depth;
        push(Tok::Op, std::string(1, c));
    }

    std::string_view m_src;
    const std::string& m_file;
    size_t m_pos = 0;
    int m_line = 1;
    int m_depth = 0; // open brackets: newlines inside them do not end a statement
    std::vector<size_t> m_indents;
    std::vector<Token> m_tokens;
};

} // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& file) {
    if (!valid_utf8(source)) throw ScriptError(file, 1, "not valid UTF-8 text", "SyntaxError");
    return Lexer(source, file).run();
}

} // namespace nnscope::script
