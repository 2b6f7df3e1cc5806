// test_model_spec.cpp: JSON model specs: PyTorch's defaults, declared tensors, and one
// clear error naming the file and the place for each kind of mistake.
#include "../test_support.h"

#include "layers/layers.h"
#include "model_spec.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
std::string spec_error(const std::string& text) {
    try {
        parse_model_spec(text, "m.json");
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}
} // namespace

class TestModelSpec : public QObject {
    Q_OBJECT
  private slots:
    void pytorch_defaults() {
        auto spec = parse_model_spec(R"({"type": "Sequential", "children": [
            {"type": "Linear", "in_features": 4, "out_features": 3},
            {"type": "BatchNorm1d", "num_features": 3, "momentum": null},
            {"type": "Linear", "in_features": 3, "out_features": 2, "bias": false, "name": "head"}]})",
                                     "m.json");
        auto& root = *spec.root;
        QCOMPARE(QString::fromStdString(root.repr()),
                 QString("Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)\n"
                         "  (1): BatchNorm1d(3, eps=1e-05, momentum=None, affine=True, "
                         "track_running_stats=True)\n"
                         "  (head): Linear(in_features=3, out_features=2, bias=False)\n)"));
        auto* bn = dynamic_cast<BatchNorm*>(root.child("1").get());
        QVERIFY(bn && !bn->momentum);
        // Linear init: U(-1/sqrt(in), 1/sqrt(in)).
        Tensor w = root.child("0")->attr("weight");
        QVERIFY(w.abs().max().item() <= 0.5);
        QVERIFY(w.abs().max().item() > 0.2);
        QCOMPARE(root.child("1")->attr("num_batches_tracked").dtype(), DType::Int64);
        QVERIFY(!root.child("head")->own_parameters().find("bias")->defined());
    }

    void declared_tensors() {
        auto spec = parse_model_spec(R"({"type": "Module", "class": "Custom",
            "parameters": {"w": {"shape": [2, 2], "init": [[1, 2], [3, 4]]}, "frozen": {"shape": [1], "requires_grad": false}},
            "buffers": {"nb": {"shape": [3], "init": "ones", "persistent": false}, "idx": {"shape": [4], "dtype": "int64", "init": "arange"}},
            "attributes": {"cache": {"shape": [2], "init": 7.5}}})",
                                     "m.json");
        Module& m = *spec.root;
        QCOMPARE(QString::fromStdString(m.type_name()), QString("Custom"));
        QCOMPARE(m.attr("w").to_doubles(), (std::vector<double>{1, 2, 3, 4}));
        QVERIFY(m.attr("w").requires_grad());
        QVERIFY(!m.attr("frozen").requires_grad());
        QVERIFY(!m.is_persistent_buffer("nb"));
        QCOMPARE(m.attr("idx").to_doubles(), (std::vector<double>{0, 1, 2, 3}));
        QCOMPARE(m.attr("cache").to_doubles(), (std::vector<double>{7.5, 7.5}));
        std::vector<std::string> sd;
        for (auto& [k, v] : m.state_dict().tensors) sd.push_back(k);
        QCOMPARE(qlist(sd), QStringList({"w", "frozen", "idx"}));
    }

    void errors_name_file_and_place() {
        QCOMPARE(QString::fromStdString(spec_error("{\"type\": \"Sequential\", ")).left(28),
                 QString("m.json: invalid JSON: parse "));
        QCOMPARE(
            QString::fromStdString(spec_error(
                R"({"type": "Sequential", "children": [{"type": "Linear", "in_features": 2}]})")),
            QString(
                "m.json: Sequential.children[0] (Linear): missing required key 'out_features'"));
        QCOMPARE(
            QString::fromStdString(spec_error(
                R"({"type": "Sequential", "children": [{"type": "Linear"}, {"type": "BatchNorm1d", "num_feature": 3}]})")),
            QString("m.json: Sequential.children[0] (Linear): missing required key 'in_features'"));
        QCOMPARE(QString::fromStdString(spec_error(R"({"type": "BatchNorm1d", "num_feature": 3})")),
                 QString("m.json: BatchNorm1d: unknown key 'num_feature'"));
        QVERIFY(
            spec_error(R"({"type": "Transformer"})")
                .starts_with("m.json: Transformer: unknown module type 'Transformer' (known: "));
        QCOMPARE(QString::fromStdString(
                     spec_error(R"({"type": "Module", "buffers": {"a.b": {"shape": [1]}}})")),
                 QString("m.json: Module.buffers.a.b: buffer name can't contain \".\""));
        QCOMPARE(QString::fromStdString(
                     spec_error(R"({"type": "Module", "buffers": {"training": {"shape": [1]}}})")),
                 QString("m.json: Module.buffers.training: attribute 'training' already exists"));
        QCOMPARE(
            QString::fromStdString(spec_error(
                R"({"type": "Module", "parameters": {"w": {"shape": [2], "init": [1, 2, 3]}}})")),
            QString("m.json: Module.parameters.w: init has 3 values but shape [2] needs 2"));
        QCOMPARE(
            QString::fromStdString(spec_error(
                R"({"type": "Module", "parameters": {"w": {"shape": [2], "dtype": "int64"}}})")),
            QString("m.json: Module.parameters.w: Only Tensors of floating point and complex dtype "
                    "can require gradients"));
        QCOMPARE(QString::fromStdString(
                     spec_error(R"({"type": "Linear", "in_features": 2, "out_features": "3"})")),
                 QString("m.json: Linear: 'out_features' must be an integer, got \"3\""));
        QCOMPARE(QString::fromStdString(spec_error("[1, 2]")),
                 QString("m.json: top level: a model spec must be a JSON object"));
        // Deep nesting is refused, not a stack overflow: modules past 64 levels, and any JSON
        // past 256 levels of containers (before a module is built).
        auto nested = [](int levels) {
            std::string deep;
            for (int i = 0; i < levels; ++i) deep += R"({"type": "Sequential", "children": [)";
            deep += R"({"type": "ReLU"})";
            for (int i = 0; i < levels; ++i) deep += "]}";
            return deep;
        };
        QCOMPARE(QString::fromStdString(spec_error(nested(63))), QString("(no error)"));
        QVERIFY(spec_error(nested(70)).find("modules nested deeper than 64 levels") !=
                std::string::npos);
        QCOMPARE(QString::fromStdString(spec_error(nested(200))),
                 QString("m.json: invalid JSON: nesting deeper than 256 levels"));
        QCOMPARE(QString::fromStdString(spec_error(std::string(1'000'000, '['))),
                 QString("m.json: invalid JSON: nesting deeper than 256 levels"));
        // Sizes: element counts that overflow, and models over the spec's memory limit.
        QCOMPARE(
            QString::fromStdString(spec_error(
                R"({"type": "Linear", "in_features": 4294967296, "out_features": 4294967296})")),
            QString("m.json: Linear: the number of elements of shape [4294967296, 4294967296] "
                    "overflows 64 bits"));
        try {
            parse_model_spec(R"({"type": "Sequential", "children": [
                {"type": "Linear", "in_features": 100, "out_features": 100},
                {"type": "Linear", "in_features": 1000, "out_features": 1000}]})",
                             "m.json", std::nullopt, 1'000'000);
            QFAIL("no error");
        } catch (const FormatError& e) {
            QCOMPARE(
                QString(e.what()),
                QString("m.json: Sequential.children[1] (Linear): a tensor of shape [1000, 1000] "
                        "(4000000 bytes) goes over the limit of 1000000 bytes allocated"));
        }
        // A declared tensor that is not an object (found by fuzzing).
        QCOMPARE(QString::fromStdString(
                     spec_error(R"({"type": "Module", "parameters": {"w": "ones"}})")),
                 QString("m.json: Module.parameters.w: expected an object, got string \"ones\""));
        // A number nlohmann cannot hold is a clear error, not an escaped exception (fuzzing).
        QCOMPARE(QString::fromStdString(spec_error(R"({"type": "Linear", "in_features": 1E400})")),
                 QString("m.json: invalid JSON: number overflow parsing '1E400'"));
    }
};

QTEST_APPLESS_MAIN(TestModelSpec)
#include "test_model_spec.moc"
