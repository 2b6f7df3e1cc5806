// test_lessons.cpp: every sentence of the built-in examples' lessons is checked against
// PyTorch. lesson_sentences.json splits each lesson into its sentences and names the claims
// that check each one (or, for a claim about another library, the reference that backs it);
// fixtures/expected/lesson_claims.json holds what PyTorch does for each claim
// (fixtures/lesson_claims.py), and each claim below makes the same observation with
// nnscope's core. A lesson that changes without its sentence map fails here.
#include "../test_support.h"

#include <map>

#include "autograd.h"
#include "device.h"
#include "document.h"
#include "functional.h"
#include "gpu.h"
#include "layers/layers.h"
#include "module.h"
#include "optim/optimizer.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {

using Snapshot = std::map<std::string, std::vector<double>>;

Snapshot snapshot(Module& m) {
    Snapshot s;
    for (const auto& [k, v] : m.state_dict().tensors) s[k] = v.to_doubles();
    return s;
}

std::vector<std::string> changed(const Snapshot& before, Module& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m.state_dict().tensors)
        if (before.at(k) != v.to_doubles()) out.push_back(k);
    return out;
}

std::vector<std::string> names(const NamedTensors& v) {
    std::vector<std::string> out;
    for (const auto& [n, t] : v) out.push_back(n);
    return out;
}

std::vector<std::string> strings(const json& arr) {
    return arr.get<std::vector<std::string>>();
}

std::vector<std::string> state_dict_keys(Module& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m.state_dict().tensors) out.push_back(k);
    return out;
}

// The Python side's ramp: sin(linspace(-1, 1, 48)) as 8 x 6.
Tensor mlp_input() {
    std::vector<double> v(48);
    for (int i = 0; i < 48; ++i) v[size_t(i)] = std::sin(-1.0 + 2.0 * i / 47);
    return from_doubles(v, {8, 6});
}

void set_gradients_to_ones(Module& m) {
    for (auto& [n, p] : m.named_parameters()) p.set_grad(ones(p.shape(), TensorOptions(p.dtype())));
}

// PyTorch moves to "meta" here (it has no GPU); nnscope to sim:0.
std::string device_as_torch(const Tensor& t) {
    return t.device().is_cpu() ? "cpu" : "meta";
}

using Check = std::function<void(const json& torch)>;

// One check per claim id of lesson_sentences.json; `torch` is lesson_claims.json.
const std::map<std::string, Check>& checks() {
    static const std::map<std::string, Check> table = {
        {"mlp.roles",
         [](const json& torch) {
             const json& want = torch["mlp_roles"];
             Document doc = open_example("mlp-batchnorm");
             Module& m = *doc.root;
             QCOMPARE(qlist(names(m.named_parameters())), qlist(want["parameters"]));
             QCOMPARE(qlist(names(m.named_buffers())), qlist(want["buffers"]));
             QCOMPARE(qlist(state_dict_keys(m)), qlist(want["state_dict"]));
             QVERIFY(m.is_training());
             Snapshot before = snapshot(m);
             m.forward(mlp_input());
             QCOMPARE(qlist(changed(before, m)), qlist(want["changed_by_train_forward"]));
             std::vector<std::string> tracked;
             for (const auto& [n, b] : m.named_buffers())
                 if (b.requires_grad() || !b.is_leaf()) tracked.push_back(n);
             QCOMPARE(qlist(tracked), qlist(want["buffers_tracked_by_autograd_after_forward"]));
             Sgd sgd(m.named_parameters(), SgdOptions{.lr = 0.1});
             set_gradients_to_ones(m);
             before = snapshot(m);
             sgd.step();
             QCOMPARE(qlist(changed(before, m)), qlist(want["changed_by_optimizer_step"]));
             m.eval();
             before = snapshot(m);
             {
                 NoGradGuard no_grad;
                 m.forward(mlp_input());
             }
             QCOMPARE(qlist(changed(before, m)), qlist(want["changed_by_eval_forward"]));
         }},
        {"mlp.cast",
         [](const json& torch) {
             for (const auto& [name, dtype] :
                  {std::pair{"double", DType::Float64}, std::pair{"half", DType::Float16}}) {
                 Document doc = open_example("mlp-batchnorm");
                 doc.root->to(dtype);
                 std::vector<std::string> got, want;
                 for (const auto& [k, v] : doc.root->state_dict().tensors)
                     got.push_back(k + " " + std::string(dtype_name(v.dtype())));
                 for (const auto& [k, v] : torch["mlp_cast"][name].items())
                     want.push_back(k + " " + v.get<std::string>());
                 QCOMPARE(qlist(got), qlist(want));
             }
         }},
        {"running_average.initial",
         [](const json& torch) {
             const json& want = torch["running_average"];
             Document doc = open_example("running-average");
             for (const auto& [n, b] : doc.root->named_buffers())
                 QCOMPARE(b.to_doubles(), want["initial"][n].get<std::vector<double>>());
             QCOMPARE(doc.root->named_buffers().size(), want["initial"].size());
             QCOMPARE(qlist(names(doc.root->named_parameters())), qlist(want["parameters"]));
         }},
        {"running_average.calls",
         [](const json& torch) {
             const json& want = torch["running_average"];
             Document doc = open_example("running-average");
             Module& m = *doc.root;
             size_t i = 0;
             for (double x : {10.0, 10.0, 5.0, 15.0, 1.0}) {
                 m.forward(full({1}, Scalar(x)));
                 NNSCOPE_COMPARE_VALUES((std::vector<double>{m.attr("count").item(),
                                                             m.attr("running_average").item()}),
                                        want["calls"][i++].get<std::vector<double>>());
             }
             // The reassigned running_average is still a buffer, and in the state dict.
             QCOMPARE(qlist(names(m.named_buffers())), qlist(want["buffers_after"]));
             for (const auto& [k, v] : m.state_dict().tensors)
                 NNSCOPE_COMPARE_VALUES(v.to_doubles(),
                                        want["state_dict_after"][k].get<std::vector<double>>());
         }},
        {"running_average.saved_and_loaded",
         [](const json& torch) {
             const json& want = torch["running_average"];
             Document doc = open_example("running-average");
             for (double x : {10.0, 10.0, 5.0, 15.0, 1.0}) doc.root->forward(full({1}, Scalar(x)));
             Document fresh = open_example("running-average");
             LoadResult r = fresh.root->load_state_dict(doc.root->state_dict());
             QVERIFY(r.missing_keys.empty() && r.unexpected_keys.empty());
             std::vector<std::string> keys;
             for (const auto& [k, v] : want["loaded"].items()) keys.push_back(k);
             QCOMPARE(qlist(state_dict_keys(*fresh.root)), qlist(keys));
             for (const auto& [k, v] : fresh.root->state_dict().tensors)
                 NNSCOPE_COMPARE_VALUES(v.to_doubles(),
                                        want["loaded"][k].get<std::vector<double>>());
             QVERIFY(fresh.root->parameters().empty());
         }},
        {"parameter_vs_buffer.moves_with_to",
         [](const json& torch) {
             Document doc = open_example("parameter-vs-buffer");
             doc.root->to(Device::parse("sim:0"));
             json got = json::object();
             for (const auto& [n, t] : doc.root->named_parameters()) got[n] = !t.device().is_cpu();
             for (const auto& [n, t] : doc.root->named_buffers()) got[n] = !t.device().is_cpu();
             QCOMPARE(QString::fromStdString(got.dump()),
                      QString::fromStdString(torch["parameter_vs_buffer"]["moved_by_to"].dump()));
             QCOMPARE(qlist(state_dict_keys(*doc.root)),
                      qlist(torch["parameter_vs_buffer"]["state_dict"]));
         }},
        {"parameter_vs_buffer.optimizer",
         [](const json& torch) {
             Document doc = open_example("parameter-vs-buffer");
             Module& m = *doc.root;
             Sgd sgd(m.named_parameters(), SgdOptions{.lr = 0.5});
             set_gradients_to_ones(m);
             Snapshot before = snapshot(m);
             sgd.step();
             QCOMPARE(qlist(changed(before, m)),
                      qlist(torch["parameter_vs_buffer"]["changed_by_optimizer_step"]));
         }},
        {"parameter_vs_buffer.starts_at_zero",
         [](const json& torch) {
             // torch.Tensor(3, 3) runs aten::empty and nothing that writes: the memory is
             // whatever was there, so the example starts at zero instead.
             QCOMPARE(qlist(torch["parameter_vs_buffer"]["torch_Tensor_3_3_runs"]),
                      QStringList({"aten::empty"}));
             Document doc = open_example("parameter-vs-buffer");
             for (const char* n : {"weight", "bias"})
                 for (double v : doc.root->attr(n).to_doubles()) QCOMPARE(v, 0.0);
         }},
        {"parameter_vs_buffer.frozen_parameter",
         [](const json& torch) {
             Document doc = open_example("parameter-vs-buffer");
             doc.root->attr("bias").set_requires_grad(false);
             json got = json::array();
             for (const auto& [n, p] : doc.root->named_parameters())
                 got.push_back(json::array({n, p.requires_grad()}));
             QCOMPARE(QString::fromStdString(got.dump()),
                      QString::fromStdString(
                          torch["parameter_vs_buffer"]["parameters_with_requires_grad"].dump()));
         }},
        {"module_rules.buffer_requires_grad",
         [](const json&) {
             // A buffer registered with requires_grad=True and used in forward gets a .grad,
             // as in PyTorch; it is still not among parameters().
             const json want = load_fixture("module_rules.json")["buffer_requires_grad"]["result"];
             auto m = std::make_shared<Module>("Module");
             m->register_parameter("w", make_parameter(from_doubles({1, 2, 3}, {3})));
             Tensor b = from_doubles({0.5, -1, 2}, {3});
             b.set_requires_grad(true);
             m->register_buffer("b", b);
             Tensor x = from_doubles({2, 3, 4}, {3});
             m->attr("w").mul(m->attr("b")).mul(x).sum().backward();
             QVERIFY(m->attr("b").grad().defined());
             QCOMPARE(m->attr("b").grad().to_doubles(), want["b_grad"].get<std::vector<double>>());
             QCOMPARE(m->attr("w").grad().to_doubles(), want["w_grad"].get<std::vector<double>>());
             QCOMPARE(qlist(names(m->named_parameters())), qlist(want["parameters"]));
             QCOMPARE(qlist(names(m->named_buffers())), qlist(want["buffers"]));
         }},
        {"buffer_patterns.running_avg",
         [](const json& torch) {
             const json& want = torch["buffer_patterns"];
             Document doc = open_example("buffer-patterns");
             Module& avg = *doc.root->child("running_average");
             Tensor x = from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {10});
             std::vector<double> seen;
             for (int i = 0; i < 2; ++i) {
                 avg.forward(x);
                 seen.push_back(avg.attr("running_avg").item());
             }
             NNSCOPE_COMPARE_VALUES(seen,
                                    want["running_avg_after_calls"].get<std::vector<double>>());
             QCOMPARE(avg.attr("running_avg").shape(), fixture_shape(want["running_avg_shape"]));
             QCOMPARE(qlist(names(avg.named_buffers())), qlist(want["running_avg_is_buffer"]));
         }},
        {"buffer_patterns.embedding",
         [](const json& torch) {
             const json& want = torch["buffer_patterns"];
             Document doc = open_example("buffer-patterns");
             Module& emb = *doc.root->child("embedding");
             QCOMPARE(qlist(names(emb.named_parameters())), qlist(want["embedding_parameters"]));
             json got = json::array();
             for (const auto& [n, b] : emb.named_buffers())
                 got.push_back(json::array({n, b.shape()}));
             QCOMPARE(QString::fromStdString(got.dump()),
                      QString::fromStdString(want["embedding_buffers"].dump()));
         }},
        {"buffer_patterns.counters",
         [](const json& torch) {
             const json& want = torch["buffer_patterns"];
             Document doc = open_example("buffer-patterns");
             Module& acc = *doc.root->child("complex");
             Tensor x = from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {10});
             acc.forward(x);
             acc.forward(x);
             Tensor count = acc.attr("count");
             QCOMPARE(std::string(dtype_name(count.dtype())),
                      want["count_dtype"].get<std::string>());
             QCOMPARE(count.shape(), fixture_shape(want["count_shape"]));
             QCOMPARE(count.item(), want["count_after_two_calls"].get<double>());
             QCOMPARE(acc.attr("stats").to_doubles(),
                      want["stats_after_two_calls"].get<std::vector<double>>());
         }},
        {"buffer_patterns.optimizer",
         [](const json& torch) {
             // What an optimizer built from model.parameters() holds: no buffer.
             Document doc = open_example("buffer-patterns");
             Sgd sgd(doc.root->named_parameters(), SgdOptions{.lr = 0.1});
             std::vector<std::string> held;
             for (const auto& [n, p] : sgd.params()) held.push_back(n);
             QCOMPARE(qlist(held),
                      QStringList({"embedding." +
                                   QString::fromStdString(strings(
                                       torch["buffer_patterns"]["embedding_parameters"])[0])}));
         }},
        {"update_buffer.updates",
         [](const json& torch) {
             const json& want = torch["update_buffer"];
             Document doc = open_example("update-buffer");
             Module& m = *doc.root;
             m.attr("my_buffer").fill_(Scalar(1));
             QCOMPARE(m.attr("my_buffer").to_doubles(),
                      want["my_buffer"].get<std::vector<double>>());
             Tensor table = m.attr("lookup_table");
             QCOMPARE(std::string(dtype_name(table.dtype())),
                      want["lookup_table_dtype"].get<std::string>());
             for (int64_t i : {1, 3, 5}) table.select(0, i).mul_(Scalar(2));
             QCOMPARE(m.attr("lookup_table").to_doubles(),
                      want["lookup_table"].get<std::vector<double>>());
         }},
        {"update_buffer.persist",
         [](const json& torch) {
             // PyTorch adds inside forward(); nnscope's example has no forward and adds from
             // outside: the lesson's point is that both stick, and are saved.
             const json& want = torch["update_buffer"];
             Document doc = open_example("update-buffer");
             Module& m = *doc.root;
             m.attr("my_buffer").fill_(Scalar(1));
             for (int64_t i : {1, 3, 5}) m.attr("lookup_table").select(0, i).mul_(Scalar(2));
             std::vector<double> means;
             Tensor input = from_doubles({1, 2, 3, 4, 5}, {5});
             for (int i = 0; i < 5; ++i) {
                 m.attr("running_mean").add_(input.mean());
                 means.push_back(m.attr("running_mean").item());
             }
             QCOMPARE(means, want["running_mean_per_call"].get<std::vector<double>>());
             for (const auto& [k, v] : m.state_dict().tensors)
                 QCOMPARE(v.to_doubles(), want["state_dict"][k].get<std::vector<double>>());
             QCOMPARE(m.state_dict().tensors.size(), want["state_dict"].size());
         }},
        {"plain_attribute.listing",
         [](const json& torch) {
             const json& want = torch["plain_attribute"];
             Document doc = open_example("plain-attribute");
             QCOMPARE(qlist(state_dict_keys(*doc.root)), qlist(want["state_dict"]));
             QCOMPARE(qlist(names(doc.root->named_parameters())), qlist(want["parameters"]));
             QCOMPARE(qlist(names(doc.root->named_buffers())), qlist(want["buffers"]));
         }},
        {"plain_attribute.to_device",
         [](const json& torch) {
             Document doc = open_example("plain-attribute");
             doc.root->to(Device::parse("sim:0"));
             json got = json::object();
             for (const char* n : {"my_param", "my_buffer", "my_tensor"})
                 got[n] = device_as_torch(doc.root->attr(n));
             QCOMPARE(
                 QString::fromStdString(got.dump()),
                 QString::fromStdString(torch["plain_attribute"]["devices_after_to_meta"].dump()));
         }},
        {"plain_attribute.forward_error",
         [](const json& torch) {
             Document doc = open_example("plain-attribute");
             doc.root->to(Device::parse("sim:0"));
             auto [kind, message] = catch_error([&] {
                 doc.root->forward(ones({1}, TensorOptions().with_device(Device::parse("sim:0"))));
             });
             QCOMPARE(QString::fromStdString(kind), QString("RuntimeError"));
             std::string want = torch["plain_attribute"]["forward_error_after_to_meta"];
             want.replace(want.find("meta"), 4, "sim:0");
             QCOMPARE(QString::fromStdString(message), QString::fromStdString(want));
         }},
        {"plain_attribute.register_fix",
         [](const json& torch) {
             const json& want = torch["plain_attribute"];
             // Registering over the plain attribute is refused, as in PyTorch ...
             Document doc = open_example("plain-attribute");
             auto [kind, message] = catch_error(
                 [&] { doc.root->register_buffer("my_tensor", doc.root->attr("my_tensor")); });
             QCOMPARE(QString::fromStdString(kind), QString("KeyError"));
             QCOMPARE(message, want["register_over_attribute_error"].get<std::string>());
             // ... so __init__ registers it: then it is saved and moved.
             auto m = std::make_shared<Module>("MyModel");
             m->register_buffer("my_tensor", zeros({1}));
             m->register_buffer("my_buffer", zeros({1}));
             m->set_attr("my_param", make_parameter(zeros({1})));
             QCOMPARE(qlist(state_dict_keys(*m)), qlist(want["registered_state_dict"]));
             m->to(Device::parse("sim:0"));
             QCOMPARE(device_as_torch(m->attr("my_tensor")),
                      want["registered_device_after_to_meta"].get<std::string>());
         }},
        {"tinymodel.parameters",
         [](const json& torch) {
             const json& want = torch["tinymodel"];
             Document doc = open_example("tinymodel");
             Module& tiny = *doc.root->child("tinymodel");
             json got = json::array();
             for (const auto& [n, p] : tiny.named_parameters())
                 got.push_back(json::array({n, p.shape()}));
             QCOMPARE(QString::fromStdString(got.dump()),
                      QString::fromStdString(want["tinymodel_parameters"].dump()));
             QCOMPARE(json(tiny.child("activation")->parameters().size() +
                           tiny.child("softmax")->parameters().size()),
                      want["relu_softmax_parameters"]);
         }},
        {"tinymodel.batchnorm2d",
         [](const json& torch) {
             const json& want = torch["tinymodel"];
             Document doc = open_example("tinymodel");
             Module& bn = *doc.root->child("bn");
             QCOMPARE(qlist(names(bn.named_parameters())), qlist(want["batchnorm2d_parameters"]));
             QCOMPARE(qlist(names(bn.named_buffers())), qlist(want["batchnorm2d_buffers"]));
         }},
        {"tinymodel.softmax_dim",
         [](const json& torch) {
             const json& want = torch["tinymodel"];
             // PyTorch warns and, on a 2-D input, picks dim 1: nnscope's guess is the same,
             // and the example says dim=1.
             QCOMPARE(want["softmax_without_dim_warns"].size(), size_t(1));
             QVERIFY(want["softmax_without_dim_warns"][0].get<std::string>().starts_with(
                 "Implicit dimension choice for softmax has been deprecated"));
             QVERIFY(want["softmax_without_dim_on_2d_is_dim_1"].get<bool>());
             QCOMPARE(F::softmax_default_dim(2), int64_t(1));
             Document doc = open_example("tinymodel");
             QCOMPARE(
                 QString::fromStdString(doc.root->child("tinymodel")->child("softmax")->repr()),
                 QString("Softmax(dim=1)"));
         }},
    };
    return table;
}

// "examples.NAME": the example's structure against the PyTorch module it stands for
// (examples.json): modules and their types, state_dict entries, parameters, buffers, plain
// tensor attributes and repr().
void check_example_structure(const std::string& name, const json& want) {
    Document doc = open_example(name);
    Module& m = *doc.root;
    std::vector<std::string> got_modules, want_modules;
    for (auto& [n, x] : m.named_modules()) got_modules.push_back(n + ":" + x->type_name());
    for (const auto& e : want["named_modules"])
        want_modules.push_back(e[0].get<std::string>() + ":" + e[1].get<std::string>());
    QCOMPARE(qlist(got_modules), qlist(want_modules));
    std::vector<std::string> got_sd, want_sd;
    for (const auto& [k, v] : m.state_dict().tensors)
        got_sd.push_back(k + " " + shape_str(v.shape()) + " " + std::string(dtype_name(v.dtype())));
    for (const auto& e : want["state_dict"])
        want_sd.push_back(e[0].get<std::string>() + " " + shape_str(fixture_shape(e[1])) + " " +
                          e[2].get<std::string>());
    QCOMPARE(qlist(got_sd), qlist(want_sd));
    std::vector<std::string> got_p, want_p;
    for (const auto& [k, v] : m.named_parameters())
        got_p.push_back(k + (v.requires_grad() ? " grad" : ""));
    for (const auto& e : want["named_parameters"])
        want_p.push_back(e[0].get<std::string>() + (e[3].get<bool>() ? " grad" : ""));
    QCOMPARE(qlist(got_p), qlist(want_p));
    std::vector<std::string> want_b;
    for (const auto& e : want["named_buffers"]) want_b.push_back(e[0].get<std::string>());
    QCOMPARE(qlist(names(m.named_buffers())), qlist(want_b));
    std::vector<std::string> got_attr;
    for (const auto& [k, v] : m.own_attributes()) got_attr.push_back(k);
    QCOMPARE(qlist(got_attr), qlist(want["plain_tensor_attributes"]));
    QCOMPARE(QString::fromStdString(m.repr()),
             QString::fromStdString(want["repr"].get<std::string>()));
}

json load_sentences() {
    std::ifstream in(NNSCOPE_LESSON_SENTENCES);
    if (!in) qFatal("missing %s", NNSCOPE_LESSON_SENTENCES);
    return json::parse(in);
}

} // namespace

class TestLessons : public QObject {
    Q_OBJECT
    json sentences = load_sentences();
    json torch = load_fixture("lesson_claims.json");
    json examples = load_fixture("examples.json");

  private slots:
    void initTestCase() { gpu::register_devices(); }

    // Each lesson is exactly its listed sentences, and each sentence is backed by claims
    // this test checks (or by a reference, for what is not about PyTorch).
    void every_sentence_is_checked() {
        QCOMPARE(sentences.size(), examples.size());
        for (const auto& [name, listed] : sentences.items()) {
            Document doc = open_example(name);
            std::string joined;
            for (const auto& s : listed) {
                joined += (joined.empty() ? "" : " ") + s["sentence"].get<std::string>();
                if (s.contains("reference")) {
                    QVERIFY(s["reference"].get<std::string>().starts_with("https://"));
                    QVERIFY(!s["why"].get<std::string>().empty());
                    continue;
                }
                QVERIFY2(!s["claims"].empty(), s["sentence"].get<std::string>().c_str());
                for (const auto& c : s["claims"]) {
                    std::string id = c;
                    bool known = checks().count(id) ||
                                 (id.starts_with("examples.") && examples.contains(id.substr(9)));
                    QVERIFY2(known, ("no check for claim " + id).c_str());
                }
            }
            QCOMPARE(QString::fromStdString(joined), QString::fromStdString(doc.lesson));
        }
    }

    // Every check is used by some sentence (none is left over from an old lesson).
    void every_check_backs_a_sentence() {
        std::set<std::string> used;
        for (const auto& [name, listed] : sentences.items())
            for (const auto& s : listed)
                if (s.contains("claims"))
                    for (const auto& c : s["claims"]) used.insert(c.get<std::string>());
        for (const auto& [id, check] : checks()) QVERIFY2(used.count(id), id.c_str());
    }

    void claims_match_pytorch_data() {
        QTest::addColumn<QString>("claim");
        for (const auto& [id, check] : checks())
            QTest::newRow(id.c_str()) << QString::fromStdString(id);
        for (const auto& [name, want] : examples.items())
            QTest::newRow(("examples." + name).c_str())
                << QString::fromStdString("examples." + name);
    }

    void claims_match_pytorch() {
        QFETCH(QString, claim);
        std::string id = claim.toStdString();
        if (id.starts_with("examples."))
            check_example_structure(id.substr(9), examples[id.substr(9)]);
        else
            checks().at(id)(torch);
    }
};

QTEST_APPLESS_MAIN(TestLessons)
#include "test_lessons.moc"
