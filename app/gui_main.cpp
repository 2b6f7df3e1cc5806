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

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    nnscope::gpu::register_devices();
    QApplication::setApplicationName("nnscope");
    QApplication::setApplicationVersion("0.1.0");
    QCommandLineParser parser;
    parser.setApplicationDescription("nnscope: see inside a PyTorch-style model");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("FILE", "model spec (.json), .safetensors or .safetensors.index.json");
    QCommandLineOption example({"e", "example"}, "open a built-in example", "NAME");
    QCommandLineOption screenshot("screenshot", "save a screenshot of the window to PNG and exit", "PNG");
    QCommandLineOption select("select", "select a tensor or module by dotted name (with --screenshot)", "NAME");
    parser.addOption(example);
    parser.addOption(screenshot);
    parser.addOption(select);
    parser.process(app);

    nnscope::ui::MainWindow window;
    bool ok = true;
    if (!parser.positionalArguments().isEmpty()) ok = window.open_path(parser.positionalArguments().first());
    else ok = window.open_builtin_example(parser.isSet(example) ? parser.value(example) : nnscope::k_default_example);
    if (!ok) {
        std::fprintf(stderr, "error: %s\n", window.last_error().toUtf8().constData());
        if (parser.isSet(screenshot)) return 2;
        window.open_builtin_example(nnscope::k_default_example);
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
            if (!saved) std::fprintf(stderr, "error: %s: cannot write the screenshot\n", path.toUtf8().constData());
            QApplication::exit(saved ? 0 : 2);
        });
    }
    return app.exec();
}
