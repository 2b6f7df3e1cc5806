// gui_main.cpp: `nnscope [FILE] [--example NAME] [--screenshot PNG]`. Opens the window on a
// file, a built-in example, or the default example. --screenshot renders the window
// (offscreen works) to a PNG and exits: how the window is checked without a display.
#include <QApplication>
#include <QCommandLineParser>
#include <QScreen>
#include <QTimer>
#include <QTreeView>
#include <cstdio>

#include "examples.h"
#include "gpu.h"
#include "main_window.h"
#include "module_tree_model.h"

namespace nnscope::ui {
int run_gui_benchmark(double seconds); // gui_benchmark.cpp
}

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    nnscope::gpu::register_devices();
    QApplication::setApplicationName("nnscope");
    QApplication::setApplicationVersion("0.1.0");
    QCommandLineParser parser;
    parser.setApplicationDescription("nnscope: see inside a PyTorch-style model");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("FILE",
                                 "model spec (.json), .safetensors, .safetensors.index.json, a PyTorch .pt or a TorchScript archive");
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
    QCommandLineOption input_shape("input-shape", "the input's shape, batch first (e.g. 2,3,64,64)", "SHAPE");
    QCommandLineOption tab("tab", "show the 'plots' or 'inspector' tab", "NAME");
    QCommandLineOption benchmark(
        "benchmark", "measure stepping with live plots and a 10,000-tensor tree, print JSON, exit");
    QCommandLineOption seconds("seconds", "seconds per benchmark case (default 3)", "S");
    parser.addOption(benchmark);
    parser.addOption(seconds);
    parser.addOption(steps);
    parser.addOption(watch);
    parser.addOption(train_step);
    parser.addOption(eval_after);
    parser.addOption(device);
    parser.addOption(tab);
    parser.addOption(input_shape);
    parser.addOption(example);
    parser.addOption(screenshot);
    parser.addOption(select);
    parser.process(app);

    if (parser.isSet(benchmark))
        return nnscope::ui::run_gui_benchmark(
            parser.isSet(seconds) ? parser.value(seconds).toDouble() : 3.0);
    nnscope::ui::MainWindow window;
    bool ok = true;
    if (!parser.positionalArguments().isEmpty())
        ok = window.open_path(parser.positionalArguments().first());
    else
        ok = window.open_builtin_example(parser.isSet(example) ? parser.value(example)
                                                               : nnscope::k_default_example);
    if (!ok) {
        std::fprintf(stderr, "error: %s\n", window.last_error().toUtf8().constData());
        if (parser.isSet(screenshot)) return 2;
        window.open_builtin_example(nnscope::k_default_example);
    }
    if (parser.isSet(input_shape) && !window.set_input_shape(parser.value(input_shape))) {
        std::fprintf(stderr, "error: %s\n", window.last_error().toUtf8().constData());
        return 2;
    }
    if (parser.isSet(device)) window.move_model_to(parser.value(device));
    for (const QString& w : parser.values(watch)) window.watch(w);
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
        auto* proxy = static_cast<QSortFilterProxyModel*>(window.tree_view()->model());
        QModelIndex idx = proxy->mapFromSource(src);
        window.tree_view()->setCurrentIndex(idx);
        window.tree_view()->scrollTo(idx);
    }
    window.show();
    if (parser.isSet(screenshot)) {
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
