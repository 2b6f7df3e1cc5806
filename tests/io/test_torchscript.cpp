// test_torchscript.cpp: TorchScript archives (fixtures/expected/torchscript, written by
// torch.jit.save): each opens by its content as "torchscript" with the tree torch.jit.load
// gives (modules with their original names and training flags, parameters, buffers,
// state_dict() names in order, dtypes, shapes and values); archives whose code does not
// declare a class are refused with one line naming the code file.
#include "../test_support.h"

#include <filesystem>

#include "document.h"
#include "torch_zip.h"
#include "torchscript.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
std::string script(const std::string& name) {
    return fixtures_dir() + "/torchscript/" + name + ".pt";
}

// A copy of a fixture archive with one entry replaced (or removed when `text` is null).
std::string rewritten(const std::string& name, const std::string& entry, const char* text,
                      const std::string& out) {
    torchzip::ZipReader zip(script(name));
    std::vector<std::string> bodies;
    std::vector<torchzip::WriteEntry> entries;
    bodies.reserve(zip.names().size());
    for (const auto& n : zip.names()) {
        if (n == entry && !text) continue;
        bodies.push_back(n == entry ? std::string(text) : zip.read(n, 1 << 24));
        entries.push_back({n, bodies.back().data(), bodies.back().size()});
    }
    torchzip::write_archive(out, entries);
    return out;
}
} // namespace

class TestTorchScript : public QObject {
    Q_OBJECT
    json expect = load_fixture("torchscript.json");
    QTemporaryDir tmp;

  private slots:
    void archives_open_with_pytorchs_tree_data() {
        QTest::addColumn<QString>("name");
        for (const auto& [name, v] : expect.items())
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }

    void archives_open_with_pytorchs_tree() {
        QFETCH(QString, name);
        const json& want = expect[name.toStdString()];
        Document doc = open_document(script(name.toStdString()));
        QCOMPARE(QString::fromStdString(doc.format), QString("torchscript"));
        QVERIFY(doc.kind_source == KindSource::Declared);
        QStringList modules, want_modules;
        for (const auto& [n, m] : doc.root->named_modules())
            modules << QString::fromStdString(n + ":" + m->type_name() + ":" +
                                              (m->is_training() ? "train" : "eval"));
        for (const auto& m : want["modules"])
            want_modules << QString::fromStdString(m[0].get<std::string>() + ":" +
                                                   m[1].get<std::string>() + ":" +
                                                   (m[2].get<bool>() ? "train" : "eval"));
        QCOMPARE(modules, want_modules);
        QStringList params, buffers;
        for (const auto& [n, t] : doc.root->named_parameters()) params << QString::fromStdString(n);
        for (const auto& [n, t] : doc.root->named_buffers()) buffers << QString::fromStdString(n);
        QCOMPARE(params, qlist(want["parameters"]));
        QCOMPARE(buffers, qlist(want["buffers"]));
        const StateDict sd = doc.root->state_dict();
        QStringList keys, want_keys;
        for (const auto& [k, v] : sd.tensors) keys << QString::fromStdString(k);
        for (const auto& [k, v] : want["state_dict"].items())
            want_keys << QString::fromStdString(k);
        QCOMPARE(keys, want_keys);
        for (const auto& [k, v] : want["state_dict"].items()) {
            const Tensor* t = sd.tensors.find(k);
            QCOMPARE(QString(dtype_name(t->dtype()).data()),
                     QString::fromStdString(v["dtype"].get<std::string>()));
            QCOMPARE(t->shape(), fixture_shape(v["shape"]));
            if (v.contains("values")) // a large model's fixture keeps its buffers' values only
                QVERIFY2(close(t->to_doubles(), fixture_values(v["values"]), 0, 0), k.c_str());
        }
    }

    void plain_attributes_and_detection() {
        // The scripted ScriptNet keeps its plain tensor attribute; tracing drops it.
        Document scripted = open_document(script("net_scripted"));
        QVERIFY(scripted.root->own_attributes().find("plain") != nullptr);
        Document traced = open_document(script("net_traced_eval"));
        QVERIFY(traced.root->own_attributes().find("plain") == nullptr);
        QVERIFY(torchscript::is_torchscript(torchzip::ZipReader(script("lstm"))));
        QVERIFY(
            !torchscript::is_torchscript(torchzip::ZipReader(fixtures_dir() + "/pt/sd_mlp.pt")));
        // By content, whatever the extension.
        const std::string renamed = tmp.filePath("model.zip").toStdString();
        std::filesystem::copy_file(script("lstm"), renamed);
        QCOMPARE(QString::fromStdString(open_document(renamed).format), QString("torchscript"));
    }

    void archives_without_declarations_are_refused() {
        const std::string no_class =
            rewritten("net_scripted", "net_scripted/code/__torch__.py", "class Other(Module):\n",
                      tmp.filePath("no_class.pt").toStdString());
        auto [kind, msg] = catch_error([&] { open_document(no_class); });
        QCOMPARE(QString::fromStdString(msg),
                 QString::fromStdString(no_class +
                                        ": code/__torch__.py: no declaration of class ScriptNet"));
        const std::string no_file =
            rewritten("seq_mangled", "seq_mangled/code/__torch__/torch/nn/modules/batchnorm.py",
                      nullptr, tmp.filePath("no_file.pt").toStdString());
        std::tie(kind, msg) = catch_error([&] { open_document(no_file); });
        QCOMPARE(QString::fromStdString(msg),
                 QString::fromStdString(
                     no_file +
                     ": class __torch__.torch.nn.modules.batchnorm.BatchNorm2d "
                     "is not in the archive (no code/__torch__/torch/nn/modules/batchnorm.py)"));
        const std::string no_lists = rewritten(
            "lstm", "lstm/code/__torch__/torch/nn/modules/rnn.py",
            "class LSTM(Module):\n  training : bool\n", tmp.filePath("no_lists.pt").toStdString());
        std::tie(kind, msg) = catch_error([&] { open_document(no_lists); });
        QVERIFY2(QString::fromStdString(msg).endsWith("declares no __parameters__ or __buffers__"),
                 msg.c_str());
    }
};

QTEST_APPLESS_MAIN(TestTorchScript)
#include "test_torchscript.moc"
