// pickle.h: a pickle virtual machine that builds inert values and never calls anything.
//
// Python's pickle runs code: GLOBAL/STACK_GLOBAL name any callable and REDUCE calls it.
// Here a global is only a name (module, qualname) and REDUCE/NEWOBJ/BUILD only record
// what would have been called with what, as an Object value. Interpreting known globals
// (torch._utils._rebuild_tensor_v2, collections.OrderedDict, ...) is the caller's job
// (torch_pt.cpp), so nothing in a file can ever execute. Protocols 0 to 5.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nnscope::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind {
    None,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,
    Object,
    PersistentId
};

struct Value {
    Kind kind = Kind::None;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;               // String (UTF-8) and Bytes
    std::vector<ValuePtr> items; // Tuple, List, Set (and FROZENSET)
    std::vector<std::pair<ValuePtr, ValuePtr>>
        dict;                         // Dict, in insertion order; an Object's SETITEMS
    std::string module, name;         // Global; an Object's class
    ValuePtr args;                    // Object: the argument tuple of REDUCE / NEWOBJ
    ValuePtr kwargs;                  // Object: NEWOBJ_EX's keyword arguments
    ValuePtr state;                   // Object: BUILD's argument (__setstate__ / __dict__)
    std::vector<ValuePtr> list_items; // Object: APPEND(S) applied to it
    ValuePtr pid;                     // PersistentId: the persistent id value

    bool is(Kind k) const { return kind == k; }
    // For an Object or a Global: "module.name".
    std::string qualified_name() const { return module + "." + name; }
};

struct Limits {
    size_t max_stack = 1'000'000;   // values on the stack, marks included
    size_t max_memo = 10'000'000;   // memo entries
    size_t max_depth = 1'000;       // nesting of containers built (and of describe())
    size_t max_values = 50'000'000; // values created in total
};

// Runs the pickle in bytes [data, data + size) and returns the value STOP returns.
// Throws nnscope::FormatError(path, "pickle: <what> at byte <offset>") for anything
// malformed, unsupported (EXT*), or over a limit.
ValuePtr load(const uint8_t* data, size_t size, const std::string& path, const Limits& limits = {});
// One pickle of several in a row (the legacy torch.save format): `consumed` receives its
// length, STOP included. `persistent_load`, when it returns a value, stands for a
// persistent id (BINPERSID) as Unpickler.persistent_load does; null keeps the id.
ValuePtr load_one(const uint8_t* data, size_t size, const std::string& path, size_t& consumed,
                  const std::function<ValuePtr(const ValuePtr&)>& persistent_load,
                  const Limits& limits = {});

// Frees a loaded value now and resets `v`: every container reachable from it is emptied
// (iteratively), which also frees values that refer to themselves (a list that contains
// itself, say), which shared_ptr alone never frees. Other pointers into the same graph
// see empty containers afterwards. Optional otherwise: dropping the last pointer frees
// an acyclic result (load() bounds its nesting, so that never recurses deeply).
void release(ValuePtr& v);

// A short Python-like rendering for messages and tests: "OrderedDict(...)",
// "('storage', torch.FloatStorage, '0', 'cpu', 4)", depth- and length-limited.
std::string describe(const ValuePtr& v, int max_depth = 3);

} // namespace nnscope::pickle
