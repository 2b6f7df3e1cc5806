// lexer.h: tokens of the Python subset that TorchScript's serializer writes into code/*.py.
//
// Python's rules where the serializer relies on them: indentation opens and closes blocks
// (INDENT / DEDENT), newlines end statements except inside brackets, strings in single or
// double quotes with backslash escapes. Anything else (tabs mixed into indentation, an
// unterminated string, a stray character) is a SyntaxError naming the line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../errors.h"

namespace nnscope::script {

// "code/__torch__.py:8: unknown operator torch.system_shell": where a script error is.
class ScriptError : public Error {
  public:
    ScriptError(std::string file, int line, const std::string& what, std::string kind = "RuntimeError")
        : Error(file + ":" + std::to_string(line) + ": " + what), m_file(std::move(file)),
          m_line(line), m_kind(std::move(kind)), m_what(what) {}
    const char* kind() const noexcept override { return m_kind.c_str(); }
    const std::string& file() const { return m_file; }
    int line() const { return m_line; }
    const std::string& message() const { return m_what; } // without file and line

  private:
    std::string m_file;
    int m_line;
    std::string m_kind, m_what;
};

enum class Tok { Name, Int, Float, String, Op, Newline, Indent, Dedent, End };

struct Token {
    Tok kind;
    std::string text; // names, operators, the decoded string
    int64_t i = 0;
    double f = 0;
    int line = 0;
};

// The whole file as tokens, ending with Newline, the closing Dedents and End.
std::vector<Token> tokenize(std::string_view source, const std::string& file);

} // namespace nnscope::script
