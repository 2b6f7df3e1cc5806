// test_script.cpp: the TorchScript interpreter (core/script). Archives written by PyTorch
// (fixtures/expected*/torchscript, one folder per PyTorch version) run three steps in train
// and in eval mode and must give torch.jit.load's outputs and state_dict() (1e-4 of each
// tensor's scale); the interpreter's Python semantics are checked on code of our own; and
// hostile archives (endless loops, unknown operators, broken syntax, deep recursion and
// nesting, missing classes) fail with one line naming the code file and line, in bounded
// time, leaving the model as it was.
#include "../test_support.h"

#include <chrono>

#include "autograd.h"
#include "document.h"
#include "functional.h"
#include "lexer.h"
#include "parser.h"
#include "program.h"
#include "torch_zip.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {

// Fixture folders per PyTorch version: 1.13 (Debian 12's), 2.13 and 2.14 (the package index's).
const std::vector<std::string> k_versions = {"", "-2.13", "-2.14"};

std::string version_dir(const std::string& v) {
    return fixtures_dir() + v;
}

json load_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) qFatal("missing fixture %s", path.c_str());
    return json::parse(in);
}

// A copy of net_scripted.pt (1.13) whose top-level code file is `code`.
std::string with_code(const std::string& code, const std::string& out) {
    const std::string src = fixtures_dir() + "/torchscript/net_scripted.pt";
    torchzip::ZipReader zip(src);
    std::vector<std::string> bodies;
    std::vector<torchzip::WriteEntry> entries;
    bodies.reserve(zip.names().size());
    for (const auto& n : zip.names()) {
        bodies.push_back(n == "net_scripted/code/__torch__.py" ? code : zip.read(n, 1 << 24));
        entries.push_back({n, bodies.back().data(), bodies.back().size()});
    }
    torchzip::write_archive(out, entries);
    return out;
}

// ScriptNet's declaration with `body` as its forward (indented four spaces).
std::string script_net(const std::string& body, const std::string& extra_methods = "") {
    return "class ScriptNet(Module):\n"
           "  __parameters__ = []\n"
           "  __buffers__ = [\"steps\", \"scratch\", ]\n"
           "  steps : Tensor\n"
           "  scratch : Tensor\n"
           "  training : bool\n"
           "  plain : Tensor\n"
           "  conv : __torch__.torch.nn.modules.conv.Conv2d\n"
           "  bn : __torch__.torch.nn.modules.batchnorm.BatchNorm2d\n"
           "  fc : __torch__.torch.nn.modules.linear.Linear\n"
           "  def forward(self: __torch__.ScriptNet,\n"
           "    x: Tensor) -> Tensor:\n" +
           body + extra_methods;
}

std::string compare_tensor(const Tensor& got, const json& want, const std::string& what) {
    if (std::string(dtype_name(got.dtype())) != want["dtype"].get<std::string>())
        return what + ": dtype " + std::string(dtype_name(got.dtype()));
    if (got.shape() != fixture_shape(want["shape"]))
        return what + ": shape " + shape_str(got.shape());
    const std::vector<double> w = fixture_values(want["values"]);
    double scale = 0;
    for (double v : w) scale = std::max(scale, std::fabs(v));
    std::string why;
    if (!close(got.to_doubles(), w, 0, 1e-4 * scale + 1e-6, &why)) return what + ": " + why;
    return {};
}

} // namespace

class TestScript : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

    std::string path(const char* name) { return tmp.filePath(name).toStdString(); }

    // Opens an archive whose forward is `body`, runs it on x, returns the error text.
    std::string run_error(const std::string& body, double timeout = 5,
                          const std::string& extra = "", int64_t max_statements = 5'000'000) {
        const std::string file = with_code(script_net(body, extra), path("hostile.pt"));
        Document doc = open_document(file);
        auto* m = dynamic_cast<script::ScriptModule*>(doc.root.get());
        if (!m) return "not a ScriptModule";
        m->program()->limits.timeout_s = timeout;
        m->program()->limits.max_statements = max_statements;
        Tensor steps_before = doc.root->attr("steps").clone();
        auto [kind, msg] = catch_error([&] { doc.root->forward(ones({2, 3, 6, 6})); });
        // A failed step leaves the model as it was (the counter below was bumped first).
        if (doc.root->attr("steps").item_int() != steps_before.item_int())
            return "the step changed steps";
        return msg;
    }

  private slots:
    void runs_match_pytorch_data() {
        QTest::addColumn<QString>("dir");
        QTest::addColumn<QString>("name");
        for (const auto& v : k_versions) {
            json expect = load_json(version_dir(v) + "/torchscript.json");
            for (const auto& [name, e] : expect.items())
                if (e.contains("runs"))
                    QTest::newRow((name + (v.empty() ? " 1.13" : " " + v.substr(1))).c_str())
                        << QString::fromStdString(version_dir(v)) << QString::fromStdString(name);
        }
    }

    void runs_match_pytorch() {
        QFETCH(QString, dir);
        QFETCH(QString, name);
        const json want =
            load_json(dir.toStdString() + "/torchscript.json")[name.toStdString()]["runs"];
        const std::string file = dir.toStdString() + "/torchscript/" + name.toStdString() + ".pt";
        Tensor xs = want.contains("inputs_file")
                        ? open_document(dir.toStdString() + "/torchscript/" +
                                        want["inputs_file"].get<std::string>())
                              .root->attr("x")
                        : tensor_from_fixture(want["inputs"]);
        for (const char* mode : {"train", "eval"}) {
            if (!want.contains(mode)) continue; // a large model's fixture: eval mode only
            Document doc = open_document(file);
            QVERIFY(doc.root->runnable());
            doc.root->train(std::string(mode) == "train");
            Tensor y;
            {
                NoGradGuard no_grad;
                for (int64_t i = 0; i < 3; ++i) y = (*doc.root)(xs.select(0, i));
            }
            // Each module's output shapes, as PyTorch's forward hooks on the eager module
            // saw them (the tree's output column; modules never called have none).
            if (want.contains("module_outputs")) {
                json got = json::array();
                for (const auto& [n, m] : doc.root->named_modules())
                    if (!m->output_shapes().empty())
                        got.push_back(json::array({n, m->output_shapes()}));
                QCOMPARE(QString::fromStdString(got.dump()),
                         QString::fromStdString(want["module_outputs"].dump()));
            }
            std::string problem =
                compare_tensor(y, want[mode]["output"], std::string(mode) + " output");
            QVERIFY2(problem.empty(), problem.c_str());
            const StateDict sd = doc.root->state_dict();
            for (const auto& [k, v] : want[mode]["state_dict"].items()) {
                const Tensor* t = sd.tensors.find(k);
                QVERIFY2(t, k.c_str());
                problem = compare_tensor(*t, v, std::string(mode) + " " + k);
                QVERIFY2(problem.empty(), problem.c_str());
            }
        }
    }

    void archives_from_each_version_open_with_their_tree() {
        for (const auto& v : k_versions) {
            json expect = load_json(version_dir(v) + "/torchscript.json");
            for (const auto& [name, e] : expect.items()) {
                Document doc = open_document(version_dir(v) + "/torchscript/" + name + ".pt");
                QStringList params, buffers;
                for (const auto& [n, t] : doc.root->named_parameters())
                    params << QString::fromStdString(n);
                for (const auto& [n, t] : doc.root->named_buffers())
                    buffers << QString::fromStdString(n);
                QCOMPARE(params, qlist(e["parameters"]));
                QCOMPARE(buffers, qlist(e["buffers"]));
            }
        }
    }

    void python_semantics() {
        // Floor division and modulo follow Python's signs, lists and dicts have reference
        // semantics, loops break and continue, tuples unpack, str.format fills fields.
        const std::string body =
            "    a = torch.floordiv(-7, 2)\n"  // -4
            "    b = torch.remainder(-7, 3)\n" // 2
            "    l = annotate(List[int], [])\n"
            "    m = l\n"
            "    for i in range(10):\n"
            "      if torch.eq(i, 2):\n"
            "        continue\n"
            "      if torch.gt(i, 4):\n"
            "        break\n"
            "      _0 = torch.append(m, i)\n"    // l = [0, 1, 3, 4]
            "    c, d = (torch.len(l), l[-1])\n" // 4, 4
            "    k = 0\n"
            "    while torch.lt(k, 3):\n"
            "      k = torch.add(k, 1)\n" // 3
            "    s = torch.format(\"{} and {}\", a, l)\n"
            "    e = torch.len(s)\n" // "-4 and [0, 1, 3, 4]": 19
            "    dd = {\"x\": 5}\n"
            "    f = dd[\"x\"] if torch.__contains__(dd, \"x\") else 0\n" // 5
            "    g = 1 if torch.__is__(None, None) else 0\n"              // 1
            "    total = a + b * 10 + c * 100 + d * 1000 + k * 10000 + e * 100000 + f * 1000000 + "
            "g * 10000000\n"
            "    return torch.add(torch.zeros([1], dtype=7), float(total))\n"; // float64: exact
        const std::string file = with_code(script_net(body), path("semantics.pt"));
        Document doc = open_document(file);
        Tensor y;
        {
            NoGradGuard no_grad;
            y = doc.root->forward(ones({1}));
        }
        const double want =
            -4 + 2 * 10 + 4 * 100 + 4 * 1000 + 3 * 10000 + 19 * 100000 + 5 * 1000000 + 1 * 10000000;
        QCOMPARE(y.item(), want);
    }

    void attribute_writes_replace_buffers() {
        // self.steps = ... rebinds the buffer (as PyTorch); the new tensor is in state_dict().
        const std::string body = "    self.steps = torch.mul(torch.ones([2]), 7)\n"
                                 "    return x\n";
        Document doc = open_document(with_code(script_net(body), path("rebind.pt")));
        NoGradGuard no_grad;
        doc.root->forward(ones({1}));
        QCOMPARE(doc.root->attr("steps").to_doubles(), (std::vector<double>{7, 7}));
        QVERIFY(doc.root->state_dict().tensors.find("steps")->shape() == Shape({2}));
    }

    void hostile_archives_fail_in_one_line() {
        // An endless loop stops at the time limit.
        auto t0 = std::chrono::steady_clock::now();
        std::string msg = run_error(
            "    _0 = torch.add_(self.steps, 1)\n    while True:\n      pass\n    return x\n", 0.5,
            "", int64_t(1) << 60);
        QVERIFY2(msg.ends_with("code/__torch__.py:14: step ran past the time limit of 0.5 s") ||
                     msg.ends_with("code/__torch__.py:15: step ran past the time limit of 0.5 s"),
                 msg.c_str());
        QVERIFY(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        // A huge loop count stops at the statement limit.
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    for i in range(1000000000000):\n  "
                        "    y = x\n    return x\n",
                        60);
        QVERIFY2(
            msg.ends_with(
                "code/__torch__.py:14: stopped after 5000000 statements (an endless loop?)") ||
                msg.ends_with(
                    "code/__torch__.py:15: stopped after 5000000 statements (an endless loop?)"),
            msg.c_str());
        // An operator nnscope does not have (nothing can reach the shell).
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    _1 = torch.system_shell(\"rm -rf "
                        "/\")\n    return x\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:14: unknown operator torch.system_shell"),
                 msg.c_str());
        msg = run_error("    _1 = ops.my_namespace.my_op(x)\n    return x\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:13: unsupported operator ops.my_namespace.my_op "
                               "(custom operator "
                               "namespaces are not supported)"),
                 msg.c_str());
        // A call of a class or function that is not in the archive.
        msg = run_error(
            "    _0 = torch.add_(self.steps, 1)\n    return __torch__.nowhere.missing(x)\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:14: __torch__.nowhere.missing is not in the "
                               "archive (no such class "
                               "or function)"),
                 msg.c_str());
        // Endless recursion stops at the call depth.
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    return (self).again(x, )\n", 5,
                        "  def again(self: __torch__.ScriptNet, x: Tensor) -> Tensor:\n    return "
                        "(self).again(x, )\n");
        QVERIFY2(
            msg.ends_with("code/__torch__.py:16: calls nested deeper than 200 levels (recursion)"),
            msg.c_str());
        // 64-bit ints overflow into an error, not into undefined behaviour; a bad stride too.
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    n = "
                        "torch.add(9223372036854775807, 1)\n    return x\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:14: integer overflow in aten::add"), msg.c_str());
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    return torch.conv2d(x, "
                        "self.conv.weight, None, [0, 1])\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:14: non-positive stride is not supported"),
                 msg.c_str());
        // A Python exception raised by the code keeps its kind and text.
        msg = run_error("    _0 = torch.add_(self.steps, 1)\n    ops.prim.RaiseException(\"bad "
                        "input\", \"builtins.ValueError\")\n    return x\n");
        QVERIFY2(msg.ends_with("code/__torch__.py:14: ValueError: bad input"), msg.c_str());
    }

    void broken_code_opens_for_inspection_but_does_not_run() {
        const std::string file =
            with_code(script_net("    y = (x,\n    return y\n"), path("syntax.pt"));
        Document doc = open_document(file);
        QVERIFY2(doc.note.starts_with("not runnable: code/__torch__.py:14: expected ')', got 'y'"),
                 doc.note.c_str());
        QCOMPARE(doc.root->named_buffers().size(), size_t(5)); // steps, scratch, bn.*
        auto [kind, msg] = catch_error([&] { doc.root->forward(ones({1})); });
        QCOMPARE(QString::fromStdString(kind), QString("SyntaxError"));
        QVERIFY2(msg.starts_with("code/__torch__.py:14: "), msg.c_str());
        // Deep nesting is refused by the parser, not by the stack.
        std::string deep =
            "    y = " + std::string(5000, '(') + "x" + std::string(5000, ')') + "\n    return y\n";
        doc = open_document(with_code(script_net(deep), path("deep.pt")));
        QVERIFY2(doc.note.find("nested deeper than 200 levels") != std::string::npos,
                 doc.note.c_str());
    }

    void pooling_sizes_and_values_follow_pytorch() {
        // PyTorch 1.13's F.max_pool2d / F.avg_pool2d on arange(n*n) (1, 1, n, n): the output
        // size (ceil_mode drops a last window that would start in the padding) and the first
        // values (avg_pool2d's divisor counts the padding inside the padded input).
        struct Case {
            int64_t n, k, s, p;
            bool ceil;
            int64_t out;
            std::vector<double> max4, avg4;
        };
        const std::vector<Case> cases = {
            {3, 2, 2, 1, true, 2, {0, 2, 6, 8}, {0, 0.75, 2.25, 6}},
            {5, 3, 2, 1, true, 3, {6, 8, 9, 16}, {1.3333333730697632, 3, 2.6666667461395264, 7}},
            {29, 3, 2, 0, true, 14, {60, 62, 64, 66}, {30, 32, 34, 36}},
            {6,
             3,
             2,
             1,
             false,
             3,
             {7, 9, 11, 19},
             {1.5555555820465088, 3.3333332538604736, 4.666666507720947, 8.333333015441895}},
            {7, 2, 3, 1, true, 3, {0, 3, 6, 21}, {0, 1.25, 2.75, 8.75}},
        };
        for (const auto& c : cases) {
            Tensor x = arange(0, double(c.n * c.n), 1).reshape({1, 1, c.n, c.n});
            Tensor mx = F::max_pool2d(x, {c.k, c.k}, {c.s, c.s}, {c.p, c.p}, {1, 1}, c.ceil);
            Tensor av =
                F::avg_pool2d(x, {c.k, c.k}, {c.s, c.s}, {c.p, c.p}, c.ceil, true, std::nullopt);
            QCOMPARE(mx.shape(), Shape({1, 1, c.out, c.out}));
            QCOMPARE(av.shape(), Shape({1, 1, c.out, c.out}));
            std::vector<double> m = mx.to_doubles(), a = av.to_doubles();
            m.resize(4), a.resize(4);
            NNSCOPE_COMPARE_VALUES(m, c.max4);
            NNSCOPE_COMPARE_VALUES(a, c.avg4);
        }
    }

    // Python's operators are decided when parsed (ast.h's BinOp/UnOp) and each evaluates as
    // Python does: every binary operator of the grammar, augmented assignments, not/and/or.
    void python_operators_parse_once_and_evaluate() {
        const std::vector<std::pair<std::string, script::BinOp>> tokens = {
            {"+", script::BinOp::Add},        {"-", script::BinOp::Sub},
            {"*", script::BinOp::Mul},        {"/", script::BinOp::Div},
            {"//", script::BinOp::FloorDiv},  {"%", script::BinOp::Mod},
            {"**", script::BinOp::Pow},       {"@", script::BinOp::MatMul},
            {"&", script::BinOp::BitAnd},     {"|", script::BinOp::BitOr},
            {"^", script::BinOp::BitXor},     {"<<", script::BinOp::LShift},
            {">>", script::BinOp::RShift},    {"==", script::BinOp::Eq},
            {"!=", script::BinOp::Ne},        {"<", script::BinOp::Lt},
            {">", script::BinOp::Gt},         {"<=", script::BinOp::Le},
            {">=", script::BinOp::Ge},        {"is", script::BinOp::Is},
            {"is not", script::BinOp::IsNot}, {"in", script::BinOp::In},
            {"not in", script::BinOp::NotIn}, {"and", script::BinOp::And},
            {"or", script::BinOp::Or}};
        QCOMPARE(int(tokens.size()), script::k_binop_count);
        for (const auto& [token, op] : tokens) {
            script::ExprPtr e = script::parse_expression("a " + token + " b", "test");
            QCOMPARE(int(e->kind), int(script::Expr::Kind::Binary));
            QCOMPARE(int(e->binop), int(op));
            QCOMPARE(std::string(script::operator_token(op)), token);
        }
        const std::string body =
            "    a = 7 // 2 + -7 % 3 * 10\n"     // 3 + 2 * 10 = 23
            "    b = 8 - (5 & 3) | 1 << 4 ^ 2\n" // (8 - 1) | (16 ^ 2) = 23
            "    c = 6 >> 1\n"                   // 3
            "    dd = {\"x\": 5}\n"
            "    e = 1 if \"x\" in dd and \"y\" not in dd else 0\n"                      // 1
            "    f = 1 if not 3 <= 2 or 1 == 2 else 0\n"                                 // 1
            "    g = 1 if None is None and 1 is not None and 2 != 3 and 3 >= 3 else 0\n" // 1
            "    h = 5\n"
            "    h += 2\n"
            "    h *= 3\n"
            "    h -= 1\n"
            "    h //= 2\n" // 10
            "    total = a + b * 100 + c * 10000 + e * 100000 + f * 1000000 + g * 10000000 + "
            "h * 100000000 + 2 ** 10 * 1000000000\n"
            "    return torch.add(torch.zeros([1], dtype=7), float(total))\n";
        const std::string file = with_code(script_net(body), path("operators.pt"));
        Document doc = open_document(file);
        Tensor y;
        {
            NoGradGuard no_grad;
            y = doc.root->forward(ones({1}));
        }
        const double want = 23 + 23 * 100 + 3 * 10000 + 1 * 100000 + 1 * 1000000 + 1 * 10000000 +
                            10.0 * 100000000 + 1024.0 * 1000000000;
        QCOMPARE(y.item(), want);
    }

    void lexer_and_parser_errors_name_the_line() {
        auto parse_error = [](const std::string& code) {
            try {
                script::parse_code_file(code, "code/x.py", "__torch__.x");
            } catch (const script::ScriptError& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        QCOMPARE(QString::fromStdString(parse_error("def f(x: int) -> int:\n  return \"abc\n")),
                 QString("code/x.py:2: unterminated string"));
        QCOMPARE(QString::fromStdString(
                     parse_error("def f(x: int) -> int:\n    return 1\n  return 2\n")),
                 QString("code/x.py:3: unindent does not match any outer indentation level"));
        QCOMPARE(QString::fromStdString(parse_error("def f(x: int) -> int:\n  return 1 $ 2\n")),
                 QString("code/x.py:2: unexpected character '$'"));
        QCOMPARE(
            QString::fromStdString(parse_error("x = 1\n")),
            QString("code/x.py:1: expected a class or a function at the top level of a code file"));
        QCOMPARE(
            QString::fromStdString(
                parse_error("def f(x: int) -> int:\n  return 99999999999999999999\n")),
            QString("code/x.py:2: integer literal 99999999999999999999 does not fit in 64 bits"));
        QCOMPARE(QString::fromStdString(
                     parse_error(std::string("def f() -> str:\n  return \"\xff\"\n"))),
                 QString("code/x.py:1: not valid UTF-8 text"));
        // Well-formed code parses: strings with escapes, Final constants, keyword arguments.
        script::CodeFile f =
            script::parse_code_file("class A(Module):\n  __parameters__ = [\"w\", ]\n  __buffers__ "
                                    "= []\n  k : Final[int] = -3\n"
                                    "  def forward(self: __torch__.A, x: Tensor=None) -> Tensor:\n"
                                    "    return torch.sum(x, [1], keepdim=True, dtype=None)\n"
                                    "def g(s: str=\"a\\n\\\"b\\\"\\u00e9\") -> str:\n  return s\n",
                                    "code/x.py", "__torch__");
        QCOMPARE(f.classes.size(), size_t(1));
        QCOMPARE(f.classes[0]->qualified, std::string("__torch__.A"));
        QCOMPARE(f.classes[0]->parameters, std::vector<std::string>{"w"});
        QVERIFY(f.classes[0]->attribute("k")->final);
        QCOMPARE(f.functions[0]->params[0].default_value->s, std::string("a\n\"b\"\xc3\xa9"));
    }
};

QTEST_APPLESS_MAIN(TestScript)
#include "test_script.moc"
