// torchscript.cpp: the module tree of a TorchScript archive, from data.pkl's objects and the
// class declarations in code/ (see torchscript.h). Reads declarations only: no code runs.
#include "torchscript.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>

#include "autograd.h"
#include "errors.h"
#include "lexer.h"
#include "parser.h"
#include "program.h"
#include "torch_archive.h"
#include "torch_zip.h"

namespace nnscope::torchscript {

using pickle::Kind;
using pickle::ValuePtr;
using torchpt::Archive;
using torchpt::dict_get;
using torchpt::dict_items;

namespace {

constexpr uint64_t k_max_code_file = uint64_t(64) << 20; // one code/*.py file
constexpr int k_max_depth = 200;                         // nesting of modules

// What a class of the archive declares: which attributes are parameters and buffers.
struct ClassDecl {
    std::vector<std::string> parameters, buffers;
};

// The strings of a list literal as the serializer writes it: ["weight", "bias", ].
std::vector<std::string> string_list(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while ((i = text.find('"', i)) != std::string_view::npos) {
        size_t end = text.find('"', i + 1);
        if (end == std::string_view::npos) break;
        out.emplace_back(text.substr(i + 1, end - i - 1));
        i = end + 1;
    }
    return out;
}

bool is_module(const ValuePtr& v) {
    return v && v->is(Kind::Object) && v->module.starts_with("__torch__") && v->state &&
           dict_get(v->state, "training");
}

// "code/__torch__/torch/nn/modules/conv.py" -> "__torch__.torch.nn.modules.conv"
std::string module_of(const std::string& file) {
    std::string m = file.substr(5, file.size() - 8);
    for (char& c : m)
        if (c == '/') c = '.';
    return m;
}

// Every code/*.py file of the archive, parsed. A file that does not parse is kept as the
// program's load error: the tree still opens (inspection needs declarations only).
std::shared_ptr<script::Program> parse_program(Archive& archive) {
    auto program = std::make_shared<script::Program>();
    bool reads_training = false;
    for (const auto& name : archive.zip().names()) {
        if (!name.starts_with(archive.prefix() + "code/") || !name.ends_with(".py")) continue;
        const std::string file = name.substr(archive.prefix().size());
        const std::string code = archive.zip().read(name, k_max_code_file);
        reads_training = reads_training || code.find(".training\n") != std::string::npos ||
                         code.find("self.training") != std::string::npos ||
                         code.find(".training,") != std::string::npos;
        try {
            program->add_file(script::parse_code_file(code, file, module_of(file)));
        } catch (const script::ScriptError& e) {
            program->set_load_error(e.file(), e.line(), e.message(), e.kind());
        }
    }
    program->traced = !reads_training;
    return program;
}

// TorchScript's typed lists (torch.jit._pickle.build_intlist([...]), ...) and type tags
// (restore_type_tag(list, "List[Tensor]")): the value inside; anything else as it is.
const ValuePtr& untagged(const ValuePtr& v) {
    if (v && v->is(Kind::Object) && v->module == "torch.jit._pickle" && v->args &&
        v->args->is(Kind::Tuple) && !v->args->items.empty() &&
        (v->name.starts_with("build_") || v->name == "restore_type_tag"))
        return v->args->items[0];
    return v;
}

// A value of data.pkl or constants.pkl as the interpreter's value; tensors through the
// archive. Objects other than tensors (a NamedTuple, an enum) are not values it knows.
script::Value to_value(Archive& archive, const ValuePtr& v, const std::string& where,
                       int depth = 0) {
    using script::Value;
    if (depth > 100) throw FormatError(archive.path(), where + ": values nested too deeply");
    if (!v) return Value::none();
    switch (v->kind) {
    case Kind::None:
        return Value::none();
    case Kind::Bool:
        return Value::boolean(v->b);
    case Kind::Int:
        return Value::integer(v->i);
    case Kind::Float:
        return Value::number(v->f);
    case Kind::String:
        return Value::str(v->s);
    case Kind::Tuple:
    case Kind::List: {
        script::ValueList items;
        for (const auto& x : v->items) items.push_back(to_value(archive, x, where, depth + 1));
        return Value::make_list(std::move(items),
                                v->is(Kind::Tuple) ? Value::Kind::Tuple : Value::Kind::List);
    }
    default:
        break;
    }
    if (Archive::is_tensor(v)) return Value::tensor(archive.tensor(v, where));
    if (const ValuePtr& inner = untagged(v); inner != v)
        return to_value(archive, inner, where, depth + 1);
    if (auto items = dict_items(v)) {
        Value d;
        d.kind = Value::Kind::Dict;
        d.dict = std::make_shared<script::DictData>();
        for (const auto& [k, x] : *items)
            d.dict->items.emplace_back(to_value(archive, k, where, depth + 1),
                                       to_value(archive, x, where, depth + 1));
        return d;
    }
    throw FormatError(archive.path(), where + ": unsupported value " + pickle::describe(v, 1));
}

class TreeBuilder {
  public:
    TreeBuilder(Archive& archive, std::shared_ptr<script::Program> program)
        : m_archive(archive), m_program(std::move(program)) {}

    ModulePtr build(const ValuePtr& obj, const std::string& where, int depth) {
        if (depth > k_max_depth)
            throw FormatError(m_archive.path(), where + ": modules nested deeper than " +
                                                    std::to_string(k_max_depth) + " levels");
        const ClassDecl& decl = declaration(obj);
        auto m = std::make_shared<script::ScriptModule>(
            m_program, m_program->find_class(obj->qualified_name()), obj->name);
        const ValuePtr& st = obj->state;
        auto prefixed = [&](const std::string& k) { return where.empty() ? k : where + "." + k; };
        auto value = [&](const std::string& k) -> ValuePtr {
            const ValuePtr* v = dict_get(st, k);
            return v ? *v : nullptr;
        };
        auto tensor_or_none = [&](const std::string& k, const char* what) {
            ValuePtr v = value(k);
            if (v && v->is(Kind::None)) return Tensor();
            if (!Archive::is_tensor(v))
                throw FormatError(m_archive.path(), prefixed(k) + ": " + what +
                                                        " declared by class " + obj->name +
                                                        " is not a tensor in data.pkl");
            return m_archive.tensor(v, prefixed(k));
        };
        for (const auto& k : decl.parameters) {
            Tensor t = tensor_or_none(k, "parameter");
            m->register_parameter(k, t, t.defined() && t.is_floating_point());
        }
        // TorchScript keeps no non-persistent flag: every buffer is in its state_dict().
        for (const auto& k : decl.buffers) m->register_buffer(k, tensor_or_none(k, "buffer"), true);
        if (auto items = dict_items(st))
            for (const auto& [k, v] : *items) {
                if (!k || !k->is(Kind::String)) continue;
                if (is_module(v))
                    m->register_module(k->s, build(v, prefixed(k->s), depth + 1));
                else if (Archive::is_tensor(v) && !declared(decl, k->s))
                    m->set_attr(k->s, m_archive.tensor(v, prefixed(k->s)));
                else if (!Archive::is_tensor(v) && k->s != "training")
                    keep_value(*m, k->s, v, prefixed(k->s));
            }
        if (ValuePtr training = value("training"); training && training->is(Kind::Bool))
            torchpt::set_own_training(*m, training->b);
        return m;
    }

  private:
    // A non-tensor attribute (an int, a list, None) for the code to read. A list of the
    // module's own tensors (LSTM's _flat_weights) is kept as their names, so it follows them
    // through to() and load_state_dict(). What the interpreter cannot hold is left out: the
    // code fails on it by name if it ever reads it.
    void keep_value(script::ScriptModule& m, const std::string& name, const ValuePtr& tagged,
                    const std::string& where) {
        const ValuePtr& v = untagged(tagged);
        if (v && v->is(Kind::List) && !v->items.empty() && Archive::is_tensor(v->items[0])) {
            std::vector<std::string> names;
            for (const auto& x : v->items) {
                if (!Archive::is_tensor(x)) return;
                // The same pickled tensor as a parameter: registering made the parameter a
                // tensor of its own over the same bytes, so match by bytes and geometry.
                Tensor t = m_archive.tensor(x, where);
                auto same = [&](const Tensor& p) {
                    return p.defined() && p.shares_storage_with(t) &&
                           p.storage_offset() == t.storage_offset() && p.shape() == t.shape() &&
                           p.strides() == t.strides();
                };
                std::string found;
                for (const auto& [n, p] : m.own_parameters())
                    if (same(p)) found = n;
                for (const auto& [n, b] : m.own_buffers())
                    if (same(b)) found = n;
                if (found.empty()) break;
                names.push_back(found);
            }
            if (names.size() == v->items.size()) {
                m.tensor_lists[name] = std::move(names);
                return;
            }
        }
        try {
            m.values[name] = to_value(m_archive, v, where);
        } catch (const FormatError&) {
        }
    }

    static bool declared(const ClassDecl& d, const std::string& name) {
        return std::find(d.parameters.begin(), d.parameters.end(), name) != d.parameters.end() ||
               std::find(d.buffers.begin(), d.buffers.end(), name) != d.buffers.end();
    }

    // The declaration of obj's class: `class NAME(Module):` in code/<module path>.py.
    const ClassDecl& declaration(const ValuePtr& obj) {
        const std::string qualified = obj->qualified_name();
        if (auto it = m_classes.find(qualified); it != m_classes.end()) return it->second;
        std::string file = "code/" + obj->module + ".py";
        for (size_t i = 5; i < file.size() - 3; ++i)
            if (file[i] == '.') file[i] = '/';
        const std::string entry = m_archive.prefix() + file;
        if (!m_archive.zip().has(entry))
            throw FormatError(m_archive.path(),
                              "class " + qualified + " is not in the archive (no " + file + ")");
        const std::string code = m_archive.zip().read(entry, k_max_code_file);
        const std::string head = "class " + obj->name + "(";
        size_t at = code.starts_with(head) ? 0 : code.find("\n" + head);
        if (at == std::string::npos)
            throw FormatError(m_archive.path(), file + ": no declaration of class " + obj->name);
        ClassDecl decl;
        bool have_parameters = false, have_buffers = false;
        size_t line_start = code.find('\n', at + 1);
        int line_no = 1 + int(std::count(code.begin(), code.begin() + long(at + 1), '\n'));
        while (line_start != std::string::npos) {
            ++line_no;
            size_t line_end = code.find('\n', line_start + 1);
            std::string_view line(code.data() + line_start + 1,
                                  (line_end == std::string::npos ? code.size() : line_end) -
                                      line_start - 1);
            line_start = line_end;
            if (!line.starts_with("  ") || line.starts_with("  def ")) break;
            line.remove_prefix(2);
            if (line.starts_with("__parameters__ = ["))
                decl.parameters = string_list(line), have_parameters = true;
            else if (line.starts_with("__buffers__ = ["))
                decl.buffers = string_list(line), have_buffers = true;
        }
        if (!have_parameters || !have_buffers)
            throw FormatError(m_archive.path(), file + ":" + std::to_string(line_no) + ": class " +
                                                    obj->name +
                                                    " declares no __parameters__ or __buffers__");
        return m_classes.emplace(qualified, std::move(decl)).first->second;
    }

    Archive& m_archive;
    std::shared_ptr<script::Program> m_program;
    std::map<std::string, ClassDecl> m_classes;
};

} // namespace

bool is_torchscript(const torchzip::ZipReader& zip) {
    bool code = false, data = false;
    for (const auto& n : zip.names()) {
        const size_t slash = n.find('/');
        const std::string_view rest = slash == std::string::npos
                                          ? std::string_view(n)
                                          : std::string_view(n).substr(slash + 1);
        code = code || rest.starts_with("code/") || n.starts_with("code/");
        data = data || rest == "data.pkl" || n == "data.pkl";
    }
    return code && data;
}

LoadedModel open_torchscript(const std::string& path) {
    Archive archive(path);
    const ValuePtr& root = archive.root();
    if (!is_module(root))
        throw FormatError(path, "data.pkl holds " + pickle::describe(root, 1) +
                                    ", not a TorchScript module");
    LoadedModel doc;
    doc.format = "torchscript";
    doc.kind_source = KindSource::Declared;
    auto program = parse_program(archive);
    program->source_path = path;
    doc.root = TreeBuilder(archive, program).build(root, "", 0);
    archive.set_storage_folder("constants/");
    if (ValuePtr constants = archive.load_pickle("constants.pkl")) {
        script::Value c = to_value(archive, constants, "constants.pkl");
        if (c.is_sequence()) program->constants = *c.list;
    }
    if (!program->load_error_message.empty())
        doc.note = "not runnable: " + program->load_error_file + ":" +
                   std::to_string(program->load_error_line) + ": " + program->load_error_message;
    else if (program->traced)
        doc.note =
            "traced: its code never reads self.training, so train and eval mode run the same code "
            "(the mode it was traced in)";
    return doc;
}

} // namespace nnscope::torchscript

namespace nnscope::torchscript {

void save_torchscript(Module& root, const std::string& out) {
    auto* top = dynamic_cast<script::ScriptModule*>(&root);
    if (!top || top->program()->source_path.empty())
        throw FormatError(out,
                          "only a model opened from a TorchScript archive can be saved as one");
    const std::string& source = top->program()->source_path;
    // The archive again, as it was read: which storage bytes hold which tensor of the tree.
    Archive archive(source);
    if (archive.big_endian())
        throw FormatError(out, "cannot rewrite a big-endian archive (" + source + ")");
    ModulePtr original =
        TreeBuilder(archive, std::make_shared<script::Program>()).build(archive.root(), "", 0);
    std::map<std::string, Tensor> now;
    for (const auto& e : root.tensor_entries()) now[e.name] = e.tensor;
    std::map<std::string, Tensor> storages; // record name -> new bytes
    NoGradGuard no_grad;
    for (const auto& e : original->tensor_entries()) {
        if (!e.tensor.defined()) continue;
        auto it = now.find(e.name);
        if (it == now.end() || !it->second.defined())
            throw FormatError(out, e.name + " is in " + source + " but no longer in the model");
        const Tensor& cur = it->second;
        if (cur.shape() != e.tensor.shape() || cur.dtype() != e.tensor.dtype())
            throw FormatError(out, e.name + " is now " + std::string(dtype_name(cur.dtype())) +
                                       " " + shape_str(cur.shape()) +
                                       " but the archive's code was saved with " +
                                       std::string(dtype_name(e.tensor.dtype())) + " " +
                                       shape_str(e.tensor.shape()));
        std::string record;
        for (const auto& [name, s] : archive.storages())
            if (s.impl()->storage == e.tensor.impl()->storage) record = name;
        if (record.empty()) throw FormatError(out, e.name + ": no storage record in " + source);
        auto [pos, fresh] = storages.try_emplace(record);
        if (fresh) pos->second = archive.storages().at(record).clone();
        Tensor dst = as_strided(pos->second, e.tensor.shape(), e.tensor.strides(),
                                e.tensor.storage_offset());
        dst.copy_(cur.to(Device::cpu()));
    }
    std::vector<std::string> bodies;
    std::vector<torchzip::WriteEntry> entries;
    bodies.reserve(archive.zip().names().size());
    for (const auto& n : archive.zip().names()) {
        const std::string rel = n.substr(archive.prefix().size());
        if (auto it = storages.find(rel); it != storages.end()) {
            entries.push_back({n, it->second.data_ptr(), it->second.nbytes()});
            continue;
        }
        bodies.push_back(archive.zip().read(n, torchzip::k_max_entry_size));
        entries.push_back({n, bodies.back().data(), bodies.back().size()});
    }
    torchzip::write_archive(out, entries);
}

} // namespace nnscope::torchscript
