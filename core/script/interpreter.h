// interpreter.h: runs a Program's functions and methods (a tree-walking evaluator).
//
// It reads code, it does not host it: the only things code can reach are the values it is
// given, the module tree, and the operator table (ops.h). Calls nest at most
// Limits::max_call_depth deep, statements and loop iterations are counted, wall-clock time
// and a cancel flag are checked as it goes, and tensor memory is bounded (program.h).
// Errors name the code file and line of the statement that failed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "program.h"

namespace nnscope::script {

// Calls `method` of `self`'s class with `args` (self not included). Used by ScriptModule.
Value run_method(ScriptModule& self, const std::string& method, ValueList args);

} // namespace nnscope::script
