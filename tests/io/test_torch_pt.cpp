// test_torch_pt.cpp: torch.save files (fixtures/expected/pt, written by PyTorch): state
// dicts in file order with every dtype, storages shared by views, checkpoint entries,
// whole pickled modules rebuilt with their exact tree (non-persistent buffers, plain
// attributes, shared parameters, training flags, user classes), runnable when made of
// layers nnscope implements (forward output equal to PyTorch's), hostile files refused
// without executing anything, and round trips through nnscope's own .pt writer.
#include "../test_support.h"

#include <filesystem>

#include "autograd.h"
#include "backend.h"
#include "device.h"
#include "document.h"
#include "gpu.h"
#include "model_facts.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
std::string pt(const std::string& name) {
    return fixtures_dir() + "/pt/" + name;
}

Tensor from_json(const json& t) {
    return tensor_from_fixture(t);
}

// Every entry of `want` ({name: tensor json}) is in the document and equal; in the same
// order when `ordered` (a real state dict; a flat dict mixing "a" and "b.c" keys comes back
// in module-tree order: a module's own tensors before its children's).
void compare_state(const Document& doc, const json& want, bool ordered = true) {
    const StateDict sd = doc.root->state_dict();
    QStringList got_keys, want_keys;
    for (const auto& [k, v] : sd.tensors) got_keys << QString::fromStdString(k);
    for (const auto& [k, v] : want.items()) want_keys << QString::fromStdString(k);
    if (!ordered) {
        got_keys.sort();
        want_keys.sort();
    }
    QCOMPARE(got_keys, want_keys);
    for (const auto& [k, v] : want.items()) {
        const Tensor* t = sd.tensors.find(k);
        QCOMPARE(QString(dtype_name(t->dtype()).data()),
                 QString::fromStdString(v["dtype"].get<std::string>()));
        QCOMPARE(t->shape(), fixture_shape(v["shape"]));
        QVERIFY2(close(t->to_doubles(), fixture_values(v["values"]), 0, 0), k.c_str());
    }
}
} // namespace

class TestTorchPt : public QObject {
    Q_OBJECT
    json fixture = load_fixture("pt.json");
    QTemporaryDir tmp;

  private slots:
    void initTestCase() { gpu::register_devices(); }
    // torch.nn.utils' reparametrisations: kinds inferred as PyTorch registers them (from the
    // names and their siblings), requires_grad as the file holds it, and kept as inferred,
    // with the file's _metadata, through a conversion to safetensors and back to .pt.
    void reparametrised_state_dicts() {
        const json& want = fixture["expect"]["reparametrised"];
        auto check = [&](const Document& doc) {
            QVERIFY(doc.kind_source == KindSource::Inferred);
            std::vector<std::string> params, buffers, grad;
            for (const auto& [n, t] : doc.root->named_parameters()) {
                params.push_back(n);
                if (t.requires_grad()) grad.push_back(n);
            }
            for (const auto& [n, t] : doc.root->named_buffers()) buffers.push_back(n);
            QCOMPARE(qlist(params), qlist(want["parameters"]));
            QCOMPARE(qlist(buffers), qlist(want["buffers"]));
            QCOMPARE(qlist(grad), qlist(want["requires_grad"]));
            QCOMPARE(json::parse(doc.torch_metadata), want["metadata"]);
        };
        Document doc = open_document(pt("reparametrised.pt"));
        check(doc);
        const std::string st = tmp.filePath("rep.safetensors").toStdString();
        save_document_state(doc, st);
        Document back = open_document(st);
        check(back);
        const std::string again = tmp.filePath("rep.pt").toStdString();
        save_document_state(back, again);
        check(open_document(again));
    }

    // Whole pickled modules under spectral_norm, weight_norm and prune: the forward pre-hook
    // that recomputes the weight is the reason they do not run, not a missing class; a
    // torch.nn class nnscope lacks says so.
    void reparametrised_modules_say_why_they_do_not_run() {
        const json& want = fixture["expect"]["reparametrised_whole"];
        Document doc = open_document(pt("reparametrised_whole.pt"));
        QVERIFY(!doc.root->runnable());
        std::vector<std::string> modules, want_modules;
        for (const auto& b : not_runnable_modules(doc)) {
            modules.push_back(b.module);
            for (const auto& [n, type] :
                 want["modules"].get<std::vector<std::pair<std::string, std::string>>>())
                if (n == b.module) QCOMPARE(b.type, type);
            if (want["pre_hooks"].contains(b.module)) {
                const std::string hook = want["pre_hooks"][b.module][0];
                QVERIFY2(b.reason.starts_with("a forward pre-hook (" + hook +
                                              ") recomputes weight from weight_"),
                         b.reason.c_str());
                QVERIFY2(
                    b.reason.ends_with("before each call, and nnscope does not run forward hooks"),
                    b.reason.c_str());
            }
        }
        for (const auto& [n, hooks] : want["pre_hooks"].items()) want_modules.push_back(n);
        want_modules.push_back("4"); // PixelShuffle
        QCOMPARE(qlist(modules), qlist(want_modules));
        QCOMPARE(
            not_runnable_modules(doc)[0].reason,
            std::string(
                "a forward pre-hook (torch.nn.utils.spectral_norm.SpectralNorm) recomputes weight "
                "from weight_orig, weight_u and weight_v before each call, and nnscope does not "
                "run forward hooks"));
        QCOMPARE(not_runnable_modules(doc).back().reason,
                 std::string("nnscope does not implement "
                             "torch.nn.modules.pixelshuffle.PixelShuffle yet; a TorchScript "
                             "save of the model (torch.jit.script(model).save(path)) runs"));
    }

    // The legacy format (torch.save(..., _use_new_zipfile_serialization=False)): every kind of
    // file reads exactly as the zip-format file holding the same objects (#16 part 1).
    void legacy_files_read_as_their_zip_twins_data() {
        QTest::addColumn<QString>("legacy");
        QTest::addColumn<QString>("zip");
        for (const auto& pair : fixture["expect"]["legacy"])
            QTest::newRow(pair[0].get<std::string>().c_str())
                << QString::fromStdString(pair[0]) << QString::fromStdString(pair[1]);
    }

    void legacy_files_read_as_their_zip_twins() {
        QFETCH(QString, legacy);
        QFETCH(QString, zip);
        Document a = open_document(pt(legacy.toStdString())),
                 b = open_document(pt(zip.toStdString()));
        QCOMPARE(a.format, b.format);
        QVERIFY(a.kind_source == b.kind_source);
        QCOMPARE(a.entry, b.entry);
        QCOMPARE(a.checkpoint_entries, b.checkpoint_entries);
        QCOMPARE(a.note, b.note);
        QCOMPARE(a.torch_metadata, b.torch_metadata);
        QCOMPARE(a.root->runnable(), b.root->runnable());
        std::vector<std::string> ma, mb;
        for (auto& [n, m] : a.root->named_modules())
            ma.push_back(n + ":" + m->type_name() + (m->is_training() ? ":train" : ":eval"));
        for (auto& [n, m] : b.root->named_modules())
            mb.push_back(n + ":" + m->type_name() + (m->is_training() ? ":train" : ":eval"));
        QCOMPARE(qlist(ma), qlist(mb));
        auto ea = a.root->tensor_entries(), eb = b.root->tensor_entries();
        QCOMPARE(ea.size(), eb.size());
        for (size_t i = 0; i < ea.size(); ++i) {
            QCOMPARE(ea[i].name, eb[i].name);
            QVERIFY(ea[i].kind == eb[i].kind);
            QCOMPARE(ea[i].tensor.dtype(), eb[i].tensor.dtype());
            QCOMPARE(ea[i].tensor.shape(), eb[i].tensor.shape());
            QCOMPARE(ea[i].tensor.strides(), eb[i].tensor.strides());
            QCOMPARE(ea[i].tensor.storage_offset(), eb[i].tensor.storage_offset());
            QCOMPARE(ea[i].tensor.requires_grad(), eb[i].tensor.requires_grad());
            QCOMPARE(ea[i].tensor.to_doubles(), eb[i].tensor.to_doubles());
            // Views of one storage stay views of one storage.
            for (size_t j = 0; j < i; ++j)
                QCOMPARE(ea[i].tensor.impl()->storage == ea[j].tensor.impl()->storage,
                         eb[i].tensor.impl()->storage == eb[j].tensor.impl()->storage);
        }
        if (a.root->runnable()) { // whole_seq: the same outputs as PyTorch's
            const json& want = fixture["expect"]["whole_seq"];
            a.root->eval();
            NoGradGuard no_grad;
            Tensor y = a.root->forward(tensor_from_fixture(want["input"]));
            QCOMPARE(y.shape(), fixture_shape(want["output"]["shape"]));
            QVERIFY(close(y.to_doubles(), fixture_values(want["output"]["values"]), 1e-5, 1e-6));
        }
    }

    // A storage view of the old legacy files (view key, offset, size): the values torch.load
    // gives, sharing the root storage.
    void legacy_storage_views() {
        Document doc = open_document(pt("legacy_storage_view.pt"));
        compare_state(doc, fixture["expect"]["legacy_storage_view"]);
        QVERIFY(doc.root->attr("view").shares_storage_with(doc.root->attr("all")));
    }

    // A legacy file cut short, a zip cut short, the tar format and other bytes: each says
    // what it really is.
    void damaged_and_foreign_files_say_what_they_are() {
        auto err = [&](const std::string& path) {
            return catch_error([&] { open_document(path); }).second;
        };
        const std::string cut = err(pt("legacy_truncated.pt"));
        QVERIFY2(cut.starts_with(pt("legacy_truncated.pt") +
                                 ": legacy torch.save format: truncated: storage '") &&
                     cut.find("' starts at byte ") != std::string::npos &&
                     cut.find(" but the file ends at ") != std::string::npos,
                 cut.c_str());
        const std::string truncated_zip = err(pt("truncated.pt"));
        QVERIFY2(truncated_zip.starts_with(pt("truncated.pt") +
                                           ": a damaged or truncated zip archive ("),
                 truncated_zip.c_str());
        const std::string tar = tmp.filePath("old.pt").toStdString();
        {
            std::ofstream out(tar, std::ios::binary);
            std::string block(1024, '\0');
            block.replace(257, 5, "ustar");
            out << block;
        }
        QCOMPARE(err(tar),
                 tar +
                     ": a tar archive: torch.save's format before PyTorch 0.4, which nnscope does "
                     "not read (load it with PyTorch and torch.save it again)");
        // Known by its content whatever its name (io/model_file.h), not refused as an unknown type.
        const std::string tar_named = tmp.filePath("checkpoint.tar").toStdString();
        std::filesystem::copy_file(tar, tar_named);
        QCOMPARE(err(tar_named),
                 tar_named +
                     ": a tar archive: torch.save's format before PyTorch 0.4, which nnscope does "
                     "not read (load it with PyTorch and torch.save it again)");
        QCOMPARE(err(pt("not_zip.pt")),
                 pt("not_zip.pt") + ": not a PyTorch file: neither a zip archive "
                                    "(torch.save since 1.6) nor torch.save's legacy format");
    }

    // Lazy modules before their first call (#16 part 4): UninitializedParameter and
    // UninitializedBuffer are shown with their kind and no shape, a state dict of them is a
    // state dict, the model says it needs a first forward pass in PyTorch, and a .pt save
    // writes them back as torch.save does (safetensors cannot hold them, and says so).
    void lazy_modules_before_their_first_call() {
        const json& want = fixture["expect"]["lazy"];
        for (const char* file : {"lazy_sd.pt", "lazy_whole.pt"}) {
            Document doc = open_document(pt(file));
            std::vector<std::string> params, buffers, uninit;
            for (const auto& e : doc.root->tensor_entries()) {
                if (e.kind == TensorKind::Parameter) params.push_back(e.name);
                if (e.kind == TensorKind::Buffer) buffers.push_back(e.name);
                if (e.tensor.is_uninitialized()) uninit.push_back(e.name);
            }
            QCOMPARE(qlist(params), qlist(want["parameters"]));
            QCOMPARE(qlist(buffers), qlist(want["buffers"]));
            QCOMPARE(qlist(uninit), qlist(want["uninitialized"]));
            QVERIFY(!doc.root->runnable());
            if (std::string(file) == "lazy_sd.pt") {
                QCOMPARE(doc.format, std::string("pt")); // a state dict, not a checkpoint
                const std::string st = tmp.filePath("lazy.safetensors").toStdString();
                QCOMPARE(catch_error([&] { save_document_state(doc, st); }).second,
                         st + ": cannot write '0.weight' to safetensors: it is uninitialized (a "
                              "lazy module "
                              "before its first forward pass); save as .pt, or run the model once "
                              "in PyTorch first");
                const std::string again = tmp.filePath("lazy.pt").toStdString();
                save_document_state(doc, again);
                Document back = open_document(again);
                std::vector<std::string> back_uninit;
                for (const auto& e : back.root->tensor_entries())
                    if (e.tensor.is_uninitialized()) back_uninit.push_back(e.name);
                QCOMPARE(qlist(back_uninit), qlist(want["uninitialized"]));
            } else {
                const auto blocked = not_runnable_modules(doc);
                QCOMPARE(blocked.size(), size_t(2));
                QCOMPARE(blocked[0].type, std::string("torch.nn.modules.linear.LazyLinear"));
                QCOMPARE(
                    blocked[0].reason,
                    std::string("its parameters are uninitialized (a lazy module before "
                                "its first call): run one forward pass in PyTorch, then save it"));
                QCOMPARE(blocked[1].type,
                         std::string("torch.nn.modules.batchnorm.LazyBatchNorm1d"));
            }
        }
    }

    // pytorch_model.bin.index.json with its torch.save shards opens as one state dict, in
    // the weight_map's order, with the values of the unsharded file (#16 part 8).
    void sharded_bin_files_open_as_one_state_dict() {
        Document doc = open_document(pt("pytorch_model.bin.index.json"));
        Document whole = open_document(pt("sd_mlp.pt"));
        QCOMPARE(doc.format, std::string("pt-index"));
        QVERIFY(doc.kind_source == KindSource::Inferred);
        const StateDict a = doc.root->state_dict(), b = whole.root->state_dict();
        std::vector<std::string> ka, kb;
        for (const auto& [k, t] : a.tensors) {
            ka.push_back(k);
            QCOMPARE(t.to_doubles(), b.tensors.find(k)->to_doubles());
        }
        for (const auto& [k, t] : b.tensors) kb.push_back(k);
        QCOMPARE(qlist(ka), qlist(kb));
        // A shard that is not a state dict says so.
        const std::string index = tmp.filePath("bad.index.json").toStdString();
        std::filesystem::copy_file(pt("whole_seq.pt"), tmp.filePath("whole.bin").toStdString(),
                                   std::filesystem::copy_options::overwrite_existing);
        {
            std::ofstream out(index);
            out << R"({"weight_map": {"0.weight": "whole.bin"}})";
        }
        QCOMPARE(catch_error([&] { open_document(index); }).second,
                 index + ": shard 'whole.bin' holds a whole module, not a state dict");
    }

    // #16 part 8: torch.save's stored entries are mapped from the file, read only when their
    // values are used, and copy-on-write (a change in memory never reaches the file);
    // deflated entries are read instead, and the document says so.
    void storages_are_mapped_or_read_and_say_so() {
        const json& want = fixture["expect"]["sd_mlp"];
        Document mapped = open_document(pt("sd_mlp.pt"));
        QCOMPARE(QString::fromStdString(mapped.note), QString());
        Document deflated = open_document(pt("sd_mlp_deflated.pt"));
        const int n = fixture["expect"]["sd_mlp_deflated_storages"];
        QCOMPARE(QString::fromStdString(deflated.note),
                 QString("%1 of %1 storages read into memory (compressed, unaligned or big-endian "
                         "zip entries); "
                         "the others are mapped from the file")
                     .arg(n));
        compare_state(mapped, want);
        compare_state(deflated, want);
        // Copy-on-write: training in memory leaves the file as it was.
        QTemporaryDir tmp;
        const std::string copy = tmp.filePath("sd.pt").toStdString();
        std::filesystem::copy_file(pt("sd_mlp.pt"), copy);
        {
            Document d = open_document(copy);
            const std::string first = want.items().begin().key();
            Tensor t = *d.root->state_dict().tensors.find(first);
            NoGradGuard no_grad;
            t.add_(Scalar(1.0));
            QVERIFY(t.to_doubles() != fixture_values(want[first]["values"]));
        }
        compare_state(open_document(copy), want);
    }

    // #16 part 6: files from PyTorch 2.x (fixtures kept per version, expected-2.13/): its
    // zip records, a whole module, a checkpoint, its legacy format, and the dtypes it adds
    // (float8, uint16/32/64: kept, shown widened, converted without loss, never computed
    // with); complex is refused by name.
    void files_from_pytorch_2x() {
        for (const std::string version : {"2.13"}) {
            const std::string dir = fixtures_dir() + "/../expected-" + version;
            std::ifstream in(dir + "/pt_versioned.json");
            QVERIFY2(in, (dir + " has no pt_versioned.json").c_str());
            const json want = json::parse(in);
            const auto records = want["records"].get<std::vector<std::string>>();
            QVERIFY(std::find(records.begin(), records.end(), ".data/serialization_id") !=
                    records.end());
            auto file = [&](const std::string& name) { return dir + "/pt/" + name; };
            // dtypes.pt mixes inferred parameters and buffers: it comes back in module-tree order.
            for (const auto& [name, tensors] : want["files"].items())
                compare_state(open_document(file(name)), tensors, name != "dtypes.pt");
            compare_state(open_document(file("checkpoint.pt")), want["files"]["sd.pt"]);
            compare_state(open_document(file("legacy.pt")), want["files"]["sd.pt"]);
            if (want["safetensors"].get<bool>())
                compare_state(open_document(file("dtypes.safetensors")), want["files"]["dtypes.pt"],
                              false);
            // The whole module runs from the file, as PyTorch ran it.
            Document whole = open_document(file("whole.pt"));
            QVERIFY2(whole.root->runnable(), not_runnable_summary(whole.not_runnable).c_str());
            whole.root->train(false);
            {
                NoGradGuard no_grad;
                Tensor y = whole.root->forward(from_json(want["whole"]["input"]));
                std::string why;
                QVERIFY2(close(y.to_doubles(), fixture_values(want["whole"]["output"]["values"]),
                               1e-5, 1e-6, &why),
                         why.c_str());
            }
            // Converted to safetensors and to .pt and back: the same bytes, the same values.
            QTemporaryDir tmp;
            Document dtypes = open_document(file("dtypes.pt"));
            for (const char* ext : {"st.safetensors", "st.pt"}) {
                const std::string out = tmp.filePath(ext).toStdString();
                save_document_state(dtypes, out);
                compare_state(open_document(out), want["files"]["dtypes.pt"], false);
            }
            // uint64 past INT64_MAX prints as PyTorch prints it.
            QCOMPARE(
                QString::fromStdString(dtypes.root->state_dict().tensors.find("u64_top")->repr()),
                QString::fromStdString(want["u64_top_repr"]));
            // Kept, not computed with.
            Tensor f8 = *dtypes.root->state_dict().tensors.find("f8_e4m3fn");
            auto [kind, what] = catch_error([&] { f8.add(f8); });
            QCOMPARE(QString::fromStdString(what),
                     QString("add: nnscope keeps float8_e4m3fn tensors (shows, saves and converts "
                             "them) but does "
                             "not compute with them"));
            QCOMPARE(QString::fromStdString(kind), QString("TypeError"));
            // Moved to the simulated GPU, made contiguous there and back: the same values.
            Tensor view = *dtypes.root->state_dict().tensors.find("f8_matrix_t");
            Tensor there = view.to(Device::parse("sim:0")).contiguous().to(Device::cpu());
            QCOMPARE(there.to_doubles(), view.to_doubles());
            QCOMPARE(QString(dtype_name(there.dtype()).data()), QString("float8_e4m3fn"));
            // Complex: kept, shown as PyTorch prints it, saved as .pt; safetensors has no
            // complex128.
            Document cx = open_document(file("complex.pt"));
            auto check_complex = [&](const Document& d, const std::string& name) {
                const json& w = want["complex"][name];
                const StateDict sd = d.root->state_dict();
                const Tensor* t = sd.tensors.find(name);
                QVERIFY2(t, name.c_str());
                QCOMPARE(QString(dtype_name(t->dtype()).data()),
                         QString::fromStdString(w["dtype"]));
                QCOMPARE(t->shape(), fixture_shape(w["shape"]));
                QVERIFY2(close(t->to_real_imag(), fixture_values(w["real_imag"]), 0, 0),
                         name.c_str());
                std::string repr = t->repr();
                if (repr.starts_with("Parameter containing:\n"))
                    repr.erase(0, 22); // kinds are inferred
                QCOMPARE(QString::fromStdString(repr), QString::fromStdString(w["repr"]));
            };
            for (const auto& [name, w] : want["complex"].items()) check_complex(cx, name);
            if (std::filesystem::exists(file("complex.safetensors")))
                check_complex(open_document(file("complex.safetensors")), "c64");
            const std::string cx_pt = tmp.filePath("cx.pt").toStdString();
            save_document_state(cx, cx_pt);
            for (const auto& [name, w] : want["complex"].items())
                check_complex(open_document(cx_pt), name);
            auto refused = catch_error(
                [&] { save_document_state(cx, tmp.filePath("cx.safetensors").toStdString()); });
            QVERIFY2(refused.second.ends_with(
                         "cannot write 'c128' to safetensors: the format has no complex128 dtype; "
                         "save as .pt"),
                     refused.second.c_str());
        }
    }

    void state_dicts_in_file_order() {
        for (const char* f : {"sd_mlp.pt", "sd_mlp_proto4.pt"}) {
            Document doc = open_document(pt(f));
            QCOMPARE(QString::fromStdString(doc.format), QString("pt"));
            QVERIFY(doc.kind_source == KindSource::Inferred);
            compare_state(doc, fixture["expect"]["sd_mlp"]);
        }
        compare_state(open_document(pt("dtypes.pt")), fixture["expect"]["dtypes"], false);
    }

    void views_share_one_storage() {
        Document doc = open_document(pt("views.pt"));
        compare_state(doc, fixture["expect"]["views"]);
        auto sd = doc.root->state_dict();
        const Tensor& a = *sd.tensors.find("a");
        for (const char* k : {"t", "row", "col", "tail"})
            QVERIFY2(sd.tensors.find(k)->shares_storage_with(a), k);
        QVERIFY(!sd.tensors.find("t")->is_contiguous());
        // Writing through one view shows in the others, as in PyTorch.
        NoGradGuard no_grad;
        Tensor row = *sd.tensors.find("row");
        row.fill_(Scalar(-1.0));
        QCOMPARE(sd.tensors.find("col")->to_doubles()[1], -1.0);
    }

    void checkpoint_entries() {
        Document doc = open_document(pt("checkpoint.pt"));
        QCOMPARE(QString::fromStdString(doc.entry),
                 QString("model")); // the only entry holding tensors
        QCOMPARE(QString::fromStdString(doc.format), QString("pt-checkpoint"));
        QCOMPARE(doc.checkpoint_entries.size(), size_t(3));
        QCOMPARE(QString::fromStdString(doc.checkpoint_entries[2].first + ": " +
                                        doc.checkpoint_entries[2].second),
                 QString("epoch: 3"));
        compare_state(doc, fixture["expect"]["checkpoint_model"]);
        auto two = catch_error([&] { open_document(pt("two_models.pt")); });
        QVERIFY2(two.second.find("choose one with --entry NAME") != std::string::npos,
                 two.second.c_str());
        QVERIFY(two.second.find("generator (state dict (9 tensors))") != std::string::npos);
        Document critic = open_document(pt("two_models.pt"), "critic");
        QCOMPARE(QString::fromStdString(critic.entry), QString("critic"));
        auto missing = catch_error([&] { open_document(pt("two_models.pt"), "nope"); });
        QVERIFY2(missing.second.find("no entry 'nope' (entries: generator, critic, step)") !=
                     std::string::npos,
                 missing.second.c_str());
        auto step = catch_error([&] { open_document(pt("two_models.pt"), "step"); });
        QVERIFY2(step.second.find("entry 'step': holds 10") != std::string::npos,
                 step.second.c_str());
    }

    void whole_module_tree() {
        Document doc = open_document(pt("whole_net.pt"));
        const json& want = fixture["expect"]["whole_net"];
        QVERIFY(doc.kind_source == KindSource::Declared);
        QStringList modules, training;
        for (auto& [n, m] : doc.root->named_modules()) {
            modules << QString::fromStdString(n + ":" + m->type_name());
            training << QString::fromStdString(n + ":" + (m->is_training() ? "1" : "0"));
        }
        QStringList want_modules, want_training;
        for (auto& e : want["modules"])
            want_modules << QString::fromStdString(e[0].get<std::string>() + ":" +
                                                   e[1].get<std::string>());
        for (auto& e : want["training"])
            want_training << QString::fromStdString(e[0].get<std::string>() + ":" +
                                                    (e[1].get<bool>() ? "1" : "0"));
        QCOMPARE(modules, want_modules);
        QCOMPARE(training, want_training);
        std::vector<std::string> params, buffers, sd;
        for (auto& [n, t] : doc.root->named_parameters()) params.push_back(n);
        for (auto& [n, t] : doc.root->named_buffers()) buffers.push_back(n);
        for (auto& [n, t] : doc.root->state_dict().tensors) sd.push_back(n);
        QCOMPARE(qlist(params), qlist(want["parameters"])); // the tied weight listed once
        QCOMPARE(qlist(buffers), qlist(want["buffers"]));
        QCOMPARE(qlist(sd), qlist(want["state_dict"]));
        QVERIFY(!doc.root->is_persistent_buffer("scratch"));
        QCOMPARE(doc.root->attr("plain").to_doubles(), fixture_values(want["plain"]["values"]));
        QVERIFY(doc.root->child("decoder")->attr("weight").is_same(
            doc.root->child("tied")->attr("weight")));
        QVERIFY(!doc.root->runnable()); // Net is a user class
        QVERIFY2(doc.note.find("__main__.Net") != std::string::npos, doc.note.c_str());
        QVERIFY(doc.root->child("encoder")->runnable()); // its Linear is a real nnscope Linear
    }

    // Pickled hyper-parameters that lie (Linear(10^6, 10^6) holding a [4, 3] weight): the
    // file opens with its own tensors, inspect-only and saying why, and nothing the size of
    // the lie is allocated (CPU memory in use grows by the file's tensors only).
    void lying_hyper_parameters_allocate_nothing() {
        const size_t before = backend_for(Device::cpu()).bytes_in_use();
        Document doc = open_document(pt("oversized_linear.pt"));
        QVERIFY(backend_for(Device::cpu()).bytes_in_use() - before < 4096);
        const json& want = fixture["expect"]["oversized_linear"];
        compare_state(doc, want);
        QVERIFY(!doc.root->runnable());
        QCOMPARE(
            doc.note,
            std::string("inspect-only: the model (torch.nn.modules.linear.Linear): its "
                        "hyper-parameters ask for more elements than the file's storages hold"));
    }

    void whole_sequential_runs_like_pytorch() {
        Document doc = open_document(pt("whole_seq.pt"));
        const json& want = fixture["expect"]["whole_seq"];
        QVERIFY(doc.root->runnable());
        QVERIFY(doc.note.empty());
        QStringList modules, want_modules;
        for (auto& [n, m] : doc.root->named_modules())
            modules << QString::fromStdString(n + ":" + m->type_name());
        for (auto& e : want["modules"])
            want_modules << QString::fromStdString(e[0].get<std::string>() + ":" +
                                                   e[1].get<std::string>());
        QCOMPARE(modules, want_modules);
        QVERIFY(!doc.root->is_training()); // saved after .eval()
        NoGradGuard no_grad;
        Tensor y = doc.root->forward(from_json(want["input"]));
        std::string why;
        QVERIFY2(close(y.to_doubles(), fixture_values(want["output"]["values"]), 1e-5, 1e-6, &why),
                 why.c_str());
    }

    void hostile_files_are_refused_inert() {
        std::filesystem::remove("/tmp/nnscope-pwned");
        for (const auto& [file, expect] : fixture["bad"].items()) {
            auto got = catch_error([&] { open_document(pt(file)); });
            QVERIFY2(!got.first.empty(), (file + " opened").c_str());
            QVERIFY2(got.second.starts_with(pt(file)), got.second.c_str());
            QVERIFY2(got.second.find(expect.get<std::string>()) != std::string::npos,
                     (file + ": " + got.second + " lacks " + expect.get<std::string>()).c_str());
        }
        QVERIFY(!std::filesystem::exists("/tmp/nnscope-pwned")); // nothing was executed
        auto evil = catch_error([&] { open_document(pt("evil_root.pt")); });
        QVERIFY2(evil.second.find("system") != std::string::npos,
                 evil.second.c_str()); // reported, by name
        // A checkpoint whose other entry would call os.system opens inert, and lists it.
        Document doc = open_document(pt("evil_value.pt"));
        QCOMPARE(QString::fromStdString(doc.entry), QString("w"));
        QCOMPARE(doc.checkpoint_entries.size(), size_t(2));
        QVERIFY2(doc.checkpoint_entries[1].second.find("system") != std::string::npos,
                 doc.checkpoint_entries[1].second.c_str());
        QVERIFY(!std::filesystem::exists("/tmp/nnscope-pwned"));
    }

    void nnscope_pt_round_trip() {
        Document ex = open_example("mlp-batchnorm");
        std::string path = tmp.filePath("mlp.pt").toStdString();
        save_state_dict(*ex.root, path);
        Document back = open_document(path);
        const StateDict a = ex.root->state_dict(), b = back.root->state_dict();
        QCOMPARE(a.tensors.size(), b.tensors.size());
        for (const auto& [k, v] : a.tensors) {
            const Tensor* t = b.tensors.find(k);
            QVERIFY2(t, k.c_str());
            QCOMPARE(t->dtype(), v.dtype());
            QCOMPARE(t->to_doubles(), v.to_doubles());
        }
        // A whole module's state dict, written and read back.
        Document net = open_document(pt("whole_net.pt"));
        save_state_dict(*net.root, tmp.filePath("net.pt").toStdString());
        Document net_back = open_document(tmp.filePath("net.pt").toStdString());
        QCOMPARE(net_back.root->state_dict().tensors.size(), net.root->state_dict().tensors.size());
    }
};

QTEST_APPLESS_MAIN(TestTorchPt)
#include "test_torch_pt.moc"
