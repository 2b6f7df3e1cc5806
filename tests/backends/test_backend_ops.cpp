// test_backend_ops.cpp: every op (each row of core/tensor/op_table.cpp), layer forward and
// backward on every available device, compared with the CPU backend (the reference), as
// ggml's test-backend-ops does. It runs on sim:0 everywhere (the CUDA backend's kernel
// bodies executed on the host) and on cuda:N where a GPU is usable; an unusable device is
// reported as skipped, with CUDA's reason. Also PyTorch's device semantics: what moves
// with Module::to and what stays, the mixed-device error, cross-device load_state_dict,
// and per-device memory accounting.
#include "../test_support.h"

#include <cblas.h>

#include <set>

#include "autograd.h"
#include "document.h"
#include "functional.h"
#include "gemm_layout.h"
#include "gpu.h"
#include "layers/layers.h"
#include "model_spec.h"
#include "op_table.h"
#include "random.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {

std::vector<Device> test_devices() {
    gpu::register_devices();
    std::vector<Device> out;
    for (const auto& d : list_devices())
        if (d.available && d.name != "cpu") out.push_back(Device::parse(d.name));
    return out;
}

// Compares a result computed on `device` with the same computation on the CPU.
void same(const Tensor& cpu, const Tensor& dev, const char* what, double rtol = 1e-6,
          double atol = 1e-7) {
    QVERIFY2(cpu.shape() == dev.shape(), what);
    QCOMPARE(dev.dtype(), cpu.dtype());
    std::string why;
    QVERIFY2(close(dev.to_doubles(), cpu.to_doubles(), rtol, atol, &why),
             (std::string(what) + ": " + why).c_str());
}

// An op over inputs, run on the CPU and on `device` from the same values.
using Op = std::function<Tensor(const std::vector<Tensor>&)>;
void check_op(const Device& device, const char* name, const std::vector<Tensor>& inputs,
              const Op& op, double rtol = 1e-6) {
    std::vector<Tensor> moved;
    for (const auto& t : inputs) moved.push_back(t.to(device));
    Tensor a = op(inputs), b = op(moved);
    QCOMPARE(b.device(), device);
    same(a, b, name, rtol);
}

// The gradients of sum(op(inputs) * up) on `device` and on the CPU must agree, and the
// result's grad_fn be the row's; an op without backward refuses to be recorded, in the
// row's words.
void check_backward(const Device& device, const std::string& name, const char* grad_fn,
                    bool has_backward, const std::vector<Tensor>& inputs, const Op& op) {
    auto run = [&](const Device& d, std::vector<Tensor>& grads) {
        std::vector<Tensor> leaves;
        for (const auto& t : inputs) {
            Tensor leaf = t.to(d).detach();
            leaf.set_requires_grad(true);
            leaves.push_back(leaf);
        }
        if (!has_backward) {
            const std::string what = "autograd is not implemented for this op";
            QCOMPARE(QString::fromStdString(catch_error([&] { op(leaves); }).second),
                     QString::fromStdString(grad_fn ? grad_fn + (": " + what) : what));
            return;
        }
        Tensor y = op(leaves);
        QCOMPARE(QString::fromStdString(y.grad_fn_name()), QString(grad_fn));
        Generator gen(3);
        y.mul(randn(y.shape(), gen).to(d)).sum().backward();
        for (const auto& leaf : leaves) grads.push_back(leaf.grad());
    };
    std::vector<Tensor> on_cpu, on_device;
    run(Device::cpu(), on_cpu);
    run(device, on_device);
    QCOMPARE(on_device.size(), on_cpu.size());
    for (size_t i = 0; i < on_cpu.size(); ++i) {
        QCOMPARE(on_device[i].device(), device);
        same(on_cpu[i], on_device[i], (name + " backward").c_str(), 1e-5, 1e-6);
    }
}

// ATen's operator name ("" for none) and PyTorch's grad_fn name (null for none).
void check_names(const char* aten, const char* grad_fn, bool has_backward) {
    const std::string a = aten;
    QVERIFY2(a.empty() || a.starts_with("aten::"), aten);
    if (has_backward) QVERIFY(grad_fn);
    if (grad_fn) {
        const std::string g = grad_fn;
        QVERIFY2(g.ends_with("Backward0") || g.ends_with("Backward1"), grad_fn);
    }
}

} // namespace

class TestBackendOps : public QObject {
    Q_OBJECT

  private slots:
    // With NNSCOPE_REQUIRE_CUDA=1 (scripts/gpu-check on a GPU machine) an unusable cuda:0
    // fails the suite, so a run there cannot pass without testing the GPU; elsewhere it is
    // a skip that says why.
    void cuda_when_required() {
        gpu::register_devices();
        std::string reason = "cuda:0 is not in the device list";
        for (const auto& d : list_devices())
            if (d.name == "cuda:0") reason = d.available ? "" : d.reason;
        const bool required = qEnvironmentVariable("NNSCOPE_REQUIRE_CUDA") == "1";
        if (required) QVERIFY2(reason.empty(), ("NNSCOPE_REQUIRE_CUDA=1 but " + reason).c_str());
        if (!reason.empty()) QSKIP(("cuda:0 not usable: " + reason).c_str());
    }

    void devices_data() {
        QTest::addColumn<QString>("device");
        gpu::register_devices(); // before listing: the list is the registry's
        for (const auto& d : list_devices()) {
            if (d.name == "cpu") continue;
            if (!d.available) {
                qInfo("skipped %s: %s", d.name.c_str(), d.reason.c_str());
                continue;
            }
        }
        for (const Device& d : test_devices())
            QTest::newRow(d.str().c_str()) << QString::fromStdString(d.str());
    }

    // Every row of the op table (core/tensor/op_table.cpp) on this device against the CPU: float
    // inputs, integer inputs (the row's dtype rule), a wrapped Python number for the binary
    // ops, reduced dims, and the backward (or its absence) with the row's grad_fn name.
    void table_ops_data() { devices_data(); }
    void table_ops() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        Generator gen(7);
        // Operands each op is defined on: positive under a root, a log or a real power, a
        // divisor away from zero.
        const Tensor a = randn({3, 4, 5}, gen), b = randn({4, 5}, gen),
                     pos = rand({3, 4, 5}, gen).add(Scalar(0.1));
        const Tensor ints = from_int64s({3, -2, 7, 0, 5, -9}, {2, 3}),
                     ints2 = from_int64s({2, 5, -1, 3, 1, 4}, {2, 3}),
                     pos_ints = from_int64s({3, 2, 7, 1, 5, 9}, {2, 3});

        for (const UnaryOpInfo& row : unary_ops()) {
            const std::string name = row.name;
            const UnaryOp op = row.op;
            const bool positive = op == UnaryOp::Sqrt || op == UnaryOp::Log;
            const Op f = [op](auto& t) { return apply(op, t[0]); };
            check_op(dev, name.c_str(), {positive ? pos : a}, f);
            check_op(dev, (name + " float16").c_str(), {(positive ? pos : a).to(DType::Float16)},
                     f);
            const Tensor i = positive ? pos_ints : ints;
            check_op(dev, (name + " int64").c_str(), {i}, f);
            QCOMPARE(apply(op, i.to(dev)).dtype(),
                     row.dtype == UnaryDType::KeepsInt ? DType::Int64 : default_float_dtype);
            check_backward(dev, name, row.grad_fn, row.backward != nullptr, {positive ? pos : a},
                           f);
        }

        for (const BinaryOpInfo& row : binary_ops()) {
            const std::string name = row.name;
            const BinaryOp op = row.op;
            const Tensor lhs = op == BinaryOp::Pow ? pos : a, rhs = op == BinaryOp::Div ? pos : b;
            const Op f = [op](auto& t) { return apply(op, t[0], t[1]); };
            check_op(dev, (name + " broadcast").c_str(), {lhs, rhs}, f);
            check_op(dev, (name + " float16").c_str(),
                     {lhs.to(DType::Float16), rhs.to(DType::Float16)}, f);
            check_op(dev, (name + " scalar").c_str(), {lhs},
                     [op](auto& t) { return apply(op, t[0], Scalar(1.5)); });
            check_op(dev, (name + " int64").c_str(), {ints, ints2}, f);
            check_op(dev, (name + " int64 scalar").c_str(), {ints},
                     [op](auto& t) { return apply(op, t[0], Scalar(2)); });
            const DType int_result =
                row.dtype == BinaryDType::IntToFloat ? default_float_dtype : DType::Int64;
            QCOMPARE(apply(op, ints.to(dev), ints2.to(dev)).dtype(), int_result);
            check_backward(dev, name, row.grad_fn, row.backward != nullptr, {lhs, rhs}, f);
        }

        const Tensor with_nan = from_doubles({1, NAN, INFINITY, -2, -INFINITY, NAN}, {2, 3});
        for (const ReduceOpInfo& row : reduce_ops()) {
            const std::string name = row.name;
            const ReduceOp op = row.op;
            const int64_t correction = op == ReduceOp::Var ? 1 : 0;
            check_op(dev, (name + " all").c_str(), {a},
                     [op, correction](auto& t) { return apply(op, t[0], {}, false, correction); });
            check_op(dev, (name + " dims keepdim").c_str(), {a}, [op, correction](auto& t) {
                return apply(op, t[0], {0, 2}, true, correction);
            });
            check_op(dev, (name + " dim").c_str(), {a}, [op, correction](auto& t) {
                return apply(op, t[0], {-2}, false, correction);
            });
            check_op(dev, (name + " nan/inf").c_str(), {with_nan},
                     [op](auto& t) { return apply(op, t[0], {1}); });
            if (!row.check) { // the ops integers may be reduced with
                check_op(dev, (name + " int64").c_str(), {ints},
                         [op](auto& t) { return apply(op, t[0], {1}); });
                QCOMPARE(apply(op, ints.to(dev)).dtype(), DType::Int64);
            }
            const Op f = [op, correction](auto& t) {
                return apply(op, t[0], {1}, false, correction);
            };
            if (row.backward) {
                check_backward(dev, name, row.grad_fn, true, {a}, f);
            } else { // not recorded
                Tensor leaf = a.to(dev).detach();
                leaf.set_requires_grad(true);
                Tensor y = f({leaf});
                QVERIFY2(!y.requires_grad() && y.grad_fn_name().empty(), name.c_str());
            }
        }
    }

    // The rows themselves: one per enum value, in order, with PyTorch's names.
    void op_table_rows() {
        auto check_rows = [](const auto& rows) {
            std::set<std::string> names;
            for (size_t i = 0; i < rows.size(); ++i) {
                const auto& row = rows[i];
                QCOMPARE(int(row.op), int(i));
                QCOMPARE(&op_info(row.op), &row);
                QVERIFY(names.insert(row.name).second);
                check_names(row.aten, row.grad_fn, row.backward != nullptr);
            }
        };
        check_rows(unary_ops());
        check_rows(binary_ops());
        check_rows(reduce_ops());
        QCOMPARE(unary_ops().size(), size_t(k_unary_op_count));
        QCOMPARE(binary_ops().size(), size_t(k_binary_op_count));
        QCOMPARE(reduce_ops().size(), size_t(k_reduce_op_count));
        // What the rows say, against PyTorch: names, integer dtypes, grad_fn names. The
        // table_ops test runs each op as its row says; this pins the rows themselves.
        QStringList rows;
        auto describe = [&](const char* name, const char* aten, const char* dtype,
                            const QString& autograd) {
            rows << QString("%1 %2 %3 %4").arg(name, *aten ? aten : "-", dtype, autograd);
        };
        // Unary and binary ops without backward refuse to be recorded (in grad_fn's name
        // when they have one); reductions without backward are not recorded.
        auto refused = [](const char* grad_fn) {
            return grad_fn ? QString("refused:%1").arg(grad_fn) : QString("refused");
        };
        for (const UnaryOpInfo& r : unary_ops())
            describe(r.name, r.aten, r.dtype == UnaryDType::KeepsInt ? "keeps-int" : "int-to-float",
                     r.backward ? QString(r.grad_fn) : refused(r.grad_fn));
        for (const BinaryOpInfo& r : binary_ops())
            describe(r.name, r.aten,
                     r.dtype == BinaryDType::IntToFloat ? "int-to-float" : "promoted",
                     r.backward ? QString(r.grad_fn) : refused(r.grad_fn));
        for (const ReduceOpInfo& r : reduce_ops())
            describe(r.name, r.aten,
                     r.dtype == ReduceDType::SumPromotes ? "int-to-int64"
                     : r.dtype == ReduceDType::Int64     ? "int64"
                                                         : "same",
                     r.backward ? QString(r.grad_fn) : QString("not-recorded"));
        const QStringList expected = {
            "neg aten::neg keeps-int NegBackward0",
            "abs aten::abs keeps-int AbsBackward0",
            "sqrt aten::sqrt int-to-float SqrtBackward0",
            "exp aten::exp int-to-float ExpBackward0",
            "log aten::log int-to-float LogBackward0",
            "relu aten::relu keeps-int ReluBackward0",
            "sigmoid aten::sigmoid int-to-float SigmoidBackward0",
            "tanh aten::tanh int-to-float TanhBackward0",
            "erf aten::erf int-to-float ErfBackward0",
            "step - int-to-float refused",
            "sign aten::sign int-to-float refused",
            "add aten::add promoted AddBackward0",
            "sub aten::sub promoted SubBackward0",
            "mul aten::mul promoted MulBackward0",
            "div aten::div int-to-float DivBackward0",
            "maximum aten::maximum promoted MaximumBackward0",
            "minimum aten::minimum promoted MinimumBackward0",
            "pow aten::pow promoted PowBackward1",
            "sum aten::sum int-to-int64 SumBackward1",
            "mean aten::mean same MeanBackward1",
            "var aten::var same VarBackward0",
            "min aten::min same not-recorded",
            "max aten::max same not-recorded",
            "norm aten::linalg_vector_norm same not-recorded",
            "count_nan - int64 not-recorded",
            "count_inf - int64 not-recorded",
        };
        QCOMPARE(rows, expected);
        // The texts of ops without autograd, unchanged.
        Tensor x = ones({2});
        x.set_requires_grad(true);
        QCOMPARE(QString::fromStdString(catch_error([&] { apply(UnaryOp::Step, x); }).second),
                 QString("autograd is not implemented for this op"));
        QCOMPARE(QString::fromStdString(catch_error([&] { apply(UnaryOp::Sign, x); }).second),
                 QString("autograd is not implemented for this op"));
        QVERIFY(x.sign().grad_fn_name().empty()); // Tensor::sign is never recorded
    }

    // What is not one op of the table: compositions, casts, layouts, matmul, gathers.
    void elementwise_and_reductions_data() { devices_data(); }
    void elementwise_and_reductions() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        Generator gen(7);
        Tensor a = randn({3, 4, 5}, gen), b = randn({4, 5}, gen);
        Tensor ints = from_int64s({3, -2, 7, 0, 5, -9}, {2, 3});
        check_op(dev, "sqrt/log", {a.abs().add(Scalar(0.1))},
                 [](auto& t) { return t[0].sqrt().add(t[0].log()); });
        check_op(dev, "int ops", {ints},
                 [](auto& t) { return t[0].mul(Scalar(3)).add(t[0].abs()); });
        check_op(dev, "int div is float", {ints}, [](auto& t) { return t[0].div(Scalar(2)); });
        check_op(dev, "casts", {a}, [](auto& t) {
            return t[0].mul(Scalar(100)).to(DType::Int32).to(DType::Float16).to(DType::Float32);
        });
        check_op(dev, "bfloat16", {a}, [](auto& t) {
            return t[0].to(DType::BFloat16).mul(Scalar(3)).to(DType::Float32);
        });
        check_op(dev, "transpose contiguous", {a},
                 [](auto& t) { return t[0].transpose(0, 2).contiguous(); });
        check_op(dev, "min/max/norm", {a}, [](auto& t) {
            return cat({t[0].min().reshape({1}), t[0].max().reshape({1}), t[0].norm().reshape({1})},
                       0);
        });
        check_op(dev, "std, amax", {a},
                 [](auto& t) { return t[0].std().add(t[0].amax({0, 1}, true).sum()); });
        check_op(
            dev, "matmul", {a.select(0, 0), b.t()}, [](auto& t) { return t[0].matmul(t[1]); },
            1e-5);
        check_op(
            dev, "matmul transposed operand", {b, b}, [](auto& t) { return t[0].t().matmul(t[1]); },
            1e-5);
        check_op(dev, "embedding rows", {b}, [](auto& t) {
            return t[0].index_select_rows(from_int64s({3, 0, 3}, {3}).to(t[0].device()));
        });
        Tensor with_nan = from_doubles({1, NAN, INFINITY, -2}, {4});
        QCOMPARE(with_nan.to(dev).count_nan(), int64_t(1));
        QCOMPARE(with_nan.to(dev).count_inf(), int64_t(1));
    }

    // matmul of every operand layout (broadcast rows and columns, stride 0 in either or both
    // dims, transposed, sliced, padded rows) on the CPU and every device, against the same
    // product of contiguous copies on the CPU: a stride-0 operand must never become a BLAS
    // leading dimension (row.expand({4, 3}).matmul(w) gave garbage before).
    // Reductions long enough to take the split path (per-thread partials merged per block,
    // then per output: kernels.h reduce_split), over a whole tensor, over a trailing dim and
    // over a dim that is not contiguous, in float32, float64 and int64, with NaN and inf for
    // the counts and the NaN-propagating min and max.
    void long_reductions_data() { devices_data(); }
    void long_reductions() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        Generator gen(13);
        for (DType dt : {DType::Float32, DType::Float64}) {
            const Tensor x = randn({200003}, gen, TensorOptions(dt)).add(Scalar(0.5));
            const Tensor rows = randn({3, 50001}, gen, TensorOptions(dt)),
                         cols = randn({40001, 3}, gen, TensorOptions(dt));
            const double tol = dt == DType::Float32 ? 1e-5 : 1e-10;
            auto all = [](const Tensor& t) {
                return cat({t.sum().reshape({1}), t.mean().reshape({1}), t.var().reshape({1}),
                            t.var(0).reshape({1}), t.min().reshape({1}), t.max().reshape({1}),
                            t.norm().reshape({1})},
                           0);
            };
            check_op(dev, "whole tensor", {x}, [&](auto& t) { return all(t[0]); }, tol);
            check_op(
                dev, "trailing dim", {rows},
                [](auto& t) {
                    return cat({t[0].sum({1}), t[0].mean({1}), t[0].var({1}, 1), t[0].amax({1})},
                               0);
                },
                tol);
            check_op(
                dev, "strided dim", {cols},
                [](auto& t) { return cat({t[0].sum({0}), t[0].var({0}, 1), t[0].amax({0})}, 0); },
                tol);
            Tensor holes = x.clone();
            holes.narrow(0, 777, 1).fill_(Scalar(std::nan("")));
            holes.narrow(0, 150001, 2).fill_(Scalar(INFINITY));
            const Tensor moved = holes.to(dev);
            QCOMPARE(moved.count_nan(), int64_t(1));
            QCOMPARE(moved.count_inf(), int64_t(2));
            QVERIFY(std::isnan(moved.min().item()) && std::isnan(moved.max().item()));
        }
        const Tensor big = arange(0, 300000, 1).to(DType::Int64);
        check_op(dev, "int64 sum", {big}, [](auto& t) { return t[0].sum(); });
        QCOMPARE(big.to(dev).sum().item_int(), int64_t(299999) * 300000 / 2);
        QCOMPARE(big.to(dev).max().item_int(), int64_t(299999));
    }

    // The embedding gradient adds every row an index picks, repeated indices included
    // (sim:0 and the GPU scatter-add one source row at a time), against the CPU and by hand.
    void embedding_gradient_adds_repeated_rows_data() { devices_data(); }
    void embedding_gradient_adds_repeated_rows() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        const Tensor index = from_int64s({1, 3, 1, 1, 0, 3}, {6});
        Generator gen(17);
        const Tensor up = randn({6, 4}, gen);
        std::vector<std::vector<double>> grads;
        for (const Device& d : {Device::cpu(), dev}) {
            Tensor table = randn({5, 4}, gen).to(d).detach();
            table.set_requires_grad(true);
            table.index_select_rows(index.to(d)).mul(up.to(d)).sum().backward();
            grads.push_back(table.grad().to_doubles());
        }
        std::string why;
        QVERIFY2(close(grads[1], grads[0], 1e-6, 1e-7, &why), why.c_str());
        const std::vector<double> u = up.to_doubles();
        for (int j = 0; j < 4; ++j) { // row 1 gathers source rows 0, 2 and 3
            const double want = u[size_t(0 * 4 + j)] + u[size_t(2 * 4 + j)] + u[size_t(3 * 4 + j)];
            QVERIFY(std::abs(grads[1][size_t(1 * 4 + j)] - want) < 1e-5);
            QCOMPARE(grads[1][size_t(2 * 4 + j)], 0.0); // row 2 is never picked
        }
    }

    void matmul_stride_patterns() {
        std::vector<Device> devices{Device::cpu()};
        for (const Device& d : test_devices()) devices.push_back(d);
        using View = std::function<Tensor(const Tensor&)>;
        struct Operand {
            const char* name;
            Shape base;
            View view; // made on each device from the base moved there
        };
        const std::vector<Operand> lefts = {
            {"row expanded (0, 1)", {1, 3}, [](const Tensor& x) { return x.expand({4, 3}); }},
            {"column expanded (1, 0)", {4, 1}, [](const Tensor& x) { return x.expand({4, 3}); }},
            {"scalar expanded (0, 0)", {1, 1}, [](const Tensor& x) { return x.expand({4, 3}); }},
            {"transposed (1, 4)", {3, 4}, [](const Tensor& x) { return x.t(); }},
            {"columns sliced (6, 1)", {4, 6}, [](const Tensor& x) { return x.narrow(1, 2, 3); }},
            {"rows stepped (6, 1)",
             {8, 3},
             [](const Tensor& x) { return as_strided(x, {4, 3}, {6, 1}, 0); }},
            {"column-major, padded (1, 6)",
             {3, 6},
             [](const Tensor& x) { return x.t().narrow(0, 1, 4); }},
            {"contiguous", {4, 3}, [](const Tensor& x) { return x; }},
        };
        const std::vector<Operand> rights = {
            {"contiguous", {3, 5}, [](const Tensor& x) { return x; }},
            {"row expanded (0, 1)", {1, 5}, [](const Tensor& x) { return x.expand({3, 5}); }},
            {"column expanded (1, 0)", {3, 1}, [](const Tensor& x) { return x.expand({3, 5}); }},
            {"columns sliced (9, 1)", {3, 9}, [](const Tensor& x) { return x.narrow(1, 1, 5); }},
            {"transposed (1, 3)", {5, 3}, [](const Tensor& x) { return x.t(); }},
        };
        Generator gen(11);
        for (DType dt : {DType::Float32, DType::Float64})
            for (const auto& l : lefts)
                for (const auto& r : rights) {
                    Tensor lb = randn(l.base, gen, TensorOptions(dt)),
                           rb = randn(r.base, gen, TensorOptions(dt));
                    // The reference: the same product of contiguous copies on the CPU.
                    const Tensor want = l.view(lb).contiguous().matmul(r.view(rb).contiguous());
                    for (const Device& d : devices) {
                        const Tensor lv = l.view(lb.to(d)), rv = r.view(rb.to(d));
                        const std::string what = std::string(dtype_name(dt)) + " on " + d.str() +
                                                 ": (" + l.name + ") @ (" + r.name + ")";
                        same(want, lv.matmul(rv).to(Device::cpu()), what.c_str(), 1e-5);
                    }
                }
        // PyTorch's result for one of them, written out: torch.tensor([[1., 2, 3]]).expand(4, 3)
        // @ torch.arange(1., 16).view(3, 5) repeats [46, 52, 58, 64, 70] four times.
        Tensor w = arange(1, 16, 1).reshape({3, 5});
        Tensor row = from_doubles({1, 2, 3}, {1, 3}).expand({4, 3});
        QCOMPARE(row.strides(), Shape({0, 1}));
        std::vector<double> want;
        for (int i = 0; i < 4; ++i) want.insert(want.end(), {46, 52, 58, 64, 70});
        QCOMPARE(row.matmul(w).to_doubles(), want);
    }

    // The arguments cuBLAS gets (gemm_layout.h), handed to OpenBLAS in column-major order
    // exactly as cublasSgemm / cublasDgemm would take them, against a plain triple loop:
    // checks the CUDA backend's transposes, sizes and leading dimensions without a GPU.
    void cublas_arguments() {
        using View = std::function<Tensor(const Tensor&)>;
        struct Layout {
            const char* name;
            Shape base;
            View view;
        };
        // Each makes an (r, c) operand from a base tensor: every layout BLAS takes as is.
        auto layouts = [](int64_t r, int64_t c) {
            return std::vector<Layout>{
                {"contiguous", {r, c}, [](const Tensor& x) { return x; }},
                {"transposed", {c, r}, [](const Tensor& x) { return x.t(); }},
                {"columns sliced", {r, c + 3}, [c](const Tensor& x) { return x.narrow(1, 1, c); }},
                {"rows stepped",
                 {2 * r, c},
                 [r, c](const Tensor& x) { return as_strided(x, {r, c}, {2 * c, 1}, 0); }},
                {"column-major, padded",
                 {c, r + 2},
                 [r](const Tensor& x) { return x.t().narrow(0, 2, r); }},
            };
        };
        auto reference = [](const Tensor& a, const Tensor& b) {
            const auto x = a.contiguous().to_doubles(), y = b.contiguous().to_doubles();
            const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
            std::vector<double> out(size_t(m * n), 0.0);
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j)
                    for (int64_t p = 0; p < k; ++p)
                        out[size_t(i * n + j)] += x[size_t(i * k + p)] * y[size_t(p * n + j)];
            return out;
        };
        Generator gen(5);
        int checked = 0;
        for (DType dt : {DType::Float32, DType::Float64})
            for (auto [m, k, n] :
                 {std::tuple<int64_t, int64_t, int64_t>{4, 3, 5}, {1, 6, 4}, {5, 7, 1}, {3, 1, 2}})
                for (const auto& la : layouts(m, k))
                    for (const auto& lb : layouts(k, n)) {
                        const Tensor a = la.view(randn(la.base, gen, TensorOptions(dt)));
                        const Tensor b = lb.view(randn(lb.base, gen, TensorOptions(dt)));
                        Tensor c = zeros({m, n}, TensorOptions(dt));
                        const ColumnMajorGemm g =
                            column_major_gemm(c.view_desc(), a.view_desc(), b.view_desc());
                        QCOMPARE(g.m, int(n));
                        QCOMPARE(g.n, int(m));
                        QCOMPARE(g.k, int(k));
                        const auto op = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
                        if (dt == DType::Float32)
                            cblas_sgemm(CblasColMajor, op(g.trans_first), op(g.trans_second), g.m,
                                        g.n, g.k, 1.0f, static_cast<const float*>(g.first),
                                        g.ld_first, static_cast<const float*>(g.second),
                                        g.ld_second, 0.0f, static_cast<float*>(g.c), g.ldc);
                        else
                            cblas_dgemm(CblasColMajor, op(g.trans_first), op(g.trans_second), g.m,
                                        g.n, g.k, 1.0, static_cast<const double*>(g.first),
                                        g.ld_first, static_cast<const double*>(g.second),
                                        g.ld_second, 0.0, static_cast<double*>(g.c), g.ldc);
                        std::string why;
                        const double tol = dt == DType::Float32 ? 1e-5 : 1e-12;
                        QVERIFY2(close(c.to_doubles(), reference(a, b), tol, tol, &why),
                                 (std::string(dtype_name(dt)) + " (" + la.name + ") @ (" + lb.name +
                                  "): " + why)
                                     .c_str());
                        ++checked;
                    }
        QCOMPARE(checked, 2 * 4 * 5 * 5);
        // Sizes past a 32-bit int are refused before any BLAS call (nothing is read).
        TensorView big{nullptr, DType::Float32, {int64_t(1) << 31, 2}, {2, 1}};
        TensorView w{nullptr, DType::Float32, {2, 3}, {3, 1}};
        TensorView out{nullptr, DType::Float32, {int64_t(1) << 31, 3}, {3, 1}};
        QCOMPARE(
            QString::fromStdString(catch_error([&] { column_major_gemm(out, big, w); }).second),
            QString("matmul: a dimension of 2147483648 exceeds BLAS's 32-bit limit of 2147483647"));
        TensorView tall{nullptr, DType::Float32, {3, 2}, {int64_t(1) << 32, 1}};
        QCOMPARE(QString::fromStdString(catch_error([&] {
                                            column_major_gemm(
                                                TensorView{nullptr, DType::Float32, {3, 3}, {3, 1}},
                                                tall, w);
                                        }).second),
                 QString("matmul: a leading dimension of 4294967296 exceeds BLAS's 32-bit limit of "
                         "2147483647"));
        // A broadcast operand never reaches a backend: Tensor::matmul copies it first.
        TensorView expanded{nullptr, DType::Float32, {4, 2}, {0, 1}};
        QVERIFY(catch_error([&] {
                    column_major_gemm(TensorView{nullptr, DType::Float32, {4, 3}, {3, 1}}, expanded,
                                      w);
                }).second.find("is not a BLAS matrix") != std::string::npos);
    }

    // Running out of device memory: the caching allocator's statistics, PyTorch's wording
    // with the device's figures, and a model move that fails on its third allocation leaves
    // every tensor where it was (sim:0's test hook stands in for a full GPU).
    void sim_out_of_memory() {
        const Device sim = Device::parse("sim:0");
        Backend& b = backend_for(sim);
        QCOMPARE(QString::fromStdString(format_bytes(1024)), QString("1024 bytes"));
        QCOMPARE(QString::fromStdString(format_bytes(1536)), QString("1.50 KiB"));
        QCOMPARE(QString::fromStdString(format_bytes(1 << 20)), QString("1024.00 KiB"));
        QCOMPARE(QString::fromStdString(format_bytes(20 << 20)), QString("20.00 MiB"));
        QCOMPARE(QString::fromStdString(format_bytes(uint64_t(5) << 29)), QString("2.50 GiB"));
        // A freed block is kept and handed out again: no second device allocation.
        const MemoryStats s0 = b.memory_stats();
        {
            Tensor t = empty({1000}, TensorOptions().with_device(sim));
        }
        const MemoryStats s1 = b.memory_stats();
        {
            Tensor t = empty({1000}, TensorOptions().with_device(sim));
        }
        const MemoryStats s2 = b.memory_stats();
        QCOMPARE(s2.device_allocations, s1.device_allocations);
        QCOMPARE(s2.cache_hits, s1.cache_hits + 1);
        QCOMPARE(s2.in_use, s0.in_use);
        QVERIFY(s2.reserved >= s2.in_use + 4000);
        QVERIFY(s2.peak_in_use >= s0.in_use + 4000);
        // More than the device holds: PyTorch's CUDA words, naming sim:0.
        auto huge =
            catch_error([&] { empty({int64_t(1) << 50}, TensorOptions().with_device(sim)); });
        QCOMPARE(QString(huge.first.c_str()), QString("OutOfMemoryError"));
        QVERIFY2(huge.second.starts_with("sim:0 out of memory. Tried to allocate 4194304.00 GiB. "
                                         "sim:0 has a total capacity of "),
                 huge.second.c_str());
        QVERIFY2(huge.second.find(" is free. Of the allocated memory ") != std::string::npos,
                 huge.second.c_str());
        // A move that fails part-way changes nothing.
        Document doc = open_example("mlp-batchnorm");
        Module& m = *doc.root;
        const StateDict before = m.state_dict();
        const size_t in_use = b.bytes_in_use();
        gpu::sim_fail_allocation(3);
        auto err = catch_error([&] { m.to(sim); });
        gpu::sim_fail_allocation(0);
        QCOMPARE(QString(err.first.c_str()), QString("OutOfMemoryError"));
        QVERIFY2(err.second.starts_with("sim:0 out of memory. Tried to allocate "),
                 err.second.c_str());
        QCOMPARE(b.bytes_in_use(), in_use); // the two copies made are freed
        for (const auto& [k, v] : m.state_dict().tensors) {
            QCOMPARE(v.device(), Device::cpu());
            QCOMPARE(v.to_doubles(), before.tensors.find(k)->to_doubles());
        }
        m.to(sim); // and the same move goes through once there is room
        for (const auto& [k, v] : m.state_dict().tensors) QCOMPARE(v.device(), sim);
    }

    void layers_forward_backward_data() { devices_data(); }
    void layers_forward_backward() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        const char* specs[] = {
            R"({"type": "Sequential", "children": [{"type": "Linear", "in_features": 6, "out_features": 8},
                {"type": "BatchNorm1d", "num_features": 8}, {"type": "GELU"}, {"type": "Linear", "in_features": 8, "out_features": 3},
                {"type": "LogSoftmax", "dim": 1}]})",
            R"({"type": "Sequential", "children": [{"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3,
                "padding": 1, "stride": 2, "groups": 2}, {"type": "BatchNorm2d", "num_features": 4}, {"type": "ReLU"},
                {"type": "Flatten"}, {"type": "Linear", "in_features": 36, "out_features": 3}]})",
            R"({"type": "Sequential", "children": [{"type": "Embedding", "num_embeddings": 9, "embedding_dim": 4, "padding_idx": 1},
                {"type": "LayerNorm", "normalized_shape": 4}, {"type": "Tanh"}, {"type": "Linear", "in_features": 4, "out_features": 3},
                {"type": "Softmax", "dim": -1}]})"};
        Generator gen(11);
        std::vector<Tensor> inputs = {randn({5, 6}, gen), randn({2, 2, 6, 6}, gen),
                                      from_int64s({1, 4, 8, 0, 1, 2}, {2, 3})};
        for (int i = 0; i < 3; ++i) {
            ModulePtr on_cpu = parse_model_spec(specs[i], "spec").root,
                      on_dev = parse_model_spec(specs[i], "spec").root;
            on_dev->to(dev);
            Tensor x = inputs[size_t(i)];
            Tensor y_cpu = on_cpu->forward(x), y_dev = on_dev->forward(x.to(dev));
            same(y_cpu, y_dev, "forward", 1e-5);
            Tensor up = randn(y_cpu.shape(), gen);
            y_cpu.mul(up).sum().backward();
            y_dev.mul(up.to(dev)).sum().backward();
            auto pc = on_cpu->named_parameters(), pd = on_dev->named_parameters();
            for (size_t k = 0; k < pc.size(); ++k) {
                QCOMPARE(pd[k].second.device(), dev);
                QCOMPARE(pd[k].second.grad().device(), dev);
                // Gradients that are zero in exact arithmetic (a bias before BatchNorm) are
                // rounding noise on both sides: compared with an absolute floor.
                same(pc[k].second.grad(), pd[k].second.grad(), pc[k].first.c_str(), 1e-4, 1e-6);
            }
            const StateDict bc = on_cpu->state_dict(), bd = on_dev->state_dict();
            for (const auto& [k, v] : bc.tensors) same(v, *bd.tensors.find(k), k.c_str(), 1e-5);
        }
    }

    // Max pooling (the backend's window_max; gpu/kernels.h on sim:0 and CUDA): values,
    // ATen's indices and the gradient against the CPU, over ties, a NaN and -inf, for
    // padded, dilated, ceil-mode and adaptive windows, float32, float64 and float16.
    void max_pooling_data() { devices_data(); }
    void max_pooling() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        std::vector<double> v(2 * 3 * 9 * 11);
        for (size_t i = 0; i < v.size(); ++i)
            v[i] = double(i * 7 % 5) - 2; // five values: many ties
        const size_t last_plane = 5 * 9 * 11;
        v[last_plane + 4 * 11 + 5] = NAN;
        for (size_t j = 0; j < 11; ++j) v[last_plane + j] = -INFINITY;
        const Tensor x = from_doubles(v, {2, 3, 9, 11});
        using Pool = std::function<std::pair<Tensor, Tensor>(const Tensor&)>;
        const std::vector<std::pair<const char*, Pool>> pools = {
            {"3x3 stride 2 pad 1",
             [](const Tensor& t) {
                 return F::max_pool2d_with_indices(t, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false);
             }},
            {"2x3 dilated ceil",
             [](const Tensor& t) {
                 return F::max_pool2d_with_indices(t, {2, 3}, {1, 2}, {0, 1}, {2, 1}, true);
             }},
            {"adaptive 4x5",
             [](const Tensor& t) { return F::adaptive_max_pool2d_with_indices(t, {4, 5}); }}};
        for (const auto& [name, pool] : pools)
            for (DType dt : {DType::Float32, DType::Float64, DType::Float16}) {
                const std::string what = std::string(name) + " " + std::string(dtype_name(dt));
                Tensor xc = x.to(dt), xd = xc.to(dev);
                auto [yc, ic] = pool(xc);
                auto [yd, id] = pool(xd);
                QCOMPARE(yd.device(), dev);
                same(yc, yd, what.c_str());
                QCOMPARE(id.to(Device::cpu()).to_int64s(), ic.to_int64s());
                check_backward(dev, what, "MaxPool2DWithIndicesBackward0", true, {x.to(dt)},
                               [pool](auto& t) { return pool(t[0]).first; });
            }
    }

    void device_semantics_data() { devices_data(); }
    void device_semantics() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        Document doc = open_example("plain-attribute");
        Module& m = *doc.root;
        Tensor x = ones({2});
        Tensor y_cpu = m.forward(x);
        const size_t before = backend_for(dev).bytes_in_use();
        m.to(dev);
        // Parameters and buffers moved; the plain attribute stayed.
        QCOMPARE(m.attr("my_param").device(), dev);
        QCOMPARE(m.attr("my_buffer").device(), dev);
        QCOMPARE(m.attr("my_tensor").device(), Device::cpu());
        QCOMPARE(backend_for(dev).bytes_in_use() - before, size_t(8)); // two float32 scalars
        auto err = catch_error([&] { m.forward(x.to(dev)); });
        QCOMPARE(QString::fromStdString(err.second),
                 QString("Expected all tensors to be on the same device, but found at least two "
                         "devices, %1 and cpu!")
                     .arg(device));
        // Moving the one tensor and assigning it back makes it work.
        m.set_attr("my_tensor", m.attr("my_tensor").to(dev));
        same(y_cpu, m.forward(x.to(dev)), "forward after moving my_tensor");
        // tensor.to(device) is a copy; integer buffers move too.
        Document mlp = open_example("mlp-batchnorm");
        mlp.root->to(dev);
        QCOMPARE(mlp.root->child("1")->attr("num_batches_tracked").device(), dev);
        QCOMPARE(mlp.root->child("1")->attr("num_batches_tracked").dtype(), DType::Int64);
        // load_state_dict copies a CPU checkpoint into a device model; saving writes host data.
        Document fresh = open_example("mlp-batchnorm");
        StateDict sd = fresh.root->state_dict();
        for (auto& [k, v] : sd.tensors)
            sd.tensors.set(k, v.is_floating_point() ? v.add(Scalar(1)) : v.add(Scalar(3)));
        mlp.root->load_state_dict(sd);
        QCOMPARE(mlp.root->child("1")->attr("running_var").device(), dev);
        QCOMPARE(mlp.root->child("1")->attr("running_var").to_doubles(),
                 std::vector<double>(16, 2.0));
        QTemporaryDir tmp;
        save_state_dict(*mlp.root, tmp.filePath("m.safetensors").toStdString());
        Document back = open_document(tmp.filePath("m.safetensors").toStdString());
        QCOMPARE(back.root->child("1")->attr("num_batches_tracked").item_int(), int64_t(3));
        // The device's memory is returned when its tensors go.
        const size_t held = backend_for(dev).bytes_in_use();
        mlp.root.reset();
        QVERIFY(backend_for(dev).bytes_in_use() < held);
        // Unusable devices are a clear error, never a crash.
        auto bad = catch_error([&] { ones({1}).to(Device::parse("cuda:7")); });
        QVERIFY2(bad.second.starts_with("device cuda:7 is not available"), bad.second.c_str());
    }
};

QTEST_APPLESS_MAIN(TestBackendOps)
#include "test_backend_ops.moc"
