// test_safetensors.cpp: reading files PyTorch-side tools wrote (values compared with
// torch's), refusing malformed files with the right message, lazy mapping, sharded
// indexes, round trips that restore the tree, and saves that never destroy a file.
#include "../test_support.h"

#include <algorithm>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "autograd.h"
#include "document.h"
#include "examples.h"
#include "layers/layers.h"
#include "safetensors.h"

using namespace nnscope;
using namespace nnscope::test;
namespace fs = std::filesystem;

namespace {
std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file with the given header JSON and `data` bytes after it.
void write_raw(const std::string& path, const std::string& header, size_t data = 0) {
    std::ofstream out(path, std::ios::binary);
    uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data, '\0');
}

// While alive, files this process writes may not grow past `bytes` (RLIMIT_FSIZE): a
// write that crosses it fails part-way with EFBIG, like a full disk.
struct FileSizeLimit {
    rlimit old{};
    explicit FileSizeLimit(rlim_t bytes) {
        ::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old);
        rlimit lim = old;
        lim.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &old); }
};
} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
    json expect = load_fixture("safetensors.json");
    QTemporaryDir tmp;

  private slots:
    // What nnscope saves from a spec reopens as the same runnable model (#17, defect 9);
    // a spec that does not fit the file's tensors, or asks for more memory than they hold,
    // leaves the plain tree with a note and allocates nothing large.
    void saved_spec_reopens_runnable() {
        QTemporaryDir tmp;
        Document doc = open_example("mlp-batchnorm");
        const std::string path = tmp.filePath("mlp.safetensors").toStdString();
        save_document_state(doc, path);
        Document back = open_document(path);
        QVERIFY(back.root->runnable());
        QCOMPARE(QString::fromStdString(back.root->child("0")->extra_repr()),
                 QString("in_features=6, out_features=16, bias=True"));
        QCOMPARE(back.title, doc.title);
        QCOMPARE(back.lesson, doc.lesson);
        for (const auto& [k, v] : doc.root->state_dict().tensors)
            QCOMPARE(back.root->state_dict().tensors.find(k)->to_doubles(), v.to_doubles());
        // The same tensors with a spec asking for a 10^6 x 10^6 Linear: refused, shown plain.
        safetensors::Header header;
        std::vector<Tensor> keep;
        std::vector<safetensors::WriteEntry> entries;
        for (const auto& [k, v] : doc.root->state_dict().tensors) {
            keep.push_back(v.contiguous());
            entries.push_back({k, v.dtype(), v.shape(), keep.back().data_ptr(), v.nbytes()});
        }
        const std::string huge = tmp.filePath("huge.safetensors").toStdString();
        safetensors::write_file(
            huge,
            {{"nnscope.spec",
              R"({"type": "Sequential", "children": [{"type": "Linear", "in_features": 1000000, "out_features": 1000000}]})"}},
            entries);
        Document plain = open_document(huge);
        QVERIFY(!plain.root->runnable());
        QVERIFY2(plain.note.starts_with("the saved model spec does not fit this file's tensors"),
                 plain.note.c_str());
        const std::string other = tmp.filePath("other.safetensors").toStdString();
        safetensors::write_file(
            other,
            {{"nnscope.spec",
              R"({"type": "Sequential", "children": [{"type": "Linear", "in_features": 6, "out_features": 3}]})"}},
            entries);
        QVERIFY(open_document(other).note.find("Unexpected key(s)") != std::string::npos);
    }

    void reads_torch_state_dict() {
        Document doc = open_document(fixtures_dir() + "/mlp_torch.safetensors");
        QCOMPARE(QString::fromStdString(doc.format), QString("safetensors"));
        QVERIFY(doc.kind_source == KindSource::Inferred);
        const json& want = expect["mlp_torch"];
        std::vector<std::string> keys;
        for (auto& e : doc.root->tensor_entries()) {
            keys.push_back(e.name);
            const json& t = want["tensors"][e.name];
            QCOMPARE(QString(dtype_name(e.tensor.dtype()).data()),
                     QString::fromStdString(t["dtype"].get<std::string>()));
            QCOMPARE(e.tensor.shape(), fixture_shape(t["shape"]));
            QVERIFY2(close(e.tensor.to_doubles(), fixture_values(t["values"]), 0, 0),
                     e.name.c_str());
            // Kinds inferred from the names, checked against PyTorch's own
            // named_parameters()/named_buffers() of the model that wrote the file.
            const json name = e.name;
            const bool buffer = std::ranges::count(want["buffers"], name) == 1;
            QVERIFY(buffer != (std::ranges::count(want["parameters"], name) == 1));
            QCOMPARE(e.kind, buffer ? TensorKind::Buffer : TensorKind::Parameter);
        }
        // The file keeps no order; nnscope restores PyTorch's state-dict order.
        QCOMPARE(qlist(keys), qlist(want["order"]));
        // The tree is inferred from the dotted names; module types are unknown.
        auto modules = doc.root->named_modules();
        QCOMPARE(int(modules.size()), 4); // "", "0", "1", "3"
        for (auto& [n, m] : modules) QVERIFY(m->type_name().empty());
    }

    void reads_every_dtype() {
        Document doc = open_document(fixtures_dir() + "/dtypes.safetensors");
        int n = 0;
        for (const auto& [name, t] : expect["dtypes"].items()) {
            Tensor got = doc.root->tensor_entries()[0].tensor;
            for (auto& e : doc.root->tensor_entries())
                if (e.name == name) got = e.tensor;
            QCOMPARE(QString(dtype_name(got.dtype()).data()),
                     QString::fromStdString(t["dtype"].get<std::string>()));
            QCOMPARE(got.shape(), fixture_shape(t["shape"]));
            QVERIFY2(close(got.to_doubles(), fixture_values(t["values"]), 0, 0), name.c_str());
            ++n;
        }
        QCOMPARE(n, 12);
    }

    void tensors_map_the_file_lazily() {
        Document doc = open_document(fixtures_dir() + "/mlp_torch.safetensors");
        // Aligned entries point into the mapping: no copy was made when opening.
        for (auto& e : doc.root->tensor_entries())
            QVERIFY(e.tensor.impl()->storage->keepalive != nullptr);
        // Writing to a mapped tensor never reaches the file (copy-on-write).
        std::string before = file_bytes(fixtures_dir() + "/mlp_torch.safetensors");
        {
            NoGradGuard no_grad; // the first entry is a parameter
            doc.root->tensor_entries()[0].tensor.fill_(Scalar(123.0));
        }
        QCOMPARE(file_bytes(fixtures_dir() + "/mlp_torch.safetensors"), before);
    }

    void refuses_malformed_files() {
        int n = 0;
        for (const auto& c : expect["bad_files"]) {
            std::string path = fixtures_dir() + "/bad/" + c["file"].get<std::string>();
            auto got = catch_error([&] { open_document(path); });
            QCOMPARE(QString::fromStdString(got.first), QString("FormatError"));
            QVERIFY2(got.second.starts_with(path + ": "), got.second.c_str());
            QVERIFY2(got.second.find(c["expect"].get<std::string>()) != std::string::npos,
                     (got.second + " lacks " + c["expect"].get<std::string>()).c_str());
            ++n;
        }
        QVERIFY(n >= 15);
    }

    void opens_sharded_index_as_one() {
        Document doc = open_document(fixtures_dir() + "/sharded.safetensors.index.json");
        Document whole = open_document(fixtures_dir() + "/mlp_torch.safetensors");
        QCOMPARE(QString::fromStdString(doc.format), QString("safetensors-index"));
        auto a = doc.root->state_dict(), b = whole.root->state_dict();
        QCOMPARE(a.tensors.size(), b.tensors.size());
        for (const auto& [k, v] : b.tensors) {
            const Tensor* t = a.tensors.find(k);
            QVERIFY2(t, k.c_str());
            QCOMPARE(t->to_doubles(), v.to_doubles());
        }
        // An index naming a shard that lacks the tensor is refused.
        std::string dir = tmp.path().toStdString();
        fs::copy_file(fixtures_dir() + "/sharded-00001-of-00002.safetensors",
                      dir + "/s1.safetensors");
        std::ofstream(dir + "/bad.safetensors.index.json")
            << R"({"weight_map": {"0.weight": "s1.safetensors", "nope": "s1.safetensors"}})";
        auto got = catch_error([&] { open_document(dir + "/bad.safetensors.index.json"); });
        QVERIFY2(got.second.find("does not assign") != std::string::npos ||
                     got.second.find("does not hold") != std::string::npos,
                 got.second.c_str());
    }

    void round_trip_restores_tree_and_values() {
        Document ex = open_example("buffer-patterns");
        std::string path = tmp.filePath("bp.safetensors").toStdString();
        save_state_dict(*ex.root, path);
        Document back = open_document(path);
        QVERIFY(back.kind_source == KindSource::Declared);
        auto a = ex.root->tensor_entries();
        auto b = back.root->tensor_entries();
        // Everything in the state dict comes back with its kind and values; the module types too.
        std::vector<std::string> want, got;
        for (auto& e : a)
            if (e.persistent) want.push_back(e.name + ":" + tensor_kind_name(e.kind));
        for (auto& e : b) got.push_back(e.name + ":" + tensor_kind_name(e.kind));
        QCOMPARE(qlist(got), qlist(want));
        for (auto& e : b) {
            const StateDict sd = ex.root->state_dict();
            Tensor orig = sd.tensors.find(e.name)->detach();
            QCOMPARE(e.tensor.to_doubles(), orig.to_doubles());
            QCOMPARE(e.tensor.dtype(), orig.dtype());
        }
        std::vector<std::string> ta, tb;
        for (auto& [n, m] : ex.root->named_modules()) ta.push_back(n + ":" + m->type_name());
        for (auto& [n, m] : back.root->named_modules()) tb.push_back(n + ":" + m->type_name());
        QCOMPARE(qlist(tb), qlist(ta));
        // A whole example round-trips into an equal model through load_state_dict.
        Document fresh = open_example("buffer-patterns");
        fresh.root->load_state_dict(back.root->state_dict());
    }

    // The format is decided by content (io/model_file.h): a safetensors file, a torch.save
    // archive and a legacy tar named otherwise open as what they are; names decide only the
    // JSON formats, and a name of no known format with no known content is refused.
    void formats_are_detected_by_content() {
        Document ex = open_example("buffer-patterns");
        const std::string st = tmp.filePath("detect.safetensors").toStdString();
        const std::string pt = tmp.filePath("detect.pt").toStdString();
        save_state_dict(*ex.root, st);
        save_state_dict(*ex.root, pt);
        const std::string st_as_bin = tmp.filePath("weights.bin").toStdString();
        const std::string pt_as_data = tmp.filePath("weights.data").toStdString();
        QVERIFY(QFile::copy(QString::fromStdString(st), QString::fromStdString(st_as_bin)));
        QVERIFY(QFile::copy(QString::fromStdString(pt), QString::fromStdString(pt_as_data)));
        QVERIFY(detect_model_file(st_as_bin) == ModelFileFormat::Safetensors);
        QVERIFY(detect_model_file(pt_as_data) == ModelFileFormat::TorchSave);
        Document a = open_document(st_as_bin), b = open_document(pt_as_data);
        QCOMPARE(a.format, std::string("safetensors"));
        QCOMPARE(b.format, std::string("pt"));
        QCOMPARE(a.path, st_as_bin);
        QCOMPARE(a.root->state_dict().tensors.size(), ex.root->state_dict().tensors.size());
        QCOMPARE(b.root->state_dict().tensors.size(), ex.root->state_dict().tensors.size());
        const std::string other = tmp.filePath("notes.txt").toStdString();
        {
            std::ofstream out(other);
            out << "not a model";
        }
        try {
            open_document(other);
            QFAIL("a text file opened");
        } catch (const FormatError& e) {
            QCOMPARE(std::string(e.what()),
                     other + ": unknown file type (expected .json, .safetensors, "
                             ".safetensors.index.json, .pt or .pth)");
        }
    }

    void limits_are_one_line_errors() {
        // Rank over the limit.
        std::string path = tmp.filePath("rank.safetensors").toStdString();
        std::string shape = "[1";
        for (int i = 0; i < 16; ++i) shape += ",1";
        write_raw(path,
                  "{\"t\":{\"dtype\":\"F32\",\"shape\":" + shape + "],\"data_offsets\":[0,4]}}", 4);
        auto got = catch_error([&] { open_document(path); });
        QCOMPARE(QString::fromStdString(got.second),
                 QString::fromStdString(path + ": tensor 't': rank 17 exceeds the limit of 16 "
                                               "dimensions"));
        // More tensors than the limit (empty ones, so the file stays small).
        std::string header = "{";
        for (size_t i = 0; i <= k_max_tensors_per_file; ++i)
            header += (i ? ",\"" : "\"") + std::to_string(i) +
                      "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
        header += "}";
        path = tmp.filePath("count.safetensors").toStdString();
        write_raw(path, header);
        got = catch_error([&] { open_document(path); });
        QCOMPARE(QString::fromStdString(got.second),
                 QString::fromStdString(path + ": 1000001 tensors exceed the limit of 1000000"));
    }

    void write_failing_part_way_keeps_the_old_file() {
        // The old file is small; the new one needs more than the file-size limit allows,
        // so the write of the temporary file fails in the middle of the data.
        Document small = open_example("mlp-batchnorm");
        Document big = open_example("mlp-batchnorm");
        auto wide = std::make_shared<Module>();
        wide->register_buffer("big", zeros({64, 1024}));
        for (const char* ext : {".safetensors", ".pt"}) {
            std::string path = tmp.filePath(QString("partway") + ext).toStdString();
            save_state_dict(*small.root, path);
            const std::string before = file_bytes(path);
            QVERIFY(before.size() < 100'000);
            {
                FileSizeLimit limit(100'000);
                auto got = catch_error([&] { save_state_dict(*wide, path); });
                QCOMPARE(QString::fromStdString(got.first), QString("FormatError"));
                QVERIFY2(got.second.starts_with(path + ": "), got.second.c_str());
            }
            QCOMPARE(file_bytes(path), before);
            (void)open_document(path); // still a valid file
        }
        int leftovers = 0;
        for (auto& f : fs::directory_iterator(tmp.path().toStdString()))
            leftovers += f.path().filename().string().starts_with(".");
        QCOMPARE(leftovers, 0);
        (void)big;
    }

    void failed_save_keeps_the_old_file() {
        std::string path = tmp.filePath("keep.safetensors").toStdString();
        Document ex = open_example("mlp-batchnorm");
        save_state_dict(*ex.root, path);
        std::string before = file_bytes(path);
        // A model whose state dict cannot be written (a tensor name refused by the writer).
        auto bad = std::make_shared<Module>();
        bad->set_strict_names(false);
        bad->register_buffer("__metadata__", zeros({1}));
        auto got = catch_error([&] { save_state_dict(*bad, path); });
        QCOMPARE(QString::fromStdString(got.first), QString("FormatError"));
        QCOMPARE(file_bytes(path), before);
        // A folder that cannot be written to: the write fails and nothing is left behind.
        QTemporaryDir ro;
        fs::permissions(ro.path().toStdString(), fs::perms::owner_read | fs::perms::owner_exec);
        if (::geteuid() != 0) { // root ignores permissions
            auto got2 = catch_error(
                [&] { save_state_dict(*ex.root, ro.filePath("x.safetensors").toStdString()); });
            QCOMPARE(QString::fromStdString(got2.first), QString("FormatError"));
        }
        // No temporary files are left next to the target.
        int files = 0;
        for (auto& f : fs::directory_iterator(tmp.path().toStdString()))
            files += f.path().filename().string().starts_with(".");
        QCOMPARE(files, 0);
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
