// interpreter.cpp: the evaluator of TorchScript code (see interpreter.h).
#include "interpreter.h"

#include <array>
#include <chrono>
#include <cmath>
#include <memory>
#include <unordered_map>

#include "autograd.h"
#include "errors.h"
#include "functional.h"
#include "fusion.h"
#include "ops.h"
#include "script_error.h"

namespace nnscope::script {

namespace {

// The aten:: operator each of Python's operators calls, as PyTorch's emitter maps a token to
// aten::add once. Looked up in the registry once per process; `and`/`or` short-circuit in
// the evaluator and have none.
struct OperatorTargets {
    std::array<const Op*, k_binop_count> binary{};
    std::array<const Op*, 4> unary{}; // by UnOp; Pos and Not have none
};

const OperatorTargets& operator_targets() {
    static const OperatorTargets targets = [] {
        OperatorTargets t;
        for (int k = 0; k < k_binop_count; ++k)
            if (const char* aten = operator_aten(BinOp(k))) t.binary[size_t(k)] = find_op(aten);
        t.unary[size_t(UnOp::Neg)] = find_op("aten::neg");
        t.unary[size_t(UnOp::Invert)] = find_op("aten::bitwise_not");
        return t;
    }();
    return targets;
}

} // namespace

namespace {

constexpr int64_t k_max_range = 100'000'000; // elements of a materialised range()

enum class Flow { Normal, Break, Continue, Return };

struct Frame {
    const Function* fn;
    std::unordered_map<std::string, Value> vars;
    Value result;
};

const std::string& code_file(const Frame& f) {
    return f.fn->file;
}

ScriptModule* as_script_module(const Value& v) {
    return v.kind == Value::Kind::Module ? dynamic_cast<ScriptModule*>(v.module.get()) : nullptr;
}

class Interpreter {
  public:
    explicit Interpreter(Program& program)
        : m_program(program), m_limits(program.limits), m_start(std::chrono::steady_clock::now()) {
        m_ctx.generator = &m_generator;
    }

    Value call(const Function& fn, ValueList args,
               std::vector<std::pair<std::string, Value>> kwargs, int line,
               const std::string& caller_file) {
        if (m_depth >= m_limits.max_call_depth)
            throw ScriptError(caller_file, line,
                              "calls nested deeper than " +
                                  std::to_string(m_limits.max_call_depth) + " levels (recursion)");
        Frame frame{&fn, {}, {}};
        const size_t n = fn.params.size();
        if (args.size() > n)
            throw ScriptError(caller_file, line,
                              fn.qualified + "() expected at most " + std::to_string(n) +
                                  " argument(s) but received " + std::to_string(args.size()),
                              "TypeError");
        std::vector<bool> given(n, false);
        for (size_t k = 0; k < args.size(); ++k) {
            frame.vars[fn.params[k].name] = std::move(args[k]);
            given[k] = true;
        }
        for (auto& [name, v] : kwargs) {
            size_t k = 0;
            while (k < n && fn.params[k].name != name) ++k;
            if (k == n)
                throw ScriptError(caller_file, line,
                                  fn.qualified + "() got an unexpected keyword argument '" + name +
                                      "'",
                                  "TypeError");
            frame.vars[name] = std::move(v);
            given[k] = true;
        }
        for (size_t k = 0; k < n; ++k) {
            if (given[k]) continue;
            if (!fn.params[k].default_value)
                throw ScriptError(caller_file, line,
                                  fn.qualified + "() is missing value for argument '" +
                                      fn.params[k].name + "'",
                                  "TypeError");
            frame.vars[fn.params[k].name] = literal_value(*fn.params[k].default_value, fn.file);
        }
        ++m_depth;
        struct Leave {
            int& d;
            ~Leave() { --d; }
        } leave{m_depth};
        exec_body(fn, frame);
        return std::move(frame.result);
    }

    Value call_method(ScriptModule& self, const std::string& name, ValueList args,
                      std::vector<std::pair<std::string, Value>> kwargs, int line,
                      const std::string& caller_file) {
        const Function* fn = self.script_class()->method(name);
        if (!fn)
            throw ScriptError(caller_file, line,
                              "'" + self.script_class()->qualified + "' has no method '" + name +
                                  "'",
                              "AttributeError");
        args.insert(args.begin(), Value::of_module(self.shared_from_this()));
        return call(*fn, std::move(args), std::move(kwargs), line, caller_file);
    }

  private:
    // --- statements
    void tick(const Frame& f, int line) {
        if (++m_statements > m_limits.max_statements)
            throw ScriptError(code_file(f), line,
                              "stopped after " + std::to_string(m_limits.max_statements) +
                                  " statements (an endless loop?)");
        if ((m_statements & 1023) != 0) return;
        if (m_limits.cancel && m_limits.cancel->load())
            throw ScriptError(code_file(f), line, "stopped (paused by the user)");
        if (m_limits.timeout_s > 0) {
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
            if (s > m_limits.timeout_s) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%g", m_limits.timeout_s);
                throw ScriptError(code_file(f), line,
                                  std::string("step ran past the time limit of ") + buf + " s");
            }
        }
    }

    // A function's top-level statements: as exec_block, except that a Conv2d -> BatchNorm2d
    // [-> ReLU] span (fusion.h) runs as one folded convolution where it can.
    void exec_body(const Function& fn, Frame& f) {
        const std::shared_ptr<const void> held = conv_bn_plans(fn);
        const auto& plans = *static_cast<const std::unordered_map<size_t, ConvBnPlan>*>(held.get());
        const Block& body = fn.body;
        for (size_t i = 0; i < body.size(); ++i) {
            if (!plans.empty() && !grad_enabled()) {
                auto it = plans.find(i);
                if (it != plans.end())
                    if (const size_t last = run_conv_bn(it->second, body, f)) {
                        i = last;
                        continue;
                    }
            }
            if (exec(*body[i], f) != Flow::Normal) return;
        }
    }

    // Made on a function's first call and kept with it; later calls read it without a lock
    // (two first calls at once both make it, and one copy is kept).
    static std::shared_ptr<const void> conv_bn_plans(const Function& fn) {
        std::shared_ptr<const void> plans = std::atomic_load(&fn.analysis);
        if (!plans) {
            plans = std::make_shared<const std::unordered_map<size_t, ConvBnPlan>>(
                plan_conv_bn(fn.body));
            std::atomic_store(&fn.analysis, plans);
        }
        return plans;
    }

    // The span as one convolution, when its modules are Conv2d (zeros padding), BatchNorm2d
    // in eval mode with running statistics, and ReLU; returns the last statement it stood
    // for, or 0 (nothing assigned but the fetches, which the statements make again).
    size_t run_conv_bn(const ConvBnPlan& p, const Block& body, Frame& f) {
        for (size_t k : p.fetches) exec(*body[k], f);
        // "__torch__.torch.nn.modules.conv.Conv2d", or "...conv.___torch_mangle_3.Conv2d"
        // when one class was scripted into several types.
        auto module_of = [&](const Expr* e, const char* module, const char* cls) -> ScriptModule* {
            ScriptModule* m = as_script_module(eval(*e, f));
            if (!m) return nullptr;
            const std::string& q = m->script_class()->qualified;
            return q.starts_with(std::string("__torch__.") + module + ".") &&
                           q.ends_with(std::string(".") + cls)
                       ? m
                       : nullptr;
        };
        ScriptModule* conv = module_of(p.conv, "torch.nn.modules.conv", "Conv2d");
        ScriptModule* bn = module_of(p.bn, "torch.nn.modules.batchnorm", "BatchNorm2d");
        if (!conv || !bn || bn->is_training()) return 0;
        ScriptModule* relu =
            p.relu ? module_of(p.relu, "torch.nn.modules.activation", "ReLU") : nullptr;
        Value x = eval(*p.input, f);
        if (x.kind != Value::Kind::Tensor) return 0;
        auto attribute = [&](ScriptModule& m, const char* name) {
            return module_attribute(m, name, *p.input, f);
        };
        auto pair = [&](ScriptModule& m, const char* name, std::array<int64_t, 2>& out) {
            Value v = attribute(m, name);
            if (!v.is_sequence() || v.list->size() != 2) return false;
            for (size_t k = 0; k < 2; ++k) {
                if ((*v.list)[k].kind != Value::Kind::Int) return false;
                out[k] = (*v.list)[k].i;
            }
            return true;
        };
        std::array<int64_t, 2> stride{}, padding{}, dilation{};
        Value mode = attribute(*conv, "padding_mode"), groups = attribute(*conv, "groups"),
              eps = attribute(*bn, "eps");
        if (!pair(*conv, "stride", stride) || !pair(*conv, "padding", padding) ||
            !pair(*conv, "dilation", dilation) || mode.kind != Value::Kind::Str ||
            mode.s != "zeros" || groups.kind != Value::Kind::Int ||
            (eps.kind != Value::Kind::Float && eps.kind != Value::Kind::Int))
            return 0;
        auto own = [](ScriptModule& m, const char* name) {
            if (const Tensor* t = m.own_parameters().find(name)) return *t;
            if (const Tensor* t = m.own_buffers().find(name)) return *t;
            return Tensor();
        };
        Tensor y = F::conv_bn_eval(x.t, own(*conv, "weight"), own(*conv, "bias"), stride, padding,
                                   dilation, groups.i, own(*bn, "running_mean"),
                                   own(*bn, "running_var"), own(*bn, "weight"), own(*bn, "bias"),
                                   eps.kind == Value::Kind::Float ? eps.f : double(eps.i), relu);
        if (!y.defined()) return 0;
        // Each module's output shape, as if called one by one (the tree's output column).
        for (ScriptModule* m : {conv, bn, relu})
            if (m) m->set_output_shapes({y.shape()});
        f.vars[relu ? p.relu_result : p.bn_result] = Value::tensor(y);
        return relu ? p.relu_call : p.bn_call;
    }

    Flow exec_block(const Block& block, Frame& f) {
        for (const auto& s : block) {
            Flow flow = exec(*s, f);
            if (flow != Flow::Normal) return flow;
        }
        return Flow::Normal;
    }

    Flow exec(const Stmt& s, Frame& f) {
        tick(f, s.line);
        try {
            return exec_statement(s, f);
        } catch (const ScriptError&) {
            throw;
        } catch (const Error& e) {
            throw ScriptError(code_file(f), s.line, e.what(), e.kind());
        } catch (const std::bad_alloc&) {
            throw ScriptError(code_file(f), s.line, "out of memory");
        }
    }

    Flow exec_statement(const Stmt& s, Frame& f) {
        switch (s.kind) {
        case Stmt::Kind::Expr:
            eval(*s.value, f);
            return Flow::Normal;
        case Stmt::Kind::Assign: {
            Value v = eval(*s.value, f);
            for (const auto& t : s.targets) assign(*t, v, f);
            return Flow::Normal;
        }
        case Stmt::Kind::AugAssign: {
            Value v = binary(s.binop, eval(*s.targets[0], f), eval(*s.value, f), s.line, f);
            assign(*s.targets[0], v, f);
            return Flow::Normal;
        }
        case Stmt::Kind::If:
            return exec_block(truth(eval(*s.value, f)) ? s.body : s.orelse, f);
        case Stmt::Kind::While:
            while (truth(eval(*s.value, f))) {
                tick(f, s.line);
                Flow flow = exec_block(s.body, f);
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
            }
            return Flow::Normal;
        case Stmt::Kind::For:
            return exec_for(s, f);
        case Stmt::Kind::Return:
            f.result = s.value ? eval(*s.value, f) : Value::none();
            return Flow::Return;
        case Stmt::Kind::Break:
            return Flow::Break;
        case Stmt::Kind::Continue:
            return Flow::Continue;
        case Stmt::Kind::Pass:
            return Flow::Normal;
        case Stmt::Kind::Raise: {
            std::string what = s.value ? str(eval(*s.value, f)) : "Exception";
            throw ScriptError(code_file(f), s.line, what);
        }
        case Stmt::Kind::Assert:
            if (!truth(eval(*s.value, f))) {
                std::string what = "AssertionError";
                if (!s.targets.empty()) what += ": " + str(eval(*s.targets[0], f));
                throw ScriptError(code_file(f), s.line, what, "AssertionError");
            }
            return Flow::Normal;
        case Stmt::Kind::Del:
            for (const auto& t : s.targets)
                if (t->kind == Expr::Kind::Name) f.vars.erase(t->name);
            return Flow::Normal;
        }
        return Flow::Normal;
    }

    Flow exec_for(const Stmt& s, Frame& f) {
        auto body = [&](Value item) -> Flow {
            tick(f, s.line);
            assign(*s.targets[0], item, f);
            Flow flow = exec_block(s.body, f);
            return flow == Flow::Continue ? Flow::Normal : flow;
        };
        const Expr& it = *s.value;
        if (it.kind == Expr::Kind::Call && it.a->kind == Expr::Kind::Name &&
            it.a->name == "range" && !f.vars.contains("range")) {
            auto [start, stop, step] = range_args(it, f);
            for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
                Flow flow = body(Value::integer(i));
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
                if (__builtin_add_overflow(i, step, &i)) break; // past the end of int64
            }
            return Flow::Normal;
        }
        Value seq = eval(it, f);
        if (seq.is_sequence()) {
            std::shared_ptr<ValueList> items = seq.list;
            for (size_t k = 0; k < items->size(); ++k) {
                Flow flow = body((*items)[k]);
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
            }
        } else if (seq.kind == Value::Kind::Dict) {
            auto d = seq.dict;
            for (size_t k = 0; k < d->items.size(); ++k) {
                Flow flow = body(d->items[k].first);
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
            }
        } else if (seq.kind == Value::Kind::Tensor) {
            if (seq.t.dim() == 0) throw Error("iteration over a 0-d tensor");
            for (int64_t k = 0; k < seq.t.size(0); ++k) {
                Flow flow = body(Value::tensor(seq.t.select(0, k)));
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
            }
        } else if (seq.kind == Value::Kind::Str) {
            for (char c : std::string(seq.s)) {
                Flow flow = body(Value::str(std::string(1, c)));
                if (flow == Flow::Break) break;
                if (flow == Flow::Return) return flow;
            }
        } else {
            throw TypeError("'" + type_name(seq) + "' object is not iterable");
        }
        return Flow::Normal;
    }

    std::tuple<int64_t, int64_t, int64_t> range_args(const Expr& call, Frame& f) {
        std::vector<int64_t> a;
        for (const auto& x : call.items) a.push_back(to_int(eval(*x, f), "range()"));
        if (a.empty() || a.size() > 3) throw TypeError("range expected 1 to 3 arguments");
        if (a.size() == 1) return {0, a[0], 1};
        if (a.size() == 3 && a[2] == 0) throw ValueError("range() arg 3 must not be zero");
        return {a[0], a[1], a.size() == 3 ? a[2] : 1};
    }

    void assign(const Expr& target, const Value& v, Frame& f) {
        switch (target.kind) {
        case Expr::Kind::Name:
            f.vars[target.name] = v;
            return;
        case Expr::Kind::Tuple:
        case Expr::Kind::List: {
            if (!v.is_sequence())
                throw TypeError("cannot unpack non-iterable " + type_name(v) + " object");
            if (v.list->size() != target.items.size())
                throw ValueError("expected " + std::to_string(target.items.size()) +
                                 " values to unpack, got " + std::to_string(v.list->size()));
            auto items = v.list;
            for (size_t k = 0; k < target.items.size(); ++k)
                assign(*target.items[k], (*items)[k], f);
            return;
        }
        case Expr::Kind::Attribute: {
            Value obj = eval(*target.a, f);
            ScriptModule* m = as_script_module(obj);
            if (!m)
                throw AttributeError("cannot set attribute " + target.name + " of " +
                                     type_name(obj));
            set_attribute(*m, target.name, v);
            return;
        }
        case Expr::Kind::Subscript: {
            Value obj = eval(*target.a, f);
            Value key = eval(*target.b, f);
            set_item(obj, key, v);
            return;
        }
        default:
            throw ScriptError(code_file(f), target.line, "cannot assign to this expression",
                              "SyntaxError");
        }
    }

    static void set_attribute(ScriptModule& m, const std::string& name, const Value& v) {
        if (v.kind == Value::Kind::Tensor) {
            if (const Tensor* p = m.own_parameters().find(name); p && !v.t.is_parameter()) {
                // TorchScript rebinds the slot; the tensor stays a parameter of the module.
                m.register_parameter(name, v.t,
                                     v.t.requires_grad() || (p->defined() && p->requires_grad()));
                return;
            }
            m.set_attr(name, v.t);
            return;
        }
        if (v.kind == Value::Kind::Module) {
            m.set_attr(name, v.module);
            return;
        }
        if (v.is_none() && (m.own_buffers().contains(name) || m.own_attributes().contains(name))) {
            m.set_attr(name, Tensor());
            return;
        }
        m.values[name] = v;
    }

    static int64_t list_index(int64_t i, size_t size) {
        const int64_t n = int64_t(size);
        if (i < 0) i += n;
        if (i < 0 || i >= n) throw IndexError("list index out of range");
        return i;
    }

    void set_item(Value& obj, const Value& key, const Value& v) {
        if (obj.kind == Value::Kind::List) {
            (*obj.list)[size_t(list_index(to_int(key, "list index"), obj.list->size()))] = v;
        } else if (obj.kind == Value::Kind::Dict) {
            for (auto& [k, x] : obj.dict->items)
                if (equal(k, key)) {
                    x = v;
                    return;
                }
            obj.dict->items.emplace_back(key, v);
        } else if (obj.kind == Value::Kind::Tensor) {
            Tensor view = index_tensor(obj.t, key);
            NoGradGuard guard;
            if (v.kind == Value::Kind::Tensor)
                view.copy_(v.t);
            else
                view.fill_(to_scalar(v, "tensor item"));
        } else {
            throw TypeError("'" + type_name(obj) + "' object does not support item assignment");
        }
    }

    // --- expressions
    static bool truth(const Value& v) {
        switch (v.kind) {
        case Value::Kind::None:
            return false;
        case Value::Kind::List:
        case Value::Kind::Tuple:
            return !v.list->empty();
        case Value::Kind::Str:
            return !v.s.empty();
        case Value::Kind::Dict:
            return !v.dict->items.empty();
        case Value::Kind::Module:
        case Value::Kind::Device:
        case Value::Kind::Function:
        case Value::Kind::Class:
            return true;
        default:
            return to_bool(v, "condition");
        }
    }

    // "torch.add" for a chain of names whose root is not a local variable, else "".
    const std::string& dotted(const Expr& e, const Frame& f) {
        if (!e.dotted_known) {
            std::string out;
            const Expr* x = &e;
            std::vector<const std::string*> parts;
            while (x->kind == Expr::Kind::Attribute) {
                parts.push_back(&x->name);
                x = x->a.get();
            }
            if (x->kind == Expr::Kind::Name) {
                const std::string& root = x->name;
                if (root == "torch" || root == "ops" || root == "__torch__" ||
                    root == "CONSTANTS" || root == "math") {
                    out = root;
                    for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += "." + **it;
                }
            }
            e.dotted = out;
            e.dotted_known = true;
        }
        if (!e.dotted.empty()) {
            // A local that shadows the root name makes it an ordinary expression.
            const Expr* x = &e;
            while (x->kind == Expr::Kind::Attribute) x = x->a.get();
            if (f.vars.contains(x->name)) {
                static const std::string none;
                return none;
            }
        }
        return e.dotted;
    }

    Value eval(const Expr& e, Frame& f) {
        switch (e.kind) {
        case Expr::Kind::Int:
            return Value::integer(e.i);
        case Expr::Kind::Float:
            return Value::number(e.f);
        case Expr::Kind::Str:
            return Value::str(e.s);
        case Expr::Kind::None:
            return Value::none();
        case Expr::Kind::True:
            return Value::boolean(true);
        case Expr::Kind::False:
            return Value::boolean(false);
        case Expr::Kind::Name: {
            auto it = f.vars.find(e.name);
            if (it != f.vars.end()) return it->second;
            if (e.name == "inf") return Value::number(INFINITY);
            throw ScriptError(code_file(f), e.line, "name '" + e.name + "' is not defined",
                              "NameError");
        }
        case Expr::Kind::Attribute: {
            const std::string& d = dotted(e, f);
            if (!d.empty()) return resolve_dotted(d, e, f);
            Value obj = eval(*e.a, f);
            return get_attribute(obj, e.name, e, f);
        }
        case Expr::Kind::Call:
            return eval_call(e, f);
        case Expr::Kind::Subscript: {
            Value obj = eval(*e.a, f);
            if (e.b->kind == Expr::Kind::Slice) return slice(obj, *e.b, f);
            return get_item(obj, eval(*e.b, f));
        }
        case Expr::Kind::Slice:
            throw ScriptError(code_file(f), e.line, "a slice outside of a subscript",
                              "SyntaxError");
        case Expr::Kind::Tuple:
        case Expr::Kind::List: {
            ValueList items;
            items.reserve(e.items.size());
            for (const auto& x : e.items) items.push_back(eval(*x, f));
            return Value::make_list(std::move(items), e.kind == Expr::Kind::List
                                                          ? Value::Kind::List
                                                          : Value::Kind::Tuple);
        }
        case Expr::Kind::Dict: {
            Value d;
            d.kind = Value::Kind::Dict;
            d.dict = std::make_shared<DictData>();
            for (size_t k = 0; k + 1 < e.items.size(); k += 2) {
                Value key = eval(*e.items[k], f);
                Value v = eval(*e.items[k + 1], f);
                set_item(d, key, v);
            }
            return d;
        }
        case Expr::Kind::Unary: {
            Value a = eval(*e.a, f);
            switch (e.unop) {
            case UnOp::Not:
                return Value::boolean(!truth(a));
            case UnOp::Pos:
                return a;
            case UnOp::Neg:
            case UnOp::Invert: {
                const Op* o = operator_targets().unary[int(e.unop)];
                if (!o)
                    throw ScriptError(code_file(f), e.line,
                                      e.unop == UnOp::Neg ? "unknown operator aten::neg"
                                                          : "unknown operator aten::bitwise_not");
                ValueList args = bind_arguments(*o, {std::move(a)}, {});
                return o->fn(args, m_ctx);
            }
            }
            return {};
        }
        case Expr::Kind::Binary: {
            if (e.binop == BinOp::And) {
                Value a = eval(*e.a, f);
                return truth(a) ? eval(*e.b, f) : a;
            }
            if (e.binop == BinOp::Or) {
                Value a = eval(*e.a, f);
                return truth(a) ? a : eval(*e.b, f);
            }
            Value a = eval(*e.a, f);
            Value b = eval(*e.b, f);
            return binary(e.binop, std::move(a), std::move(b), e.line, f);
        }
        case Expr::Kind::IfExp:
            return truth(eval(*e.b, f)) ? eval(*e.a, f) : eval(*e.c, f);
        }
        return {};
    }

    // a op b through the operator the parser's BinOp names, looked up once per process.
    Value binary(BinOp op, Value a, Value b, int line, Frame& f) {
        const Op* o = operator_targets().binary[int(op)];
        if (!o)
            throw ScriptError(code_file(f), line,
                              std::string("unsupported operator ") + operator_token(op));
        if (op == BinOp::In || op == BinOp::NotIn) { // b.__contains__(a)
            ValueList args{std::move(b), std::move(a)};
            const bool in = truth(o->fn(args, m_ctx));
            return Value::boolean(op == BinOp::In ? in : !in);
        }
        ValueList args{std::move(a), std::move(b)};
        return o->fn(args, m_ctx);
    }

    Value resolve_dotted(const std::string& d, const Expr& e, Frame& f) {
        if (d.starts_with("CONSTANTS.c")) {
            int64_t k = -1;
            try {
                k = std::stoll(d.substr(11));
            } catch (...) {
            }
            if (k < 0 || size_t(k) >= m_program.constants.size())
                throw ScriptError(code_file(f), e.line, d + " is not in constants.pkl");
            return m_program.constants[size_t(k)];
        }
        if (d.starts_with("__torch__.")) {
            if (const Function* fn = m_program.find_function(d)) {
                Value v;
                v.kind = Value::Kind::Function;
                v.fn = fn;
                return v;
            }
            if (const ClassDef* c = m_program.find_class(d)) {
                Value v;
                v.kind = Value::Kind::Class;
                v.cls = c;
                return v;
            }
            throw ScriptError(code_file(f), e.line,
                              d + " is not in the archive (no such class or function)");
        }
        if (d == "math.pi") return Value::number(M_PI);
        if (d == "math.e") return Value::number(M_E);
        if (d == "math.inf") return Value::number(INFINITY);
        if (d == "math.nan") return Value::number(NAN);
        throw ScriptError(code_file(f), e.line, "unsupported value " + d);
    }

    // The operator a dotted callee names ("torch.add" -> aten::add), cached in the node.
    const Op* callee_op(const std::string& d, const Expr& call, Frame& f) {
        if (call.op) return call.op;
        std::string name;
        if (d.starts_with("ops.aten."))
            name = "aten::" + d.substr(9);
        else if (d.starts_with("ops.prim."))
            name = "prim::" + d.substr(9);
        else if (d.starts_with("torch.") && d.find('.', 6) == std::string::npos)
            name = "aten::" + d.substr(6);
        else if (d.starts_with("math."))
            name = "math::" + d.substr(5);
        else if (d.starts_with("ops."))
            throw ScriptError(code_file(f), call.line,
                              "unsupported operator " + d +
                                  " (custom operator namespaces are not supported)");
        const Op* op = name.empty() ? nullptr : find_op(name);
        if (!op) throw ScriptError(code_file(f), call.line, "unknown operator " + d);
        call.op = op;
        return op;
    }

    Value call_op(const char* name, ValueList args,
                  std::vector<std::pair<std::string, Value>> kwargs, const Expr& e, Frame& f) {
        const Op* op = find_op(name);
        if (!op) throw ScriptError(code_file(f), e.line, std::string("unknown operator ") + name);
        ValueList bound = bind_arguments(*op, std::move(args), std::move(kwargs));
        return op->fn(bound, m_ctx);
    }

    Value eval_call(const Expr& e, Frame& f) {
        const Expr& callee = *e.a;
        // Built-in forms that take types or must not evaluate everything.
        if (callee.kind == Expr::Kind::Name && !f.vars.contains(callee.name)) {
            const std::string& n = callee.name;
            if (n == "annotate" || n == "unchecked_cast") {
                if (e.items.size() != 2) throw TypeError(n + "() takes 2 arguments");
                return eval(*e.items[1], f);
            }
            if (n == "isinstance") {
                if (e.items.size() != 2) throw TypeError("isinstance() takes 2 arguments");
                return Value::boolean(matches_type(eval(*e.items[0], f), *e.items[1]));
            }
            if (n == "uninitialized") return Value::none();
        }
        ValueList args;
        args.reserve(e.items.size());
        for (const auto& x : e.items) args.push_back(eval(*x, f));
        std::vector<std::pair<std::string, Value>> kwargs;
        for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x, f));

        if (callee.kind == Expr::Kind::Name && !f.vars.contains(callee.name))
            return call_builtin(callee.name, std::move(args), e, f);
        if (callee.kind == Expr::Kind::Attribute) {
            const std::string& d = dotted(callee, f);
            // An operator once resolved is one for good (e.op): no prefix tests per call.
            if (!d.empty() &&
                (e.op || (!d.starts_with("__torch__.") && !d.starts_with("CONSTANTS.")))) {
                const Op* op = callee_op(d, e, f);
                ValueList bound = bind_arguments(*op, std::move(args), std::move(kwargs));
                return op->fn(bound, m_ctx);
            }
            if (d.empty()) { // obj.method(...)
                Value obj = eval(*callee.a, f);
                if (ScriptModule* m = as_script_module(obj)) {
                    Value out = call_method(*m, callee.name, std::move(args), std::move(kwargs),
                                            e.line, code_file(f));
                    if (callee.name == "forward") m->set_output_shapes(tensor_shapes(out));
                    return out;
                }
                throw AttributeError("'" + type_name(obj) + "' object has no method '" +
                                     callee.name + "'");
            }
        }
        Value fn = eval(callee, f);
        if (fn.kind == Value::Kind::Function)
            return call(*fn.fn, std::move(args), std::move(kwargs), e.line, code_file(f));
        if (fn.kind == Value::Kind::Class)
            return construct(*fn.cls, std::move(args), std::move(kwargs));
        throw TypeError("'" + type_name(fn) + "' object is not callable");
    }

    // A NamedTuple class called as a constructor: a tuple (fields by position).
    Value construct(const ClassDef& cls, ValueList args,
                    std::vector<std::pair<std::string, Value>> kwargs) {
        for (const auto& b : cls.bases)
            if (b == "NamedTuple") {
                ValueList items(cls.attributes.size());
                if (args.size() > items.size())
                    throw TypeError(cls.name + "() takes too many arguments");
                for (size_t k = 0; k < args.size(); ++k) items[k] = std::move(args[k]);
                for (auto& [name, v] : kwargs) {
                    size_t k = 0;
                    while (k < cls.attributes.size() && cls.attributes[k].name != name) ++k;
                    if (k == cls.attributes.size())
                        throw TypeError(cls.name + "() got an unexpected keyword argument '" +
                                        name + "'");
                    items[k] = std::move(v);
                }
                Value t = Value::tuple(std::move(items));
                t.cls = &cls;
                return t;
            }
        throw TypeError("cannot construct an object of class " + cls.qualified +
                        " (only NamedTuples)");
    }

    Value call_builtin(const std::string& n, ValueList args, const Expr& e, Frame& f) {
        auto want = [&](size_t lo, size_t hi) {
            if (args.size() < lo || args.size() > hi)
                throw TypeError(n + "() takes " + std::to_string(lo) +
                                (lo == hi ? "" : " to " + std::to_string(hi)) + " arguments, got " +
                                std::to_string(args.size()));
        };
        if (n == "getattr" || n == "hasattr") {
            want(2, 2);
            if (args[1].kind != Value::Kind::Str)
                throw TypeError(n + "(): attribute name must be a string");
            if (n == "hasattr") {
                try {
                    get_attribute(args[0], args[1].s, e, f);
                    return Value::boolean(true);
                } catch (const Error&) {
                    return Value::boolean(false);
                }
            }
            return get_attribute(args[0], args[1].s, e, f);
        }
        if (n == "range") {
            want(1, 3);
            std::vector<int64_t> a;
            for (const auto& v : args) a.push_back(to_int(v, "range()"));
            int64_t start = a.size() == 1 ? 0 : a[0], stop = a.size() == 1 ? a[0] : a[1],
                    step = a.size() == 3 ? a[2] : 1;
            if (step == 0) throw ValueError("range() arg 3 must not be zero");
            ValueList items;
            for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
                if (int64_t(items.size()) >= k_max_range)
                    throw ValueError("range() of more than " + std::to_string(k_max_range) +
                                     " elements");
                items.push_back(Value::integer(i));
                if (__builtin_add_overflow(i, step, &i)) break;
            }
            return Value::make_list(std::move(items));
        }
        if (n == "print") return Value::none(); // code cannot write anywhere
        if (n == "fork" || n == "wait")
            throw NotImplementedError(n + "(): asynchronous TorchScript calls are not supported");
        static const std::unordered_map<std::string, const char*> ops = {
            {"len", "aten::len"},
            {"int", "aten::Int"},
            {"float", "aten::Float"},
            {"bool", "aten::Bool"},
            {"str", "aten::str"},
            {"list", "aten::list"},
            {"min", "prim::min"},
            {"max", "prim::max"},
            {"abs", "prim::abs"},
            {"round", "aten::round"},
            {"divmod", "aten::divmod"},
            {"tuple", "prim::tuple"},
            {"enumerate", "prim::enumerate"},
            {"zip", "prim::zip"},
        };
        auto it = ops.find(n);
        if (it == ops.end())
            throw ScriptError(code_file(f), e.line, "unknown function " + n + "()", "NameError");
        return call_op(it->second, std::move(args), {}, e, f);
    }

    Value get_attribute(const Value& obj, const std::string& name, const Expr& e, Frame& f) {
        if (ScriptModule* m = as_script_module(obj)) return module_attribute(*m, name, e, f);
        if (obj.kind == Value::Kind::Tuple && obj.cls) {
            for (size_t k = 0; k < obj.cls->attributes.size() && k < obj.list->size(); ++k)
                if (obj.cls->attributes[k].name == name) return (*obj.list)[k];
        }
        if (obj.kind == Value::Kind::Device && name == "type")
            return Value::str(obj.device.kind == DeviceKind::CPU    ? "cpu"
                              : obj.device.kind == DeviceKind::CUDA ? "cuda"
                                                                    : "sim");
        if (obj.kind == Value::Kind::Device && name == "index")
            return obj.device.index < 0 ? Value::none() : Value::integer(obj.device.index);
        throw AttributeError("'" + type_name(obj) + "' object has no attribute '" + name + "'");
    }

    Value module_attribute(ScriptModule& m, const std::string& name, const Expr& e, Frame& f) {
        if (name == "training") return Value::boolean(m.is_training());
        if (const ModulePtr* c = m.own_children().find(name))
            return *c ? Value::of_module(*c) : Value::none();
        if (const Tensor* t = m.own_parameters().find(name)) return Value::tensor(*t);
        if (const Tensor* t = m.own_buffers().find(name)) return Value::tensor(*t);
        if (const Tensor* t = m.own_attributes().find(name)) return Value::tensor(*t);
        if (auto it = m.tensor_lists.find(name); it != m.tensor_lists.end()) {
            ValueList items;
            for (const auto& n : it->second) items.push_back(Value::tensor(m.attr(n)));
            return Value::make_list(std::move(items));
        }
        if (auto it = m.values.find(name); it != m.values.end()) return it->second;
        if (const AttributeDecl* d = m.script_class()->attribute(name); d && d->value)
            return literal_value(*d->value, m.script_class()->file);
        (void)e;
        (void)f;
        throw AttributeError("'" + m.type_name() + "' object has no attribute '" + name + "'");
    }

    Value get_item(const Value& obj, const Value& key) {
        switch (obj.kind) {
        case Value::Kind::List:
        case Value::Kind::Tuple:
            return (*obj.list)[size_t(list_index(to_int(key, "list index"), obj.list->size()))];
        case Value::Kind::Dict:
            for (const auto& [k, v] : obj.dict->items)
                if (equal(k, key)) return v;
            throw KeyError(repr(key));
        case Value::Kind::Str: {
            int64_t i = list_index(to_int(key, "string index"), obj.s.size());
            return Value::str(std::string(1, obj.s[size_t(i)]));
        }
        case Value::Kind::Tensor:
            return Value::tensor(index_tensor(obj.t, key));
        default:
            throw TypeError("'" + type_name(obj) + "' object is not subscriptable");
        }
    }

    static Tensor index_tensor(const Tensor& t, const Value& key) {
        if (key.kind == Value::Kind::Int || key.kind == Value::Kind::Bool) {
            if (t.dim() == 0) throw IndexError("invalid index of a 0-dim tensor");
            int64_t i = to_int(key, "index");
            const int64_t n = t.size(0);
            if (i < -n || i >= n)
                throw IndexError("index " + std::to_string(i) +
                                 " is out of bounds for dimension 0 with size " +
                                 std::to_string(n));
            return t.select(0, i < 0 ? i + n : i);
        }
        throw NotImplementedError("tensor indexing with " + type_name(key) + " is not supported");
    }

    Value slice(const Value& obj, const Expr& s, Frame& f) {
        auto bound = [&](int k) -> std::optional<int64_t> {
            if (!s.items[size_t(k)]) return std::nullopt;
            Value v = eval(*s.items[size_t(k)], f);
            if (v.is_none()) return std::nullopt;
            return to_int(v, "slice index");
        };
        const auto lo = bound(0), hi = bound(1), st = bound(2);
        const int64_t step = st.value_or(1);
        if (step == 0) throw ValueError("slice step cannot be zero");
        auto range = [&](int64_t n) {
            auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
                if (!v) return dflt;
                int64_t x = *v < 0 ? *v + n : *v;
                return std::clamp<int64_t>(x, step > 0 ? 0 : -1, step > 0 ? n : n - 1);
            };
            return std::pair{clamp(lo, step > 0 ? 0 : n - 1), clamp(hi, step > 0 ? n : -1)};
        };
        if (obj.is_sequence() || obj.kind == Value::Kind::Str) {
            const int64_t n =
                obj.kind == Value::Kind::Str ? int64_t(obj.s.size()) : int64_t(obj.list->size());
            auto [a, b] = range(n);
            if (obj.kind == Value::Kind::Str) {
                std::string out;
                for (int64_t i = a; step > 0 ? i < b : i > b; i += step) out += obj.s[size_t(i)];
                return Value::str(out);
            }
            ValueList items;
            for (int64_t i = a; step > 0 ? i < b : i > b; i += step)
                items.push_back((*obj.list)[size_t(i)]);
            return Value::make_list(std::move(items), obj.kind);
        }
        if (obj.kind == Value::Kind::Tensor) {
            if (step != 1) throw NotImplementedError("tensor slices with a step are not supported");
            auto [a, b] = range(obj.t.size(0));
            return Value::tensor(obj.t.narrow(0, a, std::max<int64_t>(0, b - a)));
        }
        throw TypeError("'" + type_name(obj) + "' object is not subscriptable");
    }

    bool matches_type(const Value& v, const Expr& type) {
        if (type.kind == Expr::Kind::Tuple) {
            for (const auto& t : type.items)
                if (matches_type(v, *t)) return true;
            return false;
        }
        if (type.kind == Expr::Kind::None) return v.is_none();
        if (type.kind == Expr::Kind::Name) {
            const std::string& n = type.name;
            if (n == "Tensor") return v.kind == Value::Kind::Tensor;
            if (n == "int") return v.kind == Value::Kind::Int;
            if (n == "float") return v.kind == Value::Kind::Float;
            if (n == "bool") return v.kind == Value::Kind::Bool;
            if (n == "str") return v.kind == Value::Kind::Str;
            if (n == "NoneType") return v.is_none();
            if (n == "Device") return v.kind == Value::Kind::Device;
            if (n == "number") return v.is_number();
            if (n == "Any") return true;
            return false;
        }
        if (type.kind == Expr::Kind::Subscript && type.a->kind == Expr::Kind::Name) {
            const std::string& n = type.a->name;
            if (n == "List") {
                if (v.kind != Value::Kind::List) return false;
                for (const auto& x : *v.list)
                    if (!matches_type(x, *type.b)) return false;
                return true;
            }
            if (n == "Tuple") return v.kind == Value::Kind::Tuple;
            if (n == "Dict") return v.kind == Value::Kind::Dict;
            if (n == "Optional") return v.is_none() || matches_type(v, *type.b);
            if (n == "Final") return matches_type(v, *type.b);
        }
        if (type.kind == Expr::Kind::Attribute) { // __torch__.x.Class
            std::string d;
            const Expr* x = &type;
            while (x->kind == Expr::Kind::Attribute) {
                d = "." + x->name + d;
                x = x->a.get();
            }
            if (x->kind == Expr::Kind::Name) d = x->name + d;
            if (ScriptModule* m = as_script_module(v)) return m->script_class()->qualified == d;
            if (v.kind == Value::Kind::Tuple && v.cls) return v.cls->qualified == d;
        }
        return false;
    }

    Program& m_program;
    const Limits& m_limits;
    std::chrono::steady_clock::time_point m_start;
    Generator m_generator{0};
    OpContext m_ctx;
    int m_depth = 0;
    int64_t m_statements = 0;
};

} // namespace

Value run_method(ScriptModule& self, const std::string& method, ValueList args) {
    Program& p = *self.program();
    if (!p.load_error_message.empty())
        throw ScriptError(p.load_error_file, p.load_error_line, p.load_error_message,
                          p.load_error_kind);
    AllocationLimit limit(p.limits.max_bytes);
    Interpreter interp(p);
    return interp.call_method(self, method, std::move(args), {}, self.script_class()->line,
                              self.script_class()->file);
}

} // namespace nnscope::script
