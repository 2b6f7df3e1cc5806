// test_layers.cpp: every layer against PyTorch (fixtures/expected/layers.json): with
// PyTorch's initial state dict loaded, the forward output, the input's gradient, every
// parameter's gradient and the buffers after the pass agree to 1e-5; the shape errors
// are PyTorch's texts. Also: autograd rules (buffers never get gradients, no-grad scopes,
// zero_grad), optimizers that only see parameters, and the seed examples' printed values.
#include "../test_support.h"

#include "autograd.h"
#include "document.h"
#include "functional.h"
#include "layers/layers.h"
#include "model_facts.h"
#include "model_spec.h"
#include "optim/optimizer.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
Tensor from_json(const json& t) {
    return tensor_from_fixture(t);
}

void compare(const Tensor& got, const json& want, const std::string& what) {
    QVERIFY2(got.defined(), (what + ": undefined").c_str());
    QVERIFY2(got.shape() == fixture_shape(want["shape"]),
             (what + ": shape " + shape_str(got.shape())).c_str());
    QCOMPARE(QString(dtype_name(got.dtype()).data()),
             QString::fromStdString(want["dtype"].get<std::string>()));
    std::string why;
    QVERIFY2(close(got.to_doubles(), fixture_values(want["values"]), 1e-5, 1e-6, &why),
             (what + ": " + why).c_str());
}

ModulePtr from_spec(const json& spec) {
    return parse_model_spec(spec.dump(), "case").root;
}
} // namespace

class TestLayers : public QObject {
    Q_OBJECT
    json fixture = load_fixture("layers.json");

  private slots:
    void layers_match_pytorch_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < fixture["cases"].size(); ++i)
            QTest::newRow(fixture["cases"][i]["name"].get<std::string>().c_str()) << int(i);
    }

    void layers_match_pytorch() {
        QFETCH(int, index);
        const json& c = fixture["cases"][size_t(index)];
        try {
            match_case(c, from_spec(c["spec"]), from_spec(c["spec"]));
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

    // The same modules pickled whole by torch.save ({name: module}, before their pass) run
    // straight from the .pt: hyper-parameters from the pickle, tensors from its storages.
    void pickled_layers_match_pytorch_data() { layers_match_pytorch_data(); }
    void pickled_layers_match_pytorch() {
        QFETCH(int, index);
        const json& c = fixture["cases"][size_t(index)];
        const std::string name = c["name"];
        if (c["spec"].contains("seed")) QSKIP("a spec-only key (nnscope's dropout seed)");
        try {
            const std::string file = fixtures_dir() + "/pt/layers_whole.pt";
            Document doc = open_document(file, name), fresh = open_document(file, name);
            if (c.contains("memory")) { // two inputs: not a model on its own, but a layer that runs
                QCOMPARE(not_runnable_modules(doc).at(0).reason,
                         std::string("its forward takes 2 inputs (tgt, memory); nnscope runs a "
                                     "model on one input"));
            } else {
                QVERIFY2(doc.root && doc.root->runnable(),
                         not_runnable_summary(doc.not_runnable).c_str());
            }
            QCOMPARE(QString::fromStdString(doc.root->type_name()),
                     QString::fromStdString(c["spec"]["type"]));
            match_case(c, doc.root, fresh.root);
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

  private:
    // The module's outputs for x: a decoder layer's with the case's memory, the others'
    // forward_all (a tuple's tensors).
    static std::vector<Tensor> run(Module& m, const Tensor& x, const json& c) {
        if (c.contains("memory"))
            return {dynamic_cast<TransformerLayer&>(m).decode(x, from_json(c["memory"]))};
        return m.forward_all(x);
    }

    // Loads the case's initial state dict into m (and into `fresh`, for the no-grad pass),
    // then checks the output, the gradients and the buffers after the pass.
    void match_case(const json& c, ModulePtr m, ModulePtr fresh) {
        StateDict sd;
        for (const auto& [k, v] : c["state_dict"].items()) sd.tensors.set(k, from_json(v));
        m->load_state_dict(sd);
        m->train(c["train"].get<bool>());
        Tensor x = from_json(c["input"]);
        if (x.is_floating_point()) x.set_requires_grad(true);
        // Every output of a tuple (LSTM: output, h_n, c_n), each with its upstream gradient.
        const std::vector<Tensor> ys = run(*m, x, c);
        Tensor loss;
        for (size_t i = 0; i < ys.size(); ++i) {
            const json& want = c.contains("outputs") ? c["outputs"][i] : c["output"];
            const json& up = c.contains("upstreams") ? c["upstreams"][i] : c["upstream"];
            compare(ys[i], want, "output " + std::to_string(i));
            Tensor part = ys[i].mul(from_json(up)).sum();
            loss = loss.defined() ? loss.add(part) : part;
        }
        QCOMPARE(ys.size(), c.contains("outputs") ? c["outputs"].size() : size_t(1));
        loss.backward();
        if (!c["input_grad"].is_null()) compare(x.grad(), c["input_grad"], "input grad");
        for (const auto& [k, p] : m->named_parameters()) {
            if (!c["param_grads"].contains(k)) {
                QVERIFY2(!p.grad().defined(), (k + " has a gradient PyTorch does not").c_str());
                continue;
            }
            compare(p.grad(), c["param_grads"][k], k + ".grad");
        }
        const StateDict after = m->state_dict();
        for (const auto& [k, v] : c["state_after"].items())
            compare(*after.tensors.find(k), v, k + " after");
        // Buffers never get gradients.
        for (const auto& [k, b] : m->named_buffers()) QVERIFY2(!b.grad().defined(), k.c_str());

        // The same pass under no-grad, where nothing is recorded and fused paths may take
        // the place of composed ones (Sequential's BatchNorm then ReLU in one pass).
        fresh->load_state_dict(sd);
        fresh->train(c["train"].get<bool>());
        {
            NoGradGuard no_grad;
            compare(run(*fresh, from_json(c["input"]), c)[0], c["output"], "no-grad output");
        }
        const StateDict fresh_after = fresh->state_dict();
        for (const auto& [k, v] : c["state_after"].items())
            compare(*fresh_after.tensors.find(k), v, k + " after a no-grad pass");
    }

  private slots:
    void shape_errors_match_pytorch() {
        const json& e = fixture["errors"];
        Generator gen(0);
        auto bn1 = [](int64_t n) {
            return std::make_shared<BatchNorm>("BatchNorm1d", n, 1e-5, 0.1, true, true);
        };
        NNSCOPE_EXPECT_ERROR(e["batchnorm1d_4d"], bn1(16)->forward(zeros({2, 16, 3, 3})));
        NNSCOPE_EXPECT_ERROR(e["batchnorm2d_2d"],
                             std::make_shared<BatchNorm>("BatchNorm2d", 16, 1e-5, 0.1, true, true)
                                 ->forward(zeros({2, 16})));
        NNSCOPE_EXPECT_ERROR(e["batchnorm_one_value"], bn1(16)->forward(zeros({1, 16})));
        NNSCOPE_EXPECT_ERROR(e["batchnorm_channels"], bn1(5)->forward(zeros({4, 16})));
        NNSCOPE_EXPECT_ERROR(e["linear_in_features"],
                             Linear(6, 16, true, gen).forward(zeros({4, 5})));
        auto conv = [&] {
            return std::make_shared<Conv2d>(
                3, 8, std::array<int64_t, 2>{3, 3}, std::array<int64_t, 2>{1, 1},
                std::array<int64_t, 2>{0, 0}, std::array<int64_t, 2>{1, 1}, 1, true, gen);
        };
        NNSCOPE_EXPECT_ERROR(e["conv_channels"], conv()->forward(zeros({2, 4, 8, 8})));
        NNSCOPE_EXPECT_ERROR(e["conv_rank"], conv()->forward(zeros({2, 3})));
        NNSCOPE_EXPECT_ERROR(e["conv_kernel_too_big"], conv()->forward(zeros({1, 3, 2, 2})));
        {
            auto half = conv();
            half->to(DType::Float16);
            NNSCOPE_EXPECT_ERROR(e["conv_half"],
                                 half->forward(zeros({1, 3, 8, 8}, TensorOptions(DType::Float16))));
        }
        NNSCOPE_EXPECT_ERROR(e["layernorm_shape"],
                             LayerNorm({16}, 1e-5, true).forward(zeros({4, 8})));
        NNSCOPE_EXPECT_ERROR(e["embedding_float"],
                             Embedding(10, 3, std::nullopt, gen).forward(zeros({4})));
        NNSCOPE_EXPECT_ERROR(
            e["embedding_range"],
            Embedding(10, 3, std::nullopt, gen).forward(from_int64s({3, 10}, {2})));
        NNSCOPE_EXPECT_ERROR(e["cross_entropy_target"],
                             F::cross_entropy(zeros({2, 3}), from_int64s({0, 5}, {2})));
        Stateless softmax(Stateless::Op::Softmax, "Softmax");
        softmax.dim = 2;
        NNSCOPE_EXPECT_ERROR(e["softmax_dim"], softmax.forward(zeros({2, 3})));
        NNSCOPE_EXPECT_ERROR(e["backward_no_grad"], zeros({2}).sum().backward());
        NNSCOPE_EXPECT_ERROR(e["backward_non_scalar"],
                             zeros({2}).set_requires_grad(true).mul(Scalar(2)).backward());
        NNSCOPE_EXPECT_ERROR(e["inplace_leaf"], make_parameter(zeros({2})).add_(Scalar(1)));
        NNSCOPE_EXPECT_ERROR(e["module_no_forward"],
                             open_example("parameter-vs-buffer").root->forward(zeros({1})));
    }

    // BatchNorm's running statistics against a two-pass long-double reference of the same
    // float data, where unshifted one-pass sums would lose digits: an outlier in the first row (the
    // fused kernel's shift), a mean 10^4 standard deviations from zero, and an infinity,
    // which makes PyTorch's running_var NaN (running_mean inf, every output of it NaN).
    void batch_norm_statistics_are_exact() {
        const int64_t n = 64, c = 3;
        Generator gen(7);
        std::vector<double> noise = randn({n, c}, gen).to_doubles(), v(size_t(n * c));
        for (int64_t i = 0; i < n; ++i) {
            v[size_t(i * c + 0)] = i == 0 ? 1e6 : noise[size_t(i * c)];
            v[size_t(i * c + 1)] = 1000.0 + 0.1 * noise[size_t(i * c + 1)];
            v[size_t(i * c + 2)] = i == 5 ? INFINITY : noise[size_t(i * c + 2)];
        }
        const Tensor x = from_doubles(v, {n, c}); // float32: the fused kernel's case
        const std::vector<double> xf = x.to_doubles();
        for (bool record : {false, true}) {
            ModulePtr bn = from_spec(json{{"type", "BatchNorm1d"}, {"num_features", c}});
            bn->train(true);
            Tensor out;
            if (record) {
                out = bn->forward(x);
            } else {
                NoGradGuard no_grad;
                out = bn->forward(x);
            }
            const std::vector<double> rm = bn->own_buffers().find("running_mean")->to_doubles();
            const std::vector<double> rv = bn->own_buffers().find("running_var")->to_doubles();
            for (int64_t ch = 0; ch < 2; ++ch) {
                long double mean = 0, sq = 0;
                for (int64_t i = 0; i < n; ++i) mean += xf[size_t(i * c + ch)];
                mean /= n;
                for (int64_t i = 0; i < n; ++i) {
                    const long double d = xf[size_t(i * c + ch)] - mean;
                    sq += d * d;
                }
                const double want_mean = double(0.1L * mean),
                             want_var = double(0.9L + 0.1L * sq / (n - 1));
                QVERIFY2(std::fabs(rm[size_t(ch)] - want_mean) <= 1e-6 * std::fabs(want_mean),
                         ("running_mean[" + std::to_string(ch) + "] " +
                          std::to_string(rm[size_t(ch)]) + " vs " + std::to_string(want_mean))
                             .c_str());
                QVERIFY2(std::fabs(rv[size_t(ch)] - want_var) <= 1e-6 * want_var,
                         ("running_var[" + std::to_string(ch) + "] " +
                          std::to_string(rv[size_t(ch)]) + " vs " + std::to_string(want_var))
                             .c_str());
            }
            QVERIFY(std::isinf(rm[2]) && rm[2] > 0);
            QVERIFY(std::isnan(rv[2]));
            const std::vector<double> y = out.to_doubles();
            for (int64_t i = 0; i < n; ++i) {
                QVERIFY(std::isnan(y[size_t(i * c + 2)]));
                QVERIFY(std::isfinite(y[size_t(i * c + 1)]));
            }
        }
    }

    // Dropout in train mode against PyTorch's: each kept element is scaled by 1/(1-p), the
    // kept count is binomial(n, 1-p) (within 6 standard deviations of n(1-p) and of the
    // count PyTorch kept; the two RNGs differ), the gradient is the same mask, a seed
    // repeats the mask, and eval mode passes the input through.
    void dropout_train_mode_matches_pytorch() {
        for (const json& want : fixture["dropout"]) {
            const double p = want["p"].get<double>();
            const int64_t n = want["n"].get<int64_t>();
            const double scale = want["scale"][0].get<double>();
            QVERIFY(want["scale"].size() == 1);
            ModulePtr m = from_spec({{"type", "Dropout"}, {"p", p}});
            auto* dropout = dynamic_cast<Stateless*>(m.get());
            QVERIFY(dropout);
            dropout->gen.manual_seed(42);
            m->train(true);
            Tensor x = ones({n});
            x.set_requires_grad(true);
            Tensor y = m->forward(x);
            y.sum().backward();
            const std::vector<double> out = y.to_doubles(), grad = x.grad().to_doubles();
            int64_t kept = 0;
            for (int64_t i = 0; i < n; ++i) {
                if (out[size_t(i)] == 0) continue;
                ++kept;
                QVERIFY2(std::fabs(out[size_t(i)] - scale) <= 1e-6 * scale,
                         (std::to_string(out[size_t(i)]) + " != " + std::to_string(scale)).c_str());
            }
            QCOMPARE(grad, out);
            const double sigma = std::sqrt(double(n) * p * (1 - p));
            QVERIFY2(std::fabs(double(kept) - double(n) * (1 - p)) <= 6 * sigma,
                     ("p=" + std::to_string(p) + ": kept " + std::to_string(kept)).c_str());
            QVERIFY(std::fabs(double(kept - want["kept"].get<int64_t>())) <=
                    6 * std::sqrt(2.0) * sigma);
            dropout->gen.manual_seed(42);
            QCOMPARE(m->forward(x).to_doubles(), out);
            m->train(false);
            QVERIFY(m->forward(x).is_same(x));
        }
    }

    void autograd_rules() {
        // Gradients accumulate across backward calls until zero_grad.
        Tensor w = make_parameter(from_doubles({1, 2, 3}, {3}));
        w.mul(Scalar(2)).sum().backward();
        w.mul(w).sum().backward();
        QCOMPARE(w.grad().to_doubles(), (std::vector<double>{4, 6, 8}));
        QCOMPARE(QString::fromStdString(w.mul(w).grad_fn_name()), QString("MulBackward0"));
        {
            NoGradGuard no_grad;
            Tensor y = w.mul(Scalar(2));
            QVERIFY(!y.requires_grad());
            QVERIFY(y.is_leaf());
            w.add_(Scalar(1)); // parameter updates are allowed under no_grad
        }
        Sgd sgd({{"w", w}}, SgdOptions{});
        sgd.zero_grad();
        QVERIFY(!w.grad().defined()); // set_to_none=True
    }

    void optimizers_only_see_parameters() {
        Document doc = open_example("mlp-batchnorm");
        Module& m = *doc.root;
        auto opt = make_optimizer("sgd:lr=0.1,momentum=0.9", m.named_parameters());
        QCOMPARE(opt->params().size(), size_t(10));
        for (const auto& [name, p] : opt->params())
            QVERIFY2(name.find("running") == std::string::npos, name.c_str());
        StateDict before = m.state_dict();
        std::vector<double> rm_before = m.child("1")->attr("running_mean").to_doubles();
        Generator gen(3);
        Tensor x = randn({8, 6}, gen), target = randn({8, 4}, gen);
        m.train();
        F::mse_loss(m.forward(x), target).backward();
        std::vector<double> rm_after_forward = m.child("1")->attr("running_mean").to_doubles();
        QVERIFY(rm_after_forward != rm_before); // the forward pass moved the buffer
        opt->step();
        QCOMPARE(m.child("1")->attr("running_mean").to_doubles(),
                 rm_after_forward); // the step did not
        QCOMPARE(m.child("1")->attr("num_batches_tracked").item_int(), int64_t(1));
        // Optimizer state is the optimizer's: one momentum_buffer per parameter, none in the model.
        NamedTensors state = opt->state();
        QCOMPARE(state.size(), size_t(10));
        QCOMPARE(QString::fromStdString(state[0].first), QString("0.weight.momentum_buffer"));
        QCOMPARE(m.named_buffers().size(), size_t(6));
        auto adam = make_optimizer("adam:lr=0.01,betas=0.8/0.9", m.named_parameters());
        adam->step();
        QCOMPARE(QString::fromStdString(adam->state()[0].first), QString("0.weight.step"));
        QCOMPARE(adam->state()[0].second.item(), 1.0);
        auto bad = catch_error([&] { make_optimizer("rmsprop:lr=1", m.named_parameters()); });
        QCOMPARE(QString::fromStdString(bad.first), QString("ValueError"));
        // eval mode: forward passes leave every buffer as it was.
        m.eval();
        StateDict frozen = m.state_dict();
        std::vector<double> nbt = m.child("4")->attr("running_var").to_doubles();
        m.forward(x);
        QCOMPARE(m.child("4")->attr("running_var").to_doubles(), nbt);
    }

    // The seed documents' printed outputs.
    void seed_running_average_prints() {
        Document doc = open_example("running-average");
        Module& m = *doc.root;
        QVERIFY(m.parameters().empty());
        std::vector<std::string> printed;
        for (double x : {10.0, 10.0, 5.0, 15.0, 1.0}) {
            Tensor out = m.forward(full({}, Scalar(x)));
            QCOMPARE(out.item(), x); // forward returns its input
            printed.push_back(m.attr("count").repr() + ", " + m.attr("running_average").repr());
        }
        QCOMPARE(qlist(printed),
                 QStringList({"tensor([1.]), tensor([10.])", "tensor([2.]), tensor([10.])",
                              "tensor([3.]), tensor([8.3333])", "tensor([4.]), tensor([10.])",
                              "tensor([5.]), tensor([8.2000])"}));
        // The updates inside forward persisted and are in the state dict (seed 003's claim is
        // wrong).
        QCOMPARE(QString::fromStdString(m.state_dict().tensors.find("running_average")->repr()),
                 QString("tensor([8.2000])"));
    }

    // Seed 001's printout of named_buffers(), and seed 003's in-place and indexed updates.
    void seed_parameter_vs_buffer_and_updates() {
        Document doc = open_example("parameter-vs-buffer");
        std::vector<std::string> printed;
        for (const auto& [n, b] : doc.root->named_buffers())
            printed.push_back("('" + n + "', " + b.repr() + ")");
        QCOMPARE(qlist(printed), QStringList({"('running_mean', tensor([0., 0., 0.]))",
                                              "('running_var', tensor([1., 1., 1.]))"}));
        QCOMPARE(doc.root->parameters().size(), size_t(2));

        Document upd = open_example("update-buffer");
        Module& m = *upd.root;
        Tensor my_buffer = m.attr("my_buffer");
        my_buffer.fill_(Scalar(1));
        QCOMPARE(QString::fromStdString(m.attr("my_buffer").repr()),
                 QString("tensor([1., 1., 1., 1., 1., 1., 1., 1., 1., 1.])"));
        std::vector<std::string> means;
        Tensor input = from_doubles({1, 2, 3, 4, 5}, {5});
        for (int i = 0; i < 5; ++i) {
            m.attr("running_mean").add_(input.mean());
            means.push_back(m.attr("running_mean").repr());
        }
        QCOMPARE(qlist(means), QStringList({"tensor([3.])", "tensor([6.])", "tensor([9.])",
                                            "tensor([12.])", "tensor([15.])"}));
        Tensor table = m.attr("lookup_table");
        for (int64_t i : {1, 3, 5}) table.select(0, i).mul_(Scalar(2));
        QCOMPARE(QString::fromStdString(m.attr("lookup_table").repr()),
                 QString("tensor([ 0,  2,  2,  6,  4, 10,  6,  7,  8,  9])"));
    }

    void seed_buffer_patterns() {
        Document doc = open_example("buffer-patterns");
        Module& m = *doc.root;
        Tensor x = from_doubles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {10});
        m.child("running_average")->forward(x);
        QCOMPARE(QString::fromStdString(m.child("running_average")->attr("running_avg").repr()),
                 QString("tensor(0.5500)"));
        m.child("complex")->forward(x);
        m.child("complex")->forward(x);
        QCOMPARE(QString::fromStdString(m.child("complex")->attr("count").repr()),
                 QString("tensor(2)"));
        QCOMPARE(m.child("complex")->attr("stats").to_doubles()[9], 20.0);
        // Only embeddings.weight is a parameter; precomputed_embeddings is a buffer.
        QCOMPARE(m.named_parameters().size(), size_t(1));
        QCOMPARE(QString::fromStdString(m.named_parameters()[0].first),
                 QString("embedding.embeddings.weight"));
        Tensor idx = from_int64s({3, 99}, {2});
        Tensor looked = m.child("embedding")->child("embeddings")->forward(idx);
        QCOMPARE(looked.shape(), (Shape{2, 10}));
    }
};

QTEST_APPLESS_MAIN(TestLayers)
#include "test_layers.moc"
