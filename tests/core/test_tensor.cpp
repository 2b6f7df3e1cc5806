// test_tensor.cpp: tensor ops against PyTorch (fixtures/expected/ops.json, repr_cases.json):
// type promotion, broadcasting arithmetic, reductions, views, casts, error texts, repr.
#include "../test_support.h"

#include "autograd.h"
#include "functional.h"
#include "op_table.h"
#include "optim/optimizer.h"
#include "random.h"
#include "tensor.h"
#include "tensor_format.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
DType dt(const json& name) {
    return *dtype_from_name(name.get<std::string>());
}
Tensor from_fixture(const json& values, const Shape& shape, DType dtype = DType::Float32) {
    return from_doubles(fixture_values(values), shape, TensorOptions(dtype));
}
QString qs(std::string_view s) {
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}
} // namespace

class TestTensor : public QObject {
    Q_OBJECT
    json ops = load_fixture("ops.json");

  private slots:
    void promote_types_matches_torch() {
        for (const auto& row : ops["promote_types"])
            QCOMPARE(qs(dtype_name(promote_types(dt(row[0]), dt(row[1])))),
                     qs(row[2].get<std::string>()));
    }

    void result_type_with_scalars_and_zero_dim() {
        for (const auto& row : ops["result_type"]) {
            Tensor x = ones({2}, TensorOptions(dt(row[0])));
            std::string what = row[1].get<std::string>();
            Tensor sum, quot;
            if (what == "int")
                sum = x.add(Scalar(2)), quot = x.div(Scalar(2));
            else if (what == "float")
                sum = x.add(Scalar(2.5)), quot = x.div(Scalar(2.5));
            else if (what == "bool")
                sum = x.add(Scalar(true));
            else
                sum = x.add(ones({}, TensorOptions(*dtype_from_name(what.substr(5)))));
            QVERIFY2(qs(dtype_name(sum.dtype())) == qs(row[2].get<std::string>()),
                     (row.dump()).c_str());
            if (!row[3].is_null())
                QVERIFY2(qs(dtype_name(quot.dtype())) == qs(row[3].get<std::string>()),
                         row.dump().c_str());
        }
    }

    void arithmetic_matches_torch() {
        const json& b = ops["binary"];
        Tensor a = from_fixture(b["a"], {2, 3}), v = from_fixture(b["b"], {3});
        NNSCOPE_COMPARE_VALUES((a + v).to_doubles(), fixture_values(b["add"]));
        NNSCOPE_COMPARE_VALUES((a - v).to_doubles(), fixture_values(b["sub"]));
        NNSCOPE_COMPARE_VALUES((a * v).to_doubles(), fixture_values(b["mul"]));
        NNSCOPE_COMPARE_VALUES((a / v).to_doubles(), fixture_values(b["div"]));
        NNSCOPE_COMPARE_VALUES(a.maximum(v).to_doubles(), fixture_values(b["maximum"]));
        NNSCOPE_COMPARE_VALUES(a.minimum(v).to_doubles(), fixture_values(b["minimum"]));
        NNSCOPE_COMPARE_VALUES((a * Scalar(0.1)).to_doubles(), fixture_values(b["scalar_mul"]));
        NNSCOPE_COMPARE_VALUES(a.abs().pow(Scalar(1.5)).to_doubles(),
                               fixture_values(b["scalar_pow"]));
        NNSCOPE_COMPARE_VALUES(a.relu().to_doubles(), fixture_values(b["relu"]));
        NNSCOPE_COMPARE_VALUES(a.sigmoid().to_doubles(), fixture_values(b["sigmoid"]));
        NNSCOPE_COMPARE_VALUES(a.tanh().to_doubles(), fixture_values(b["tanh"]));
        NNSCOPE_COMPARE_VALUES(a.exp().to_doubles(), fixture_values(b["exp"]));
        NNSCOPE_COMPARE_VALUES(a.abs().sqrt().to_doubles(), fixture_values(b["sqrt_abs"]));
        NNSCOPE_COMPARE_VALUES(a.matmul(v).to_doubles(), fixture_values(b["matmul"]));
        NNSCOPE_COMPARE_VALUES(a.matmul(a.t()).to_doubles(), fixture_values(b["matmul_t"]));
        // Exact float32 results, not just close: x * 0.1 rounds like PyTorch's float kernel.
        QCOMPARE((a * Scalar(0.1)).to_doubles(), fixture_values(b["scalar_mul"]));
    }

    // maximum/minimum backward: the larger (smaller) side gets the gradient, a tie half each;
    // the broadcast operand's gradient is summed over the rows.
    void extremum_gradients_match_torch() {
        const json& e = ops["extremum_grads"];
        for (const char* name : {"maximum", "minimum"}) {
            Tensor a = from_fixture(e["a"], {2, 3}), b = from_fixture(e["b"], {3});
            a.set_requires_grad(true);
            b.set_requires_grad(true);
            Tensor y = std::string(name) == "maximum" ? a.maximum(b) : a.minimum(b);
            y.mul(from_fixture(e["upstream"], {2, 3})).sum().backward();
            NNSCOPE_COMPARE_VALUES(a.grad().to_doubles(), fixture_values(e[name]["a"]));
            NNSCOPE_COMPARE_VALUES(b.grad().to_doubles(), fixture_values(e[name]["b"]));
        }
    }

    // In-place ops under autograd (ops.json "inplace_autograd"): each case is the same program
    // as generate.py's; gradients, the written tensor's grad_fn and version, or the error.
    void inplace_autograd_matches_torch() {
        const json& f = ops["inplace_autograd"];
        using Program = std::function<void(Tensor & x, Tensor & w, const Tensor& up, Tensor& t)>;
        const std::vector<std::pair<const char*, Program>> programs = {
            {"relu_rebase",
             [](Tensor& x, Tensor&, const Tensor& up, Tensor& t) {
                 Tensor a = x.mul(Scalar(2)), b = a.mul(Scalar(3));
                 apply_(UnaryOp::Relu, a);
                 t = a;
                 b.mul(up).add(a).sum().backward();
             }},
            {"add_mul_rebase",
             [](Tensor& x, Tensor& w, const Tensor& up, Tensor& t) {
                 t = x.mul(Scalar(2));
                 t.add_(w);
                 t.mul_(w);
                 t.mul(up).sum().backward();
             }},
            {"saved_result_written_twice",
             [](Tensor& x, Tensor& w, const Tensor& up, Tensor& t) {
                 t = x.sigmoid();
                 t.add_(w);
                 t.mul_(w);
                 t.mul(up).sum().backward();
             }},
            {"plain_joins_graph",
             [](Tensor& x, Tensor&, const Tensor& up, Tensor& t) {
                 t = zeros({3});
                 t.add_(x);
                 t.mul_(Scalar(2.0));
                 t.mul(up).sum().backward();
             }},
            {"copy_broadcast",
             [](Tensor& x, Tensor&, const Tensor& up, Tensor& t) {
                 t = zeros({2, 3});
                 t.copy_(x);
                 t.mul(up).sum().backward();
             }},
            {"fill_cuts_history",
             [](Tensor& x, Tensor&, const Tensor&, Tensor& t) {
                 t = x.mul(Scalar(2));
                 Tensor b = x.mul(Scalar(3));
                 t.fill_(Scalar(1.0));
                 t.mul(b).sum().backward();
             }},
            {"saved_result_written",
             [](Tensor& x, Tensor&, const Tensor&, Tensor& t) {
                 t = x.sigmoid();
                 t.mul_(Scalar(2.0));
                 t.sum().backward();
             }},
            {"saved_input_written",
             [](Tensor& x, Tensor& w, const Tensor&, Tensor& t) {
                 Tensor a = x.mul(Scalar(1));
                 t = a.mul(w);
                 a.add_(Scalar(1.0));
                 t.sum().backward();
             }},
            {"saved_leaf_written",
             [](Tensor& x, Tensor& w, const Tensor&, Tensor& t) {
                 t = x.mul(w);
                 x.detach().add_(Scalar(1.0));
                 t.sum().backward();
             }},
            {"leaf_in_place",
             [](Tensor& x, Tensor&, const Tensor&, Tensor& t) {
                 t = x;
                 x.add_(Scalar(1.0));
             }},
            {"leaf_in_place_no_grad",
             [](Tensor& x, Tensor& w, const Tensor&, Tensor& t) {
                 t = x;
                 NoGradGuard no_grad;
                 x.add_(w);
             }},
        };
        QCOMPARE(programs.size(), f["cases"].size());
        for (const auto& [name, program] : programs) {
            const json& want = f["cases"][name];
            Tensor x = from_fixture(f["x"], {3}), w = from_fixture(f["w"], {3});
            x.set_requires_grad(true);
            w.set_requires_grad(true);
            Tensor t;
            auto [kind, message] =
                catch_error([&] { program(x, w, from_fixture(f["up"], {3}), t); });
            if (want.contains("error")) {
                QVERIFY2(qs(message) == qs(want["error"].get<std::string>()),
                         (std::string(name) + ": " + message).c_str());
                continue;
            }
            QVERIFY2(message.empty(), (std::string(name) + ": " + message).c_str());
            for (auto [leaf, key] : {std::pair{&x, "x_grad"}, std::pair{&w, "w_grad"}}) {
                QCOMPARE(leaf->grad().defined(), !want[key].is_null());
                if (!want[key].is_null())
                    NNSCOPE_COMPARE_VALUES(leaf->grad().to_doubles(), fixture_values(want[key]));
            }
            QVERIFY2(qs(t.grad_fn_name()) == qs(want["grad_fn"].get<std::string>()), name);
            QCOMPARE(int64_t(t.version()), want["version"].get<int64_t>());
        }
        // nnscope does not rebase a view's base (PyTorch's CopySlices): it says so.
        Tensor x = from_fixture(f["x"], {3});
        x.set_requires_grad(true);
        Tensor v = x.mul(Scalar(1)).narrow(0, 1, 2);
        QCOMPARE(qs(catch_error([&] { v.mul_(Scalar(2)); }).second),
                 qs("in-place operation on a view (output of SliceBackward0) that autograd "
                    "must record: nnscope does not support this yet (PyTorch records it as "
                    "CopySlices on the view's base); compute it out of place"));
    }

    // Max pooling over tied maxima: ATen's index (and so the gradient) is the first in scan order.
    void max_pool_ties_match_torch() {
        const json& f = ops["pool_ties"];
        Tensor x = from_fixture(f["x"], {1, 1, 3, 3});
        x.set_requires_grad(true);
        auto [y, idx] = F::max_pool2d_with_indices(x, {2, 2}, {1, 1}, {0, 0}, {1, 1}, false);
        NNSCOPE_COMPARE_VALUES(y.to_doubles(), fixture_values(f["values"]));
        QCOMPARE(idx.reshape({4}).to_int64s(), f["indices"].get<std::vector<int64_t>>());
        y.mul(from_doubles({1, 2, 3, 4}, {1, 1, 2, 2}, TensorOptions(DType::Float32)))
            .sum()
            .backward();
        NNSCOPE_COMPARE_VALUES(x.grad().to_doubles(), fixture_values(f["grad"]));
    }

    // Max pooling over rows with ties, a NaN and minus infinity, padded, dilated and in ceil
    // mode: values, ATen's indices and the gradient, as PyTorch 1.13 computed them.
    void max_pool_rows_match_torch() {
        const json& f = ops["pool_rows"];
        for (const json& c : f["cases"]) {
            auto pair = [&](const char* k) {
                return std::array<int64_t, 2>{c[k][0].get<int64_t>(), c[k][1].get<int64_t>()};
            };
            Tensor x = from_fixture(f["x"], {1, 2, 7, 12});
            x.set_requires_grad(true);
            auto [y, idx] =
                F::max_pool2d_with_indices(x, pair("kernel"), pair("stride"), pair("padding"),
                                           pair("dilation"), c["ceil_mode"].get<bool>());
            QCOMPARE(y.shape(), fixture_shape(c["shape"]));
            NNSCOPE_COMPARE_VALUES(y.to_doubles(), fixture_values(c["values"]));
            QCOMPARE(idx.reshape({idx.numel()}).to_int64s(),
                     c["indices"].get<std::vector<int64_t>>());
            Tensor plain =
                F::max_pool2d(x.detach(), pair("kernel"), pair("stride"), pair("padding"),
                              pair("dilation"), c["ceil_mode"].get<bool>());
            NNSCOPE_COMPARE_VALUES(plain.to_doubles(), fixture_values(c["values"]));
            y.mul(from_doubles(fixture_values(c["upstream"]), y.shape(),
                               TensorOptions(DType::Float32)))
                .sum()
                .backward();
            NNSCOPE_COMPARE_VALUES(x.grad().to_doubles(), fixture_values(c["grad"]));
        }
    }

    // Convolution paths that keep derived copies of the weights (oneDNN's layout in no-grad
    // passes, the eval-mode BatchNorm fold) must see every change of the weights: an
    // optimizer's fused step included. Each pass is compared with one on fresh copies of
    // the tensors, which no cache has seen; the fold with a tiny running variance, where
    // eps is most of the denominator.
    void cached_convolution_weights_follow_changes() {
        Generator gen(7);
        Tensor x = randn({2, 3, 6, 6}, gen), w = randn({4, 3, 3, 3}, gen);
        w.set_requires_grad(true);
        auto opt = make_optimizer("sgd:lr=0.1,momentum=0.9", {{"w", w}});
        for (int step = 0; step < 4; ++step) {
            {
                NoGradGuard no_grad;
                Tensor cached = F::conv2d(x, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1);
                Tensor fresh =
                    F::conv2d(x.clone(), w.detach().clone(), Tensor(), {1, 1}, {1, 1}, {1, 1}, 1);
                QCOMPARE(cached.to_doubles(), fresh.to_doubles());
            }
            w.set_grad(ones(w.shape()).mul(Scalar(0.5 + step)));
            opt->step(); // from the second step on, the fused in-place SGD kernel
        }
        Tensor mean = randn({4}, gen), var = randn({4}, gen).abs().mul(Scalar(1e-6)),
               gamma = randn({4}, gen), beta = randn({4}, gen);
        NoGradGuard no_grad;
        for (bool relu : {false, true}) {
            Tensor fused = F::conv_bn_eval(x, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, mean, var,
                                           gamma, beta, 1e-3, relu);
            if (!fused.defined()) QSKIP("oneDNN off or not built in: no folded path");
            Tensor plain =
                F::batch_norm(F::conv2d(x, w.detach().clone(), Tensor(), {1, 1}, {1, 1}, {1, 1}, 1),
                              mean.clone(), var.clone(), Tensor(), gamma, beta, false, 0.1, 1e-3);
            if (relu) plain = plain.relu();
            std::string why;
            QVERIFY2(test::close(fused.to_doubles(), plain.to_doubles(), 1e-4, 1e-5, &why),
                     why.c_str());
        }
    }

    void reductions_and_views_match_torch() {
        const json& r = ops["reduce"];
        Tensor x = from_fixture(r["x"], {2, 3, 4});
        NNSCOPE_COMPARE_VALUES(x.sum().to_doubles(), fixture_values(r["sum"]));
        NNSCOPE_COMPARE_VALUES(x.mean().to_doubles(), fixture_values(r["mean"]));
        NNSCOPE_COMPARE_VALUES(x.var().to_doubles(), fixture_values(r["var"]));
        NNSCOPE_COMPARE_VALUES(x.var(0).to_doubles(), fixture_values(r["var_biased"]));
        NNSCOPE_COMPARE_VALUES(x.std().to_doubles(), fixture_values(r["std"]));
        NNSCOPE_COMPARE_VALUES(x.min().to_doubles(), fixture_values(r["min"]));
        NNSCOPE_COMPARE_VALUES(x.max().to_doubles(), fixture_values(r["max"]));
        NNSCOPE_COMPARE_VALUES(x.norm().to_doubles(), fixture_values(r["norm"]));
        NNSCOPE_COMPARE_VALUES(x.sum({1}).to_doubles(), fixture_values(r["sum_dim1"]));
        Tensor m = x.mean({0, 2}, true);
        QCOMPARE(m.shape(), (Shape{1, 3, 1}));
        NNSCOPE_COMPARE_VALUES(m.to_doubles(), fixture_values(r["mean_dims02_keep"]));
        NNSCOPE_COMPARE_VALUES(x.var({0}, 0).to_doubles(), fixture_values(r["var_dim0_biased"]));
        Tensor isum = arange(10).sum();
        QCOMPARE(isum.dtype(), DType::Int64);
        QCOMPARE(isum.item_int(), int64_t(45));
        Tensor t = x.transpose(0, 2);
        QVERIFY(!t.is_contiguous());
        QVERIFY(t.shares_storage_with(x));
        NNSCOPE_COMPARE_VALUES(t.contiguous().to_doubles(), fixture_values(r["transpose_contig"]));
        NNSCOPE_COMPARE_VALUES(x.select(1, 2).narrow(1, 1, 2).to_doubles(),
                               fixture_values(r["select_narrow"]));
        // A view writes through to its base.
        x.select(0, 1).select(0, 0).fill_(Scalar(7.0));
        QCOMPARE(x.to_doubles()[12], 7.0);
    }

    void casts_match_torch() {
        const json& c = ops["casts"];
        Tensor src = from_fixture(c["src"], {int64_t(c["src"].size())});
        for (const char* d : {"int64", "int32", "bool", "float16", "bfloat16", "float64"})
            QVERIFY2(close(src.to(*dtype_from_name(d)).to_doubles(), fixture_values(c[d]), 0, 0),
                     d);
        Tensor usrc = from_fixture(c["uint8_src"], {int64_t(c["src"].size())});
        QCOMPARE(usrc.to(DType::UInt8).to_doubles(), fixture_values(c["uint8"]));
    }

    void error_texts_match_torch() {
        const json& e = ops["errors"];
        NNSCOPE_EXPECT_ERROR(e["broadcast"], zeros({2, 3}) + zeros({4}));
        NNSCOPE_EXPECT_ERROR(e["int_add_float_inplace"],
                             zeros({2}, TensorOptions(DType::Int64)).add_(Scalar(1.5)));
        NNSCOPE_EXPECT_ERROR(e["view_noncontig"], zeros({2, 3}).t().view({6}));
        NNSCOPE_EXPECT_ERROR(e["view_bad_size"], zeros({6}).view({2, 5}));
        NNSCOPE_EXPECT_ERROR(e["select_oob"], zeros({3, 2}).select(0, 5));
        NNSCOPE_EXPECT_ERROR(e["dim_oob"], zeros({3, 2}).sum({2}));
        NNSCOPE_EXPECT_ERROR(e["mean_int"], arange(3).mean());
        NNSCOPE_EXPECT_ERROR(e["item_many"], zeros({3}).item());
        NNSCOPE_EXPECT_ERROR(e["matmul_shapes"], zeros({2, 3}).matmul(zeros({2, 3})));
        NNSCOPE_EXPECT_ERROR(e["inplace_broadcast"], zeros({3}).add_(zeros({2, 3})));
        NNSCOPE_EXPECT_ERROR(e["requires_grad_int"],
                             zeros({3}, TensorOptions(DType::Int64)).set_requires_grad(true));
    }

    void repr_matches_torch() {
        json cases = load_fixture("repr_cases.json");
        int n = 0;
        for (const auto& c : cases) {
            DType d = dt(c["dtype"]);
            Shape shape = fixture_shape(c["shape"]);
            Tensor t;
            if (dtype_is_integral(d)) {
                std::vector<int64_t> v;
                for (const auto& x : c["values"]) v.push_back(x.get<int64_t>());
                t = from_int64s(v, shape, TensorOptions(d));
            } else {
                t = from_doubles(fixture_values(c["values"]), shape, TensorOptions(d));
            }
            if (c["is_parameter"].get<bool>())
                t = make_parameter(t, c["requires_grad"].get<bool>());
            else if (c["requires_grad"].get<bool>())
                t.set_requires_grad(true);
            QCOMPARE(QString::fromStdString(t.repr()),
                     QString::fromStdString(c["repr"].get<std::string>()));
            ++n;
        }
        QVERIFY(n >= 40);
    }

    void half_precision_round_trips() {
        // Every float16 bit pattern survives float16 -> float -> float16 (NaNs stay NaN).
        for (uint32_t h = 0; h < 0x10000; ++h) {
            float f = half_to_float(uint16_t(h));
            if (std::isnan(f))
                QVERIFY(std::isnan(half_to_float(float_to_half(f))));
            else
                QCOMPARE(float_to_half(f), uint16_t(h));
        }
    }

    void seeded_generator_is_reproducible() {
        Generator g1(42), g2(42), g3(43);
        Tensor a = randn({1000}, g1), b = randn({1000}, g2), c = randn({1000}, g3);
        QCOMPARE(a.to_doubles(), b.to_doubles());
        QVERIFY(a.to_doubles() != c.to_doubles());
        // Standard normal: mean ~ 0 and std ~ 1 within 5 sigma of their sampling error.
        QVERIFY(std::fabs(a.mean().item()) < 5.0 / std::sqrt(1000.0));
        QVERIFY(std::fabs(a.std().item() - 1.0) < 5.0 * std::sqrt(0.5 / 1000.0));
    }

    void empty_tensors_work() {
        Tensor e = zeros({0, 3});
        QCOMPARE(e.numel(), int64_t(0));
        QCOMPARE(e.sum().item(), 0.0);
        QVERIFY(std::isnan(e.mean().item()));
        QCOMPARE(e.count_nan(), int64_t(0));
        QCOMPARE(QString::fromStdString(e.repr()), QString("tensor([], size=(0, 3))"));
        QCOMPARE((e + ones({3})).shape(), (Shape{0, 3}));
    }
};

QTEST_APPLESS_MAIN(TestTensor)
#include "test_tensor.moc"
