// parser.h: parses one TorchScript code file (the Python subset python_print.cpp writes)
// into the syntax tree of ast.h. Throws ScriptError (SyntaxError) naming file and line.
#pragma once

#include <string>
#include <string_view>

#include "ast.h"

namespace nnscope::script {

// `path` is the file's name inside the archive ("code/__torch__.py"), used in errors;
// `module` its dotted module name, used to qualify classes and functions.
CodeFile parse_code_file(std::string_view source, const std::string& path,
                         const std::string& module);

// One expression, for operator schemas' defaults and tests.
ExprPtr parse_expression(std::string_view source, const std::string& what);

} // namespace nnscope::script
