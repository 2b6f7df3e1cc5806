// program.cpp: the archive's parsed code and the module objects that run it (see program.h).
#include "program.h"

#include "autograd.h"
#include "errors.h"
#include "interpreter.h"

namespace nnscope::script {

void Program::add_file(CodeFile file) {
    auto f = std::make_unique<CodeFile>(std::move(file));
    for (const auto& c : f->classes) {
        m_classes[c->qualified] = c.get();
        for (const auto& m : c->methods) m_functions.emplace(m->qualified, m.get());
    }
    for (const auto& fn : f->functions) m_functions[fn->qualified] = fn.get();
    m_files.push_back(std::move(f));
}

void Program::set_load_error(std::string file, int line, std::string message, std::string kind) {
    if (!load_error_message.empty()) return; // the first one
    load_error_file = std::move(file);
    load_error_line = line;
    load_error_message = std::move(message);
    load_error_kind = std::move(kind);
}

const ClassDef* Program::find_class(const std::string& qualified) const {
    auto it = m_classes.find(qualified);
    return it == m_classes.end() ? nullptr : it->second;
}

const Function* Program::find_function(const std::string& qualified) const {
    auto it = m_functions.find(qualified);
    return it == m_functions.end() ? nullptr : it->second;
}

ScriptModule::ScriptModule(std::shared_ptr<Program> program, const ClassDef* cls,
                           std::string type_name)
    : Module(std::move(type_name)), m_program(std::move(program)), m_class(cls) {
    set_strict_names(false);
}

bool ScriptModule::has_forward() const {
    return m_class && m_class->method("forward");
}

Tensor ScriptModule::forward(const Tensor& x) {
    Value out = call("forward", {Value::tensor(x)});
    set_output_shapes(tensor_shapes(out));
    // A tuple output (an LSTM's (output, (h, c))): its first tensor is what a step shows.
    while (out.is_sequence() && !out.list->empty()) out = Value((*out.list)[0]);
    if (out.kind != Value::Kind::Tensor)
        throw TypeError("forward() returned " + script::type_name(out) + ", not a tensor");
    return out.t;
}

Value ScriptModule::call(const std::string& method, ValueList args) {
    // What the code may change: buffers and attributes in place or rebound, parameters
    // rebound. Their handles (and the values of buffers and attributes) are put back when
    // the call fails, so a failed or stopped step changes nothing.
    struct Saved {
        Module* owner;
        std::string name;
        TensorKind kind;
        Tensor handle, copy;
    };
    std::vector<Saved> saved;
    std::vector<std::pair<ScriptModule*, std::map<std::string, Value>>> saved_values;
    {
        NoGradGuard no_grad;
        for (auto& e : tensor_entries()) {
            Tensor copy =
                e.kind != TensorKind::Parameter && e.tensor.defined() ? e.tensor.clone() : Tensor();
            saved.push_back({e.owner, e.local_name, e.kind, e.tensor, copy});
        }
        for (auto& [_, m] : named_modules())
            if (auto* sm = dynamic_cast<ScriptModule*>(m.get()); sm && !sm->values.empty())
                saved_values.emplace_back(sm, sm->values);
    }
    try {
        return run_method(*this, method, std::move(args));
    } catch (...) {
        NoGradGuard no_grad;
        for (auto& s : saved) {
            if (s.kind == TensorKind::Parameter) {
                if (!s.owner->own_parameters().find(s.name)->is_same(s.handle))
                    s.owner->register_parameter(s.name, s.handle,
                                                s.handle.defined() && s.handle.requires_grad());
                continue;
            }
            s.owner->set_attr(s.name, s.handle);
            if (s.copy.defined()) Tensor(s.handle).copy_(s.copy);
        }
        for (auto& [sm, values] : saved_values) sm->values = values;
        throw;
    }
}

} // namespace nnscope::script
