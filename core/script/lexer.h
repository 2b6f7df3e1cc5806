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

#include "script_error.h"

namespace nnscope::script {

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
