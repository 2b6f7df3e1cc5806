// test_backend_ops.cpp: every op, layer forward and backward on every available device,
// compared with the CPU backend (the reference), as ggml's test-backend-ops does. It runs
// on sim:0 everywhere (the CUDA backend's kernel bodies executed on the host) and on
// cuda:N where a GPU is usable; an unusable device is reported as skipped, with CUDA's
// reason. Also PyTorch's device semantics: what moves with Module::to and what stays,
// the mixed-device error, cross-device load_state_dict, and per-device memory accounting.
#include "../test_support.h"

#include "autograd.h"
#include "document.h"
#include "functional.h"
#include "gpu.h"
#include "io/model_spec.h"
#include "layers/layers.h"
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

} // namespace

class TestBackendOps : public QObject {
    Q_OBJECT

  private slots:
    void devices_data() {
        QTest::addColumn<QString>("device");
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

    void elementwise_and_reductions_data() { devices_data(); }
    void elementwise_and_reductions() {
        QFETCH(QString, device);
        const Device dev = Device::parse(device.toStdString());
        Generator gen(7);
        Tensor a = randn({3, 4, 5}, gen), b = randn({4, 5}, gen),
               pos = rand({3, 4, 5}, gen).add(Scalar(0.1));
        Tensor ints = from_int64s({3, -2, 7, 0, 5, -9}, {2, 3});
        check_op(dev, "add broadcast", {a, b}, [](auto& t) { return t[0] + t[1]; });
        check_op(dev, "sub", {a, b}, [](auto& t) { return t[0] - t[1]; });
        check_op(dev, "mul scalar", {a}, [](auto& t) { return t[0] * Scalar(0.1); });
        check_op(dev, "div", {a, pos}, [](auto& t) { return t[0] / t[1]; });
        check_op(dev, "pow", {pos}, [](auto& t) { return t[0].pow(Scalar(1.5)); });
        check_op(dev, "maximum", {a, b}, [](auto& t) { return t[0].maximum(t[1]); });
        for (auto [name, f] :
             std::initializer_list<std::pair<const char*, Tensor (Tensor::*)() const>>{
                 {"neg", &Tensor::neg},
                 {"abs", &Tensor::abs},
                 {"exp", &Tensor::exp},
                 {"relu", &Tensor::relu},
                 {"sigmoid", &Tensor::sigmoid},
                 {"tanh", &Tensor::tanh},
                 {"erf", &Tensor::erf}})
            check_op(dev, name, {a}, [f](auto& t) { return (t[0].*f)(); });
        check_op(dev, "sqrt/log", {pos}, [](auto& t) { return t[0].sqrt().add(t[0].log()); });
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
        check_op(dev, "sum all", {a}, [](auto& t) { return t[0].sum(); });
        check_op(dev, "mean dims keepdim", {a}, [](auto& t) { return t[0].mean({0, 2}, true); });
        check_op(dev, "var unbiased", {a}, [](auto& t) { return t[0].var({1}, 1); });
        check_op(dev, "min/max/norm", {a}, [](auto& t) {
            return cat({t[0].min().reshape({1}), t[0].max().reshape({1}), t[0].norm().reshape({1})},
                       0);
        });
        check_op(dev, "int sum", {ints}, [](auto& t) { return t[0].sum({1}); });
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
