// torchscript.cpp: the module tree of a TorchScript archive, from data.pkl's objects and the
// class declarations in code/ (see torchscript.h). Reads declarations only: no code runs.
#include "torchscript.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>

#include "../errors.h"
#include "torch_archive.h"
#include "torch_zip.h"

namespace nnscope::torchscript {

using torchpt::Archive;
using torchpt::dict_get;
using torchpt::dict_items;
using pickle::Kind;
using pickle::ValuePtr;

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

class TreeBuilder {
  public:
    explicit TreeBuilder(Archive& archive) : m_archive(archive) {}

    ModulePtr build(const ValuePtr& obj, const std::string& where, int depth) {
        if (depth > k_max_depth)
            throw FormatError(m_archive.path(), where + ": modules nested deeper than " +
                                                    std::to_string(k_max_depth) + " levels");
        const ClassDecl& decl = declaration(obj);
        auto m = std::make_shared<Module>(obj->name);
        m->set_strict_names(false);
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
            }
        if (ValuePtr training = value("training"); training && training->is(Kind::Bool))
            torchpt::set_own_training(*m, training->b);
        return m;
    }

  private:
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
            throw FormatError(m_archive.path(), "class " + qualified + " is not in the archive (no " +
                                                    file + ")");
        const std::string code = m_archive.zip().read(entry, k_max_code_file);
        const std::string head = "class " + obj->name + "(";
        size_t at = code.starts_with(head) ? 0 : code.find("\n" + head);
        if (at == std::string::npos)
            throw FormatError(m_archive.path(),
                              file + ": no declaration of class " + obj->name);
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
    std::map<std::string, ClassDecl> m_classes;
};

} // namespace

bool is_torchscript(const torchzip::ZipReader& zip) {
    bool code = false, data = false;
    for (const auto& n : zip.names()) {
        const size_t slash = n.find('/');
        const std::string_view rest =
            slash == std::string::npos ? std::string_view(n) : std::string_view(n).substr(slash + 1);
        code = code || rest.starts_with("code/") || n.starts_with("code/");
        data = data || rest == "data.pkl" || n == "data.pkl";
    }
    return code && data;
}

Document open_torchscript(const std::string& path) {
    Archive archive(path);
    const ValuePtr& root = archive.root();
    if (!is_module(root))
        throw FormatError(path, "data.pkl holds " + pickle::describe(root, 1) +
                                    ", not a TorchScript module");
    Document doc;
    doc.path = path;
    doc.format = "torchscript";
    doc.kind_source = KindSource::Declared;
    doc.root = TreeBuilder(archive).build(root, "", 0);
    doc.note = "inspect-only: nnscope does not run TorchScript code yet";
    return doc;
}

} // namespace nnscope::torchscript
