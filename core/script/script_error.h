// script_error.h: the error every stage of the TorchScript interpreter throws, naming the
// code file and line (lexer, parser, evaluator, operators).
#pragma once

#include <string>

#include "errors.h"

namespace nnscope::script {

// "code/__torch__.py:8: unknown operator torch.system_shell": where a script error is.
class ScriptError : public Error {
  public:
    ScriptError(std::string file, int line, const std::string& what,
                std::string kind = "RuntimeError")
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

} // namespace nnscope::script
