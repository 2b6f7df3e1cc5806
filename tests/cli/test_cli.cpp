// test_cli.cpp: nnscope-cli as a user runs it: output formats, exit codes (0 ok, 1 usage,
// 2 bad input with one "error:" line naming the file), and no partial output files.
#include "../test_support.h"

#include <algorithm>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QThread>

#include "bench/bench_cases.h"
#include "document.h"
#include "functional.h"
#include "model_spec.h"
#include "random.h"

using namespace nnscope;
using namespace nnscope::test;

namespace {
struct Run {
    int code;
    QString out, err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(NNSCOPE_CLI, args);
    p.waitForFinished(60000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

// The window's program, headless: with --screenshot it exits after one frame. `env` adds
// to (or, with an empty value, removes from) the environment.
Run gui(const QStringList& args,
        const QMap<QString, QString>& env = {{"QT_QPA_PLATFORM", "offscreen"}}) {
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    static QTemporaryDir runtime; // Qt warns on stderr without one
    e.insert("XDG_RUNTIME_DIR", runtime.path());
    for (auto it = env.begin(); it != env.end(); ++it)
        it.value().isEmpty() ? e.remove(it.key()) : e.insert(it.key(), it.value());
    p.setProcessEnvironment(e);
    p.start(NNSCOPE_GUI, args);
    p.waitForFinished(60000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

json parse(const QString& s) {
    return json::parse(s.toStdString());
}
QString fx(const char* name) {
    return QString::fromStdString(fixtures_dir()) + "/" + name;
}
} // namespace

class TestCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;

  private slots:
    void inspect_json_schema_for_spec() {
        Run r = cli({"inspect", "--example", "plain-attribute", "--json"});
        QCOMPARE(r.code, 0);
        json j = parse(r.out);
        QStringList keys;
        for (auto& [k, v] : j.items()) keys << QString::fromStdString(k);
        keys.sort();
        QCOMPARE(keys, QStringList({"file", "format", "modules", "not_runnable", "runnable",
                                    "tensors", "totals"}));
        QCOMPARE(QString::fromStdString(j["format"].get<std::string>()), QString("spec"));
        QCOMPARE(j["modules"].dump(), std::string(R"([{"name":"","type":"MyModel"}])"));
        // State-dict order (parameters first), then the unregistered attribute.
        QStringList rows;
        for (auto& t : j["tensors"])
            rows << QString::fromStdString(t["name"].get<std::string>() + ":" +
                                           t["kind"].get<std::string>() + ":" +
                                           t["kind_source"].get<std::string>() + ":" +
                                           (t["persistent"].get<bool>() ? "p" : "-") + ":" +
                                           (t["requires_grad"].get<bool>() ? "g" : "-"));
        QCOMPARE(rows,
                 QStringList({"my_param:parameter:declared:p:g", "my_buffer:buffer:declared:p:-",
                              "my_tensor:attribute:declared:-:-"}));
        QStringList tkeys;
        for (auto& [k, v] : j["tensors"][0].items()) tkeys << QString::fromStdString(k);
        QCOMPARE(tkeys, QStringList({"name", "kind", "kind_source", "persistent", "dtype", "shape",
                                     "device", "requires_grad"}));
        QCOMPARE(
            j["totals"].dump(),
            std::string(
                R"({"parameters":1,"parameter_elements":1,"buffers":1,"buffer_elements":1,"attributes":1,"bytes":12})"));
    }

    void inspect_infers_kinds_of_bare_state_dict() {
        Run r = cli({"inspect", fx("mlp_torch.safetensors"), "--json"});
        QCOMPARE(r.code, 0);
        json j = parse(r.out);
        json expect = load_fixture("safetensors.json")["mlp_torch"];
        QCOMPARE(int(j["tensors"].size()), int(expect["order"].size()));
        for (auto& t : j["tensors"]) {
            QCOMPARE(QString::fromStdString(t["kind_source"].get<std::string>()),
                     QString("inferred"));
            // The kinds PyTorch's named_parameters()/named_buffers() gave the same model.
            const json name = t["name"];
            const bool buffer = std::ranges::count(expect["buffers"], name) == 1;
            QVERIFY(buffer != (std::ranges::count(expect["parameters"], name) == 1));
            QCOMPARE(QString::fromStdString(t["kind"].get<std::string>()),
                     QString(buffer ? "buffer" : "parameter"));
        }
        for (auto& m : j["modules"]) QVERIFY(m["type"].is_null());
        QCOMPARE(j["totals"]["buffers"].get<int>(), 3);
        QCOMPARE(j["totals"]["parameters"].get<int>(), 6);
        Run text = cli({"inspect", fx("mlp_torch.safetensors")});
        QCOMPARE(text.code, 0);
        QVERIFY(text.out.contains("kinds inferred"));
        QVERIFY(text.out.contains("1.running_mean"));
        // A bare state dict does not run: every module's type is unknown.
        QVERIFY(!j["runnable"].get<bool>());
        QCOMPARE(j["not_runnable"][0]["module"].get<std::string>(), std::string(""));
        QVERIFY(j["not_runnable"][0]["type"].is_null());
        QCOMPARE(
            j["not_runnable"][0]["reason"].get<std::string>(),
            std::string("a state dict holds tensors, not modules: the module types are unknown"));
        QCOMPARE(j["not_runnable"].size(), size_t(1));
    }

    // inspect --json says what runs and, module by module, why not (#16 part 3).
    void inspect_says_what_runs() {
        json ok = parse(cli({"inspect", "--example", "mlp-batchnorm", "--json"}).out);
        QVERIFY(ok["runnable"].get<bool>());
        QVERIFY(ok["not_runnable"].empty());
        // A user's class pickled whole: no forward code in the file, and how to get one.
        json net = parse(cli({"inspect", fx("pt/whole_net.pt"), "--json"}).out);
        QVERIFY(!net["runnable"].get<bool>());
        const json& root = net["not_runnable"][0];
        QCOMPARE(root["module"].get<std::string>(), std::string(""));
        QCOMPARE(root["type"].get<std::string>(), std::string("__main__.Net"));
        QVERIFY2(root["reason"].get<std::string>().find("torch.jit.script(model).save(path)") !=
                     std::string::npos,
                 root.dump().c_str());
        Run text = cli({"inspect", fx("pt/whole_net.pt")});
        QVERIFY2(text.out.contains("not runnable: (model) (__main__.Net): no forward code"),
                 qPrintable(text.out));
    }

    void show_prints_values() {
        Run r = cli({"show", fx("mlp_torch.safetensors"), "1.running_var", "--json"});
        QCOMPARE(r.code, 0);
        json j = parse(r.out);
        json want = load_fixture("safetensors.json")["mlp_torch"]["tensors"]["1.running_var"];
        QCOMPARE(QString::fromStdString(j["dtype"].get<std::string>()), QString("float32"));
        QCOMPARE(j["shape"].dump(), want["shape"].dump());
        NNSCOPE_COMPARE_VALUES(fixture_values(j["values"]), fixture_values(want["values"]));
        Run t = cli({"show", "--example", "running-average", "count"});
        QCOMPARE(t.out, QString("tensor([0.])\n"));
        Run nbt = cli({"show", fx("mlp_torch.safetensors"), "1.num_batches_tracked"});
        QCOMPARE(nbt.out, QString("tensor(7)\n"));
    }

    void convert_and_diff() {
        QString out = tmp.filePath("mlp.safetensors");
        Run c = cli({"convert", fx("mlp_torch.safetensors"), out});
        QCOMPARE(c.code, 0);
        Run d = cli({"diff", fx("mlp_torch.safetensors"), out, "--json"});
        QCOMPARE(d.code, 0);
        QCOMPARE(parse(d.out)["differences"].get<int>(), 0);
        // A spec against an unrelated checkpoint: keys only on either side and shape mismatches.
        Run d2 = cli({"diff", "--example", "mlp-batchnorm", fx("mlp_torch.safetensors"), "--json"});
        QCOMPARE(d2.code, 0);
        json j = parse(d2.out);
        QCOMPARE(
            j["only_in_a"].dump(),
            std::string(
                R"(["4.weight","4.bias","4.running_mean","4.running_var","4.num_batches_tracked","6.weight","6.bias"])"));
        QCOMPARE(j["mismatches"][0]["name"].get<std::string>(), std::string("3.weight"));
        QCOMPARE(j["mismatches"][0]["a"].get<std::string>(), std::string("[16, 16]"));
        QCOMPARE(j["mismatches"][0]["b"].get<std::string>(), std::string("[4, 16]"));
    }

    void killed_save_keeps_the_old_file() {
        // A 128 MiB model, saved over a small file; the process is killed (SIGKILL) while
        // its temporary file is being written. The old file must be untouched and readable.
        QString spec = tmp.filePath("big.json");
        QFile f(spec);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"type": "Sequential", "children": [
            {"type": "Linear", "in_features": 4096, "out_features": 4096},
            {"type": "Linear", "in_features": 4096, "out_features": 4096}]})");
        f.close();
        for (QString name : {"killed.safetensors", "killed.pt"}) {
            QString out = tmp.filePath(name);
            QCOMPARE(cli({"convert", "--example", "mlp-batchnorm", out}).code, 0);
            QFile old(out);
            QVERIFY(old.open(QIODevice::ReadOnly));
            const QByteArray before = old.readAll();
            old.close();
            QProcess p;
            p.start(NNSCOPE_CLI, {"convert", spec, out});
            bool killed = false;
            QElapsedTimer clock;
            clock.start();
            while (!killed && clock.elapsed() < 60000 && p.state() != QProcess::NotRunning) {
                // The temporary file sits beside the target: "." + name + ".tmp-<pid>-<n>".
                for (const QFileInfo& fi :
                     QDir(tmp.path()).entryInfoList(QDir::Files | QDir::Hidden))
                    if (fi.fileName().startsWith("." + name + ".tmp") && fi.size() > (1 << 20)) {
                        p.kill();
                        killed = true;
                        break;
                    }
                QThread::msleep(1);
            }
            p.waitForFinished(10000);
            QVERIFY2(killed, "the save finished before it could be killed");
            QVERIFY(old.open(QIODevice::ReadOnly));
            QCOMPARE(old.readAll(), before);
            old.close();
            Run inspect = cli({"inspect", out});
            QCOMPARE(inspect.code, 0);
            QVERIFY(inspect.out.contains("running_mean"));
        }
    }

    void exit_codes_and_errors() {
        Run usage = cli({});
        QCOMPARE(usage.code, 1);
        Run unknown = cli({"frobnicate"});
        QCOMPARE(unknown.code, 1);
        QVERIFY(unknown.err.startsWith("error: unknown command 'frobnicate'"));
        Run missing = cli({"inspect"});
        QCOMPARE(missing.code, 1);
        Run nofile = cli({"inspect", tmp.filePath("nope.safetensors")});
        QCOMPARE(nofile.code, 2);
        QCOMPARE(nofile.err, "error: " + tmp.filePath("nope.safetensors") +
                                 ": cannot open: No such file or directory\n");
        QString bad =
            QString::fromStdString(fixtures_dir()) + "/bad/bad_header_too_small.safetensors";
        Run b = cli({"inspect", bad});
        QCOMPARE(b.code, 2);
        QVERIFY(b.err.startsWith("error: " + bad + ": header too small"));
        QCOMPARE(b.err.count('\n'), 1);
        Run nt = cli({"show", "--example", "mlp-batchnorm", "9.weight"});
        QCOMPARE(nt.code, 2);
        QCOMPARE(nt.err, QString("error: example:mlp-batchnorm: no tensor named '9.weight' (run "
                                 "'nnscope-cli inspect' to list them)\n"));
        // A failed convert leaves no output file, and keeps an existing one intact.
        QString target = tmp.filePath("target.safetensors");
        QCOMPARE(cli({"convert", "--example", "mlp-batchnorm", target}).code, 0);
        QFile f(target);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray before = f.readAll();
        f.close();
        Run fail = cli({"convert", bad, target});
        QCOMPARE(fail.code, 2);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), before);
        Run ext = cli({"convert", "--example", "mlp-batchnorm", tmp.filePath("out.xyz")});
        QCOMPARE(ext.code, 2);
        QVERIFY(!QFile::exists(tmp.filePath("out.xyz")));
    }

    void run_reproduces_seed_and_refuses_bad_input() {
        // Inputs 10, 10, 5, 15, 1 (one per step) into the seed's running-average model.
        auto inputs = std::make_shared<nnscope::Module>("Inputs");
        inputs->register_buffer("x", nnscope::from_doubles({10, 10, 5, 15, 1}, {5, 1}));
        QString in = tmp.filePath("seed_inputs.safetensors"),
                out = tmp.filePath("seed_out.safetensors"), trace = tmp.filePath("seed_trace.csv");
        nnscope::save_state_dict(*inputs, in.toStdString());
        Run r = cli({"run", "--example", "running-average", "--inputs", in, "--steps", "5",
                     "--mode", "eval", "--save", out, "--trace", trace});
        QCOMPARE(r.code, 0);
        QCOMPARE(cli({"show", out, "running_average"}).out, QString("tensor([8.2000])\n"));
        QCOMPARE(cli({"show", out, "count"}).out, QString("tensor([5.])\n"));
        QFile f(trace);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QStringList rows = QString::fromUtf8(f.readAll()).trimmed().split('\n');
        QCOMPARE(rows.size(), 6);
        QCOMPARE(rows[0], QString("step,loss,running_average,count"));
        QCOMPARE(rows[3], QString("3,,8.33333302,3"));
        // Inspect-only models, missing arguments and too few steps are refused clearly.
        Run custom = cli({"run", "--example", "parameter-vs-buffer", "--inputs", in, "--steps", "1",
                          "--mode", "train", "--save", out});
        QCOMPARE(custom.code, 2);
        QVERIFY(custom.err.contains("not runnable"));
        QCOMPARE(cli({"run", "--example", "mlp-batchnorm", "--steps", "1"}).code, 1);
        Run steps = cli({"run", "--example", "running-average", "--inputs", in, "--steps", "9",
                         "--mode", "train", "--save", out});
        QCOMPARE(steps.code, 2);
        QVERIFY2(steps.err.contains("need [steps, ...] with at least 9 steps"),
                 qPrintable(steps.err));
        // cuda:0 as the device list has it: a run where it is usable, its reason where not.
        std::string cuda_reason = "no such device";
        bool cuda_usable = false;
        const json listed = parse(cli({"devices", "--json"}).out);
        for (auto& d : listed["devices"])
            if (d["name"] == "cuda:0") {
                cuda_usable = d["available"].get<bool>();
                cuda_reason = d.value("reason", "");
            }
        Run dev = cli({"run", "--example", "running-average", "--inputs", in, "--steps", "1",
                       "--mode", "train", "--save", out, "--device", "cuda:0"});
        if (cuda_usable) {
            QCOMPARE(dev.code, 0);
            QCOMPARE(cli({"show", out, "count"}).out, QString("tensor([1.])\n"));
        } else {
            qInfo("cuda:0 is not usable here (%s): its run is refused", cuda_reason.c_str());
            QCOMPARE(dev.code, 2);
            QCOMPARE(dev.err, QString::fromStdString(
                                  "error: device cuda:0 is not available: " + cuda_reason + "\n"));
        }
    }

    // #17, defect 11: the window's command line says what is wrong (exit 2, "error: ...")
    // instead of opening a stand-in model or exiting 0; help and argument errors need no
    // display.
    void window_command_line_errors() {
        const QString png = tmp.filePath("shot.png");
        Run bad = gui({"/nonexistent/model.pt", "--screenshot", png});
        QCOMPARE(bad.code, 2);
        QVERIFY2(bad.err.startsWith("error: /nonexistent/model.pt"), qPrintable(bad.err));
        Run select =
            gui({"--example", "mlp-batchnorm", "--select", "no.such.tensor", "--screenshot", png});
        QCOMPARE(select.code, 2);
        QCOMPARE(select.err,
                 QString("error: --select no.such.tensor: no tensor or module of that name\n"));
        Run watch = gui({"--example", "mlp-batchnorm", "--watch", "nope", "--screenshot", png});
        QCOMPARE(watch.code, 2);
        QCOMPARE(watch.err, QString("error: --watch nope: no tensor of that name\n"));
        Run tab = gui({"--example", "mlp-batchnorm", "--tab", "lesson", "--screenshot", png});
        QCOMPARE(tab.code, 2);
        QCOMPARE(tab.err, QString("error: --tab lesson: expected plots or inspector\n"));
        // A device the list calls unusable: its reason, exit 2; a usable one moves.
        const json listed = parse(cli({"devices", "--json"}).out);
        for (auto& d : listed["devices"]) {
            if (d["name"] == "cpu") continue;
            const QString name = QString::fromStdString(d["name"].get<std::string>());
            Run dev = gui({"--example", "mlp-batchnorm", "--device", name, "--screenshot", png});
            if (d["available"].get<bool>()) {
                QCOMPARE(dev.code, 0);
            } else {
                QCOMPARE(dev.code, 2);
                QVERIFY2(dev.err.contains(QString::fromStdString(d["reason"].get<std::string>())),
                         qPrintable(dev.err));
            }
        }
        Run ok = gui({"--example", "mlp-batchnorm", "--select", "1.running_mean", "--tab",
                      "inspector", "--screenshot", png});
        QCOMPARE(ok.code, 0);
        QVERIFY(QFileInfo(png).size() > 1000);
        // No display at all: --help and a bad argument still answer.
        const QMap<QString, QString> no_display = {
            {"QT_QPA_PLATFORM", "xcb"}, {"DISPLAY", ""}, {"WAYLAND_DISPLAY", ""}};
        Run help = gui({"--help"}, no_display);
        QCOMPARE(help.code, 0);
        QVERIFY2(help.out.contains("Usage:") && help.out.contains(".pt/.pth/.bin/.ckpt"),
                 qPrintable(help.out + help.err));
        Run unknown = gui({"--bogus"}, no_display);
        QCOMPARE(unknown.code, 1);
        QVERIFY2(unknown.err.startsWith("error: Unknown option 'bogus'."), qPrintable(unknown.err));
    }

    void devices_listed_with_reasons() {
        Run r = cli({"devices", "--json"});
        QCOMPARE(r.code, 0);
        json j = parse(r.out);
        QVERIFY(j["cuda_compiled"].is_boolean());
        QStringList names;
        for (auto& d : j["devices"]) names << QString::fromStdString(d["name"].get<std::string>());
        QCOMPARE(names.first(), QString("cpu"));
        QVERIFY(names.contains("sim:0"));
        QVERIFY(names.contains("cuda:0"));
        for (auto& d : j["devices"]) {
            if (d["name"] == "sim:0")
                QVERIFY(d["simulated"].get<bool>() && d["available"].get<bool>());
            if (!d["available"].get<bool>()) QVERIFY(!d["reason"].get<std::string>().empty());
        }
        // The seed's unregistered attribute, after a move: PyTorch's error, exit code 2.
        auto inputs = std::make_shared<nnscope::Module>("Inputs");
        inputs->register_buffer("x", nnscope::ones({1, 1}));
        QString in = tmp.filePath("one.safetensors");
        nnscope::save_state_dict(*inputs, in.toStdString());
        Run moved =
            cli({"run", "--example", "plain-attribute", "--inputs", in, "--steps", "1", "--mode",
                 "eval", "--save", tmp.filePath("o.safetensors"), "--device", "sim:0"});
        QCOMPARE(moved.code, 2);
        QCOMPARE(moved.err, QString("error: Expected all tensors to be on the same device, but "
                                    "found at least two devices, sim:0 and cpu!\n"));
    }

    // The figures themselves are the benchmark's business (no timing is asserted); this
    // checks that the bench times the work it names: the case's model and inputs (the first
    // timed step's MSE is the loss of that model, computed here through the core), the runs
    // asked for, on the device asked for, one JSON line per case.
    void bench_reports_medians() {
        Run r = cli({"bench", "--json", "--cases", "small,large", "--runs", "3"});
        QCOMPARE(r.code, 0);
        QStringList lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        json j = parse(lines[0]);
        QStringList keys;
        for (auto& [k, v] : j.items()) keys << QString::fromStdString(k);
        keys.sort();
        QCOMPARE(keys, QStringList({"batch", "case", "device", "eval_forward_ms", "first_loss",
                                    "runs", "train_forward_ms", "train_step_ms"}));
        QCOMPARE(QString::fromStdString(j["case"].get<std::string>()), QString("small"));
        QCOMPARE(QString::fromStdString(parse(lines[1])["case"].get<std::string>()),
                 QString("large"));
        QCOMPARE(j["batch"].get<int>(), 32);
        QCOMPARE(j["runs"].get<int>(), 3);
        for (const char* k : {"train_forward_ms", "eval_forward_ms", "train_step_ms"})
            QVERIFY2(j[k].get<double>() > 0, k);

        const bench::Case small = bench::select_cases("small").at(0);
        ModulePtr model = parse_model_spec(bench::spec_json(small), "bench").root;
        Generator gen(1);
        Tensor x = randn({small.batch, small.in}, gen), y = randn({small.batch, small.out}, gen);
        model->train();
        const double want = F::mse_loss(model->forward(x), y).item();
        QVERIFY2(close({j["first_loss"].get<double>()}, {want}, 1e-5, 1e-7),
                 (std::to_string(j["first_loss"].get<double>()) + " vs " + std::to_string(want))
                     .c_str());

        Run sim = cli({"bench", "--json", "--cases", "small", "--runs", "2", "--device", "sim:0"});
        QCOMPARE(sim.code, 0);
        json js = parse(sim.out.trimmed());
        QCOMPARE(QString::fromStdString(js["device"].get<std::string>()), QString("sim:0"));
        QVERIFY(close({js["first_loss"].get<double>()}, {want}, 1e-5, 1e-7));
        QCOMPARE(cli({"bench", "--bogus"}).code, 1);
    }

    void examples_list() {
        Run r = cli({"examples", "--json"});
        QCOMPARE(r.code, 0);
        json j = parse(r.out);
        QStringList names;
        for (auto& e : j) names << QString::fromStdString(e["name"].get<std::string>());
        for (const char* n : {"mlp-batchnorm", "running-average", "parameter-vs-buffer",
                              "buffer-patterns", "update-buffer", "plain-attribute", "tinymodel"})
            QVERIFY2(names.contains(n), n);
        for (const QString& n : names) QCOMPARE(cli({"inspect", "--example", n}).code, 0);
    }

    void operator_table_in_the_readme_is_the_codes() {
        // The README's table of TorchScript operators is what `ops --markdown` prints.
        Run r = cli({"ops", "--markdown"});
        QCOMPARE(r.code, 0);
        std::ifstream in(std::string(NNSCOPE_SOURCE_DIR) + "/README.md");
        std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const size_t begin = readme.find("<!-- ops-table -->\n"),
                     end = readme.find("<!-- /ops-table -->");
        QVERIFY(begin != std::string::npos && end != std::string::npos);
        const std::string table = readme.substr(begin + 19, end - begin - 19);
        QVERIFY2(QString::fromStdString(table) == r.out,
                 "README.md's operator table differs from `nnscope-cli ops --markdown`");
        QVERIFY(r.out.contains("| `aten::conv2d` |"));
        QCOMPARE(cli({"ops", "extra"}).code, 1);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
