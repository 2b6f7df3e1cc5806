// gui_main.cpp: `nnscope [FILE] [--example NAME] [--screenshot PNG]`. Opens the window on a
// file, a built-in example, or the default example. --screenshot renders the window
// (offscreen works) to a PNG and exits: how the window is checked without a display; any
// error then exits 2 with "error: ...". --help, --version and argument errors need no
// display.
#include <QApplication>
#include <QCommandLineParser>
#include <QMessageBox>
#include <QScreen>
#include <QTimer>
#include <QTreeView>
#include <cstdio>

#include "examples.h"
#include "gpu.h"
#include "main_window.h"
#include "module_tree_model.h"

namespace nnscope::ui {
int run_gui_benchmark(double seconds, const QString& model,
                      const QString& input_shape); // gui_benchmark.cpp
}

namespace {

// Qt's own GUI arguments, which QApplication takes out of argv: the first parse (without a
// display) must not call them unknown.
QStringList without_qt_gui_arguments(const QStringList& args) {
    static const QStringList with_value = {"-platform",        "-platformpluginpath",
                                           "-platformtheme",   "-plugin",
                                           "-qwindowgeometry", "-qwindowicon",
                                           "-qwindowtitle",    "-display",
                                           "-geometry",        "-style",
                                           "-stylesheet",      "-session",
                                           "-qmljsdebugger"};
    static const QStringList flags = {"-reverse", "-widgetcount", "-nograb", "-dograb", "-sync"};
    QStringList out;
    for (int i = 0; i < args.size(); ++i) {
        if (with_value.contains(args[i])) {
            ++i;
            continue;
        }
        if (!flags.contains(args[i])) out << args[i];
    }
    return out;
}

int fail(const QString& what) {
    std::fprintf(stderr, "error: %s\n", what.toUtf8().constData());
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    QCommandLineParser parser;
    parser.setApplicationDescription("nnscope: see inside a PyTorch-style model");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        "FILE", "a model spec (.json), .safetensors, .safetensors.index.json, a PyTorch "
                ".pt/.pth/.bin/.ckpt (zip or legacy format: state dict, checkpoint or whole "
                "pickled module), a "
                "pytorch_model.bin.index.json or a "
                "TorchScript archive (.pt)");
    QCommandLineOption example({"e", "example"}, "open a built-in example", "NAME");
    QCommandLineOption screenshot("screenshot", "save a screenshot of the window to PNG and exit",
                                  "PNG");
    QCommandLineOption select("select", "select a tensor or module by dotted name", "NAME");
    QCommandLineOption steps("steps", "run N steps before showing (or before the screenshot)", "N");
    QCommandLineOption watch("watch", "watch a tensor in the plots (repeatable)", "NAME");
    QCommandLineOption train_step("train", "enable training steps (SGD) before stepping");
    QCommandLineOption eval_after("eval-after", "switch to eval mode after N of the --steps steps",
                                  "N");
    QCommandLineOption device("device", "move the model to DEVICE (cpu, sim:0, cuda:0) first",
                              "DEVICE");
    QCommandLineOption input_shape("input-shape", "the input's shape, batch first (e.g. 2,3,64,64)",
                                   "SHAPE");
    QCommandLineOption tab("tab", "show the 'plots' or 'inspector' tab", "NAME");
    QCommandLineOption benchmark(
        "benchmark", "measure stepping with live plots and a 10,000-tensor tree, print JSON, exit; "
                     "with FILE (and --input-shape), also a model whose steps are slow");
    QCommandLineOption seconds("seconds", "seconds per benchmark case (default 3)", "S");
    for (const auto& o : {benchmark, seconds, steps, watch, train_step, eval_after, device, tab,
                          input_shape, example, screenshot, select})
        parser.addOption(o);
    // Arguments first, without a display: --help, --version and argument errors work on a
    // machine with no screen (QApplication would abort there before reading them).
    {
        QCoreApplication core(argc, argv);
        QCoreApplication::setApplicationName("nnscope");
        QCoreApplication::setApplicationVersion("0.1.0");
        if (!parser.parse(without_qt_gui_arguments(QCoreApplication::arguments()))) {
            std::fprintf(stderr, "error: %s\n(run 'nnscope --help' for usage)\n",
                         parser.errorText().toUtf8().constData());
            return 1;
        }
        if (parser.isSet("help")) parser.showHelp(0);
        if (parser.isSet("version")) parser.showVersion();
        if (parser.isSet(tab) && parser.value(tab) != "plots" && parser.value(tab) != "inspector")
            return fail("--tab " + parser.value(tab) + ": expected plots or inspector");
    }
    QApplication app(argc, argv);
    nnscope::gpu::register_devices();
    QApplication::setApplicationName("nnscope");
    QApplication::setApplicationVersion("0.1.0");

    if (parser.isSet(benchmark))
        return nnscope::ui::run_gui_benchmark(
            parser.isSet(seconds) ? parser.value(seconds).toDouble() : 3.0,
            parser.positionalArguments().value(0), parser.value(input_shape));
    // With --screenshot every error ends the run (exit 2, "error: ..."); interactively the
    // window opens and shows it. A file that cannot be opened leaves the window empty: no
    // stand-in model.
    const bool scripted = parser.isSet(screenshot);
    QStringList errors;
    nnscope::ui::MainWindow window;
    // Errors are collected; with --screenshot the first one ends the run, returned from main
    // (never std::exit: the window and application must be destroyed).
    auto check = [&](bool ok, const QString& what = {}) {
        if (!ok) errors << (what.isEmpty() ? window.last_error() : what);
        return ok;
    };
    const bool opened = check(!parser.positionalArguments().isEmpty()
                                  ? window.open_path(parser.positionalArguments().first())
                                  : window.open_builtin_example(parser.isSet(example)
                                                                    ? parser.value(example)
                                                                    : nnscope::k_default_example));
    if (scripted && !errors.isEmpty()) return fail(errors.first());
    if (opened) {
        if (parser.isSet(input_shape)) check(window.set_input_shape(parser.value(input_shape)));
        if (parser.isSet(device)) check(window.move_model_to(parser.value(device)));
        if (scripted && !errors.isEmpty()) return fail(errors.first());
        for (const QString& w : parser.values(watch))
            if (check(window.tree_model()->index_of(w).isValid(),
                      "--watch " + w + ": no tensor of that name"))
                window.watch(w);
        if (scripted && !errors.isEmpty()) return fail(errors.first());
        if (parser.isSet(train_step)) window.set_training_step(true);
        if (parser.isSet(steps)) {
            const int n = parser.value(steps).toInt();
            const int switch_at = parser.isSet(eval_after) ? parser.value(eval_after).toInt() : n;
            window.step_blocking(std::min(n, switch_at));
            if (switch_at < n) {
                window.set_training_mode(false);
                window.step_blocking(n - switch_at);
            }
        }
        if (parser.isSet(select)) {
            QModelIndex src = window.tree_model()->index_of(parser.value(select));
            if (!check(src.isValid(),
                       "--select " + parser.value(select) + ": no tensor or module of that name")) {
                if (scripted) return fail(errors.first());
            } else {
                auto* proxy = static_cast<QSortFilterProxyModel*>(window.tree_view()->model());
                QModelIndex idx = proxy->mapFromSource(src);
                window.tree_view()->setCurrentIndex(idx);
                window.tree_view()->scrollTo(idx);
            }
        }
    }
    if (parser.isSet(tab)) window.show_tab(parser.value(tab));
    window.show();
    if (!errors.isEmpty())
        QTimer::singleShot(0, &window, [&window, errors] {
            QMessageBox box(QMessageBox::Warning, "nnscope",
                            nnscope::ui::error_summary(errors.first()), QMessageBox::Ok, &window);
            if (errors.size() > 1 || nnscope::ui::error_summary(errors.first()) != errors.first())
                box.setDetailedText(errors.join("\n"));
            box.exec();
        });
    if (scripted) {
        const QString path = parser.value(screenshot);
        QTimer::singleShot(200, &window, [&] {
            bool saved = window.grab().save(path);
            if (!saved)
                std::fprintf(stderr, "error: %s: cannot write the screenshot\n",
                             path.toUtf8().constData());
            QApplication::exit(saved ? 0 : 2);
        });
    }
    return app.exec();
}
