// test_module.cpp: nn.Module semantics against PyTorch (fixtures/expected/module_rules.json
// and examples.json): registration rules and texts, __setattr__, the named_* walks and
// their de-duplication, state_dict order, load_state_dict, train/eval and to().
#include "../test_support.h"

#include "document.h"
#include "layers/layers.h"
#include "module.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {

// The Python side's `fresh()`: a parameter w, a buffer b, a child sub, a plain tensor.
ModulePtr fresh() {
    auto m = std::make_shared<Module>();
    m->set_attr("w", make_parameter(zeros({2})));
    m->register_buffer("b", zeros({2}));
    m->set_attr("sub", std::make_shared<Module>());
    m->set_attr("plain", zeros({2}));
    return m;
}

std::vector<std::string> names(const NamedTensors& v) {
    std::vector<std::string> out;
    for (const auto& [n, t] : v) out.push_back(n);
    return out;
}

std::vector<std::string> names(const std::vector<std::pair<std::string, ModulePtr>>& v) {
    std::vector<std::string> out;
    for (const auto& [n, t] : v) out.push_back(n);
    return out;
}

std::vector<std::string> keys(const StateDict& sd) {
    std::vector<std::string> out;
    for (const auto& [k, v] : sd.tensors) out.push_back(k);
    return out;
}

void compare_listing(Module& m, const json& want) {
    QCOMPARE(qlist(names(m.named_parameters())), qlist(want["named_parameters"]));
    QCOMPARE(qlist(names(m.named_buffers())), qlist(want["named_buffers"]));
    QCOMPARE(qlist(keys(m.state_dict())), qlist(want["state_dict"]));
    QCOMPARE(qlist(names(m.named_modules())), qlist(want["named_modules"]));
}

ModulePtr seq3() {
    Generator gen(0);
    auto s = std::make_shared<Sequential>();
    s->append(std::make_shared<Linear>(3, 3, true, gen));
    s->append(std::make_shared<BatchNorm>("BatchNorm1d", 3, 1e-5, 0.1, true, true));
    return s;
}

} // namespace

class TestModule : public QObject {
    Q_OBJECT
    json rules = load_fixture("module_rules.json");

  private slots:
    // A buffer registered with requires_grad=True and used in forward gets a .grad, as in
    // PyTorch; it is still not among parameters() (the parameter-vs-buffer lesson's claim).
    void buffer_requiring_grad_gets_a_gradient() {
        const json& want = rules["buffer_requires_grad"]["result"];
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
        std::vector<std::string> params, buffers;
        for (const auto& [n, t] : m->named_parameters()) params.push_back(n);
        for (const auto& [n, t] : m->named_buffers()) buffers.push_back(n);
        QCOMPARE(params, want["parameters"].get<std::vector<std::string>>());
        QCOMPARE(buffers, want["buffers"].get<std::vector<std::string>>());
    }

    void registration_rules() {
        const char* names[] = {"a.b",   "",         "w",       "b",          "sub",
                               "plain", "training", "forward", "state_dict", "fresh_name"};
        for (const char* n : names) {
            const std::string name = n;
            for (const std::string op : {"register_buffer", "register_parameter", "add_module"}) {
                const json& want = rules[op + ":" + name];
                auto run = [&] {
                    auto m = fresh();
                    if (op == "register_buffer")
                        m->register_buffer(name, zeros({1}));
                    else if (op == "register_parameter")
                        m->register_parameter(name, zeros({1}));
                    else
                        m->register_module(name, std::make_shared<Module>());
                };
                auto got = catch_error(run);
                QVERIFY2(got.first.empty() == want["ok"].get<bool>(),
                         (op + ":" + name + " -> " + got.second).c_str());
                if (!want["ok"].get<bool>()) NNSCOPE_EXPECT_ERROR(want, run());
            }
        }
    }

    void setattr_rules() {
        NNSCOPE_EXPECT_ERROR(rules["setattr:tensor_to_parameter"],
                             fresh()->set_attr("w", ones({2})));
        NNSCOPE_EXPECT_ERROR(rules["setattr:double_tensor_to_parameter"],
                             fresh()->set_attr("w", ones({2}, TensorOptions(DType::Float64))));
        NNSCOPE_EXPECT_ERROR(rules["setattr:tensor_to_module"],
                             fresh()->set_attr("sub", ones({2})));

        auto m = fresh();
        m->register_buffer("nb", zeros({2}), false);
        m->set_attr("nb", make_parameter(ones({2})));
        compare_listing(*m, rules["setattr:parameter_to_buffer"]["result"]);

        // The seed's `self.running_average = self.running_average.mul(...)` pattern.
        m = fresh();
        m->register_buffer("nb", zeros({2}), false);
        m->set_attr("b", m->attr("b").mul(Scalar(2)).add(Scalar(1)));
        m->set_attr("nb", ones({3}));
        compare_listing(*m, rules["setattr:reassign_buffers"]["result"]);
        QVERIFY(!m->is_persistent_buffer("nb"));
        QCOMPARE(m->attr("b").to_doubles(), (std::vector<double>{1, 1}));

        NNSCOPE_EXPECT_ERROR(rules["getattr:missing"], Module("Model").attr("missing"));
    }

    void none_entries_are_skipped() {
        auto m = fresh();
        m->register_parameter("p_none", Tensor());
        m->register_buffer("b_none", Tensor());
        m->register_module("m_none", nullptr);
        compare_listing(*m, rules["none_entries"]["result"]);
    }

    void shared_modules_and_parameters() {
        Generator gen(0);
        auto lin = std::make_shared<Linear>(2, 2, true, gen);
        auto seq = std::make_shared<Sequential>();
        seq->append(lin);
        seq->append(std::make_shared<Stateless>(Stateless::Op::ReLU, "ReLU"));
        seq->append(lin);
        auto extra = std::make_shared<Module>();
        seq->set_attr("extra", extra);
        extra->register_parameter("tied", lin->attr("weight"));
        const json& want = rules["shared"]["result"];
        compare_listing(*seq, want);
        QCOMPARE(qlist(names(seq->named_modules("", false))), qlist(want["named_modules_all"]));
        QCOMPARE(qlist(names(seq->named_children())), qlist(want["named_children"]));
        QCOMPARE(qlist(names(extra->named_parameters("x", false))),
                 qlist(want["named_parameters_nonrecursive_extra"]));
        // The state dict holds the same tensor under both names.
        auto sd = seq->state_dict();
        QVERIFY(sd.tensors.find("0.weight")->shares_storage_with(*sd.tensors.find("2.weight")));
    }

    void nested_walks() {
        auto root = std::make_shared<Module>();
        root->register_buffer("top", zeros({1}));
        auto a = std::make_shared<Module>();
        root->set_attr("a", a);
        a->register_parameter("p", zeros({1}));
        auto b = std::make_shared<Module>();
        a->set_attr("b", b);
        b->register_buffer("deep", zeros({1}), false);
        b->register_buffer("deep2", zeros({1}));
        Generator gen(0);
        root->set_attr("c", std::make_shared<Linear>(1, 1, true, gen));
        const json& want = rules["nested"]["result"];
        compare_listing(*root, want);
        QCOMPARE(qlist(names(root->named_buffers("model"))), qlist(want["named_buffers_prefix"]));
        QCOMPARE(qlist(names(root->named_buffers("", false))),
                 qlist(want["named_buffers_nonrecursive"]));
    }

    void load_state_dict_errors() {
        {
            auto m = seq3();
            StateDict sd = m->state_dict();
            sd.tensors.erase("0.bias");
            sd.tensors.erase("1.running_var");
            sd.tensors.set("2.weight", zeros({1}));
            sd.tensors.set("0.extra", zeros({1}));
            std::vector<double> w_before = m->child("0")->attr("weight").to_doubles();
            for (auto& [k, v] : sd.tensors) sd.tensors.set(k, v.clone().add_(Scalar(1)));
            NNSCOPE_EXPECT_ERROR(rules["load:missing_unexpected"], m->load_state_dict(sd));
            QCOMPARE(m->child("0")->attr("weight").to_doubles(), w_before);
        }
        for (bool strict : {true, false}) {
            auto m = seq3();
            StateDict sd = m->state_dict();
            // Values that differ from the model's, so a partial load would be visible.
            for (auto& [k, v] : sd.tensors) sd.tensors.set(k, v.clone().add_(Scalar(1)));
            sd.tensors.set("0.weight", zeros({4, 3}));
            sd.tensors.set("1.running_mean", zeros({2}));
            sd.tensors.erase("0.bias");
            auto bn = m->child("1");
            std::vector<double> var_before = bn->attr("running_var").to_doubles();
            NNSCOPE_EXPECT_ERROR(
                rules[strict ? "load:size_mismatch_strict" : "load:size_mismatch_nonstrict"],
                m->load_state_dict(sd, strict));
            // Better than PyTorch: a failed load changes nothing.
            QCOMPARE(bn->attr("running_var").to_doubles(), var_before);
        }
    }

    void load_state_dict_results() {
        auto m = seq3();
        StateDict sd = m->state_dict();
        sd.tensors.erase("0.bias");
        sd.tensors.set("zzz", zeros({1}));
        LoadResult r = m->load_state_dict(sd, false);
        QCOMPARE(qlist(r.missing_keys), qlist(rules["load:nonstrict"]["result"]["missing_keys"]));
        QCOMPARE(qlist(r.unexpected_keys),
                 qlist(rules["load:nonstrict"]["result"]["unexpected_keys"]));

        for (bool with_metadata : {false, true}) {
            auto m2 = seq3();
            StateDict sd2 = m2->state_dict();
            sd2.tensors.erase("1.num_batches_tracked");
            if (!with_metadata) sd2.versions = {};
            LoadResult r2 = m2->load_state_dict(sd2, false);
            const json& want =
                rules[with_metadata ? "load:no_num_batches_tracked_with_metadata"
                                    : "load:no_num_batches_tracked_no_metadata"]["result"];
            QCOMPARE(qlist(r2.missing_keys), qlist(want["missing_keys"]));
        }

        // Values are copied in place with dtype casting.
        auto m3 = seq3();
        Tensor weight_handle = m3->child("0")->attr("weight");
        StateDict sd3;
        for (const auto& [k, v] : m3->state_dict().tensors)
            sd3.tensors.set(k, v.is_floating_point()
                                   ? v.to(DType::Float64).mul(Scalar(0)).add(Scalar(0.5))
                                   : v.add(Scalar(7)));
        m3->load_state_dict(sd3);
        const StateDict loaded = m3->state_dict();
        for (const auto& [k, want] : rules["load:values_cast"]["result"].items()) {
            const Tensor* got = loaded.tensors.find(k);
            QVERIFY(got);
            QCOMPARE(QString(dtype_name(got->dtype()).data()),
                     QString::fromStdString(want[0].get<std::string>()));
            NNSCOPE_COMPARE_VALUES(got->to_doubles(), fixture_values(want[1]));
        }
        QVERIFY(weight_handle.is_same(m3->child("0")->attr("weight"))); // same tensor object

        auto s = std::make_shared<Module>();
        s->register_buffer("s", full({}, Scalar(1.0)));
        StateDict sd4;
        sd4.tensors.set("s", from_doubles({4.0}, {1}));
        s->load_state_dict(sd4);
        NNSCOPE_COMPARE_VALUES(s->attr("s").to_doubles(),
                               fixture_values(rules["load:scalar_from_1d"]["result"]));
    }

    void modes_and_casts() {
        auto m = seq3();
        m->set_attr("plain", zeros({1}));
        m->to(DType::Float64);
        const json& want = rules["to:float64"]["result"];
        for (const auto& [k, v] : m->state_dict().tensors)
            QCOMPARE(QString(dtype_name(v.dtype()).data()),
                     QString::fromStdString(want[k].get<std::string>()));
        QCOMPARE(QString(dtype_name(m->attr("plain").dtype()).data()),
                 QString::fromStdString(want["plain"].get<std::string>()));
        NNSCOPE_EXPECT_ERROR(rules["to:int64"], seq3()->to(DType::Int64));

        auto t = seq3();
        t->eval();
        std::vector<bool> after_eval, after_train;
        for (auto& [n, x] : t->named_modules()) after_eval.push_back(x->is_training());
        t->train();
        for (auto& [n, x] : t->named_modules()) after_train.push_back(x->is_training());
        const json& te = rules["train_eval"]["result"];
        QCOMPARE(after_eval, te["after_eval"].get<std::vector<bool>>());
        QCOMPARE(after_train, te["after_train"].get<std::vector<bool>>());
    }

    // Each built-in example matches the PyTorch module it stands for.
    void examples_match_pytorch() {
        json examples = load_fixture("examples.json");
        for (const auto& [name, want] : examples.items()) {
            Document doc = open_example(name);
            Module& m = *doc.root;
            std::vector<std::string> got_modules, want_modules;
            for (auto& [n, x] : m.named_modules()) got_modules.push_back(n + ":" + x->type_name());
            for (const auto& e : want["named_modules"])
                want_modules.push_back(e[0].get<std::string>() + ":" + e[1].get<std::string>());
            QCOMPARE(qlist(got_modules), qlist(want_modules));
            std::vector<std::string> got_sd, want_sd;
            for (const auto& [k, v] : m.state_dict().tensors)
                got_sd.push_back(k + " " + shape_str(v.shape()) + " " +
                                 std::string(dtype_name(v.dtype())));
            for (const auto& e : want["state_dict"])
                want_sd.push_back(e[0].get<std::string>() + " " + shape_str(fixture_shape(e[1])) +
                                  " " + e[2].get<std::string>());
            QCOMPARE(qlist(got_sd), qlist(want_sd));
            std::vector<std::string> got_p, want_p;
            for (const auto& [k, v] : m.named_parameters())
                got_p.push_back(k + (v.requires_grad() ? " grad" : ""));
            for (const auto& e : want["named_parameters"])
                want_p.push_back(e[0].get<std::string>() + (e[3].get<bool>() ? " grad" : ""));
            QCOMPARE(qlist(got_p), qlist(want_p));
            std::vector<std::string> got_b, want_b;
            for (const auto& [k, v] : m.named_buffers()) got_b.push_back(k);
            for (const auto& e : want["named_buffers"]) want_b.push_back(e[0].get<std::string>());
            QCOMPARE(qlist(got_b), qlist(want_b));
            std::vector<std::string> got_attr;
            for (const auto& [k, v] : m.own_attributes()) got_attr.push_back(k);
            QCOMPARE(qlist(got_attr), qlist(want["plain_tensor_attributes"]));
            QCOMPARE(QString::fromStdString(m.repr()),
                     QString::fromStdString(want["repr"].get<std::string>()));
        }
    }

    // The seed's RunningAverage::forward follows PyTorch's arithmetic: the buffer it
    // replaces by assignment stays a buffer (and in the state dict), the numbers are the
    // exact running means of 10, 10, 5, 15, 1 to float32 precision.
    void seed_running_average_arithmetic() {
        Document doc = open_example("running-average");
        Module& m = *doc.root;
        std::vector<double> seen, counted;
        for (double x : {10.0, 10.0, 5.0, 15.0, 1.0}) {
            Tensor before = m.attr("running_average");
            Tensor out = m.forward(full({1}, Scalar(x)));
            QCOMPARE(out.to_doubles(), std::vector<double>{x});
            QVERIFY(!m.attr("running_average").is_same(before)); // replaced, not updated in place
            seen.push_back(m.attr("running_average").item());
            counted.push_back(m.state_dict().tensors.find("count")->item());
        }
        QCOMPARE(counted, (std::vector<double>{1, 2, 3, 4, 5}));
        NNSCOPE_COMPARE_VALUES(seen, (std::vector<double>{10, 10, 25.0 / 3, 10, 8.2}));
        QCOMPARE(m.state_dict().tensors.find("running_average")->item(), seen.back());
        QCOMPARE(QString::fromStdString(m.attr("running_average").repr()),
                 QString("tensor([8.2000])"));
        QCOMPARE(QString::fromStdString(m.attr("count").repr()), QString("tensor([5.])"));
        QCOMPARE(m.named_buffers().size(), size_t(2));
        QVERIFY(m.parameters().empty());
    }
};

QTEST_APPLESS_MAIN(TestModule)
#include "test_module.moc"
