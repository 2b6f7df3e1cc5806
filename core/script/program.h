// program.h: a TorchScript archive's code, parsed, and its module objects.
//
// A Program holds every code/*.py file of one archive (classes and functions by qualified
// name) and its constants (constants.pkl, CONSTANTS.cN in the code). A ScriptModule is an
// nn.Module of the tree whose class lives in the program: parameters, buffers and children
// are the Module's own (so to(), load_state_dict() and the views work on them as on any
// module); its other attributes (ints, lists, Optional values) are kept as values here.
// forward() runs the class's forward method through the interpreter (interpreter.h).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ast.h"
#include "module.h"
#include "value.h"

namespace nnscope::script {

// Bounds on one call into the program: what a hostile archive cannot exceed.
struct Limits {
    int max_call_depth = 200;                  // nested calls of functions and methods
    int64_t max_statements = 2'000'000'000;    // statements and loop iterations, all told
    double timeout_s = 60;                     // wall-clock seconds; <= 0 for none
    uint64_t max_bytes = uint64_t(256) << 30;  // tensor bytes allocated (temporaries included)
    const std::atomic<bool>* cancel = nullptr; // set from another thread to stop (the window)
};

class Program {
  public:
    void add_file(CodeFile file);
    // A code file that did not parse: every run fails with this error, inspection works.
    void set_load_error(std::string file, int line, std::string message, std::string kind);
    const ClassDef* find_class(const std::string& qualified) const;
    const Function* find_function(const std::string& qualified) const;

    std::vector<Value> constants;
    Limits limits;
    bool traced = false;     // made by torch.jit.trace: training mode was frozen into the code
    std::string source_path; // the archive the code came from (to write it back with new data)
    std::string load_error_file, load_error_message, load_error_kind;
    int load_error_line = 0;

  private:
    std::vector<std::unique_ptr<CodeFile>> m_files;
    std::map<std::string, const ClassDef*> m_classes;
    std::map<std::string, const Function*> m_functions;
};

class ScriptModule : public Module {
  public:
    ScriptModule(std::shared_ptr<Program> program, const ClassDef* cls, std::string type_name);

    bool has_forward() const override;
    bool runnable() const override { return has_forward(); }
    // Runs forward(x); the output must be a tensor (the first of a tuple otherwise).
    Tensor forward(const Tensor& x) override;
    // Runs a method with any arguments and returns what it returns. A call that fails
    // leaves the module tree as it was before it (buffers, rebound attributes).
    Value call(const std::string& method, ValueList args);

    const ClassDef* script_class() const { return m_class; }
    const std::shared_ptr<Program>& program() const { return m_program; }
    // Attributes that are neither tensors nor modules: ints, floats, lists, None, ...
    std::map<std::string, Value> values;
    // Tensors inside list attributes (LSTM's _flat_weights) that are the module's own
    // parameters or buffers: per attribute, the names to read them from when asked.
    std::map<std::string, std::vector<std::string>> tensor_lists;

  private:
    std::shared_ptr<Program> m_program;
    const ClassDef* m_class;
};

} // namespace nnscope::script
