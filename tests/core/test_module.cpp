// test_module.cpp: nn.Module semantics against PyTorch (fixtures/expected/module_rules.json;
// the built-in examples are checked by tests/lessons): registration rules and texts, __setattr__,
// the named_* walks and their de-duplication, state_dict order, load_state_dict, train/eval and
// to().
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
};

QTEST_APPLESS_MAIN(TestModule)
#include "test_module.moc"
