// gui_benchmark.cpp: `nnscope --benchmark [--seconds S]`: the window's own measurements.
// For the default example, stepping as fast as possible with the plots live (forward
// passes, then training steps): steps per second, plot frames drawn per second, and the
// longest time the event loop was blocked (a 1 ms timer records the largest gap). Then a
// model with about 10,000 tensors: time to open its tree, to expand it, and to step it.
// Last, a model whose every step takes far longer than a frame: the longest block of the
// event loop meanwhile, and how long Pause takes to end a run; six Linear(2048, 2048), and
// with `nnscope --benchmark FILE --input-shape SHAPE` that model too (a scripted ResNet-18
// at 2,3,64,64: the TorchScript interpreter's steps).
// Prints one JSON object per case. Runs offscreen (QT_QPA_PLATFORM=offscreen) as well.
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryFile>
#include <QTimer>
#include <QTreeView>
#include <cstdio>

#include "main_window.h"
#include "plot_panel.h"

namespace nnscope::ui {

namespace {

// The largest gap between two ticks of a 1 ms timer while `work` runs the event loop.
struct BlockProbe {
    QTimer timer;
    QElapsedTimer clock;
    qint64 last = 0, worst = 0;
    BlockProbe() {
        timer.setInterval(1);
        QObject::connect(&timer, &QTimer::timeout, [this] {
            qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
        });
        clock.start();
        timer.start();
    }
};

// A spec file of a Sequential repeating `block` (one or more child specs) n times.
class SequentialSpec {
  public:
    SequentialSpec(const QString& block, int n)
        : m_file(QDir::tempPath() + "/nnscope-bench-XXXXXX.json") {
        QString spec = R"({"type": "Sequential", "children": [)";
        for (int i = 0; i < n; ++i) spec += (i ? "," : "") + block;
        m_file.open();
        m_file.write((spec + "]}").toUtf8());
        m_file.flush();
    }
    QString path() const { return m_file.fileName(); }

  private:
    QTemporaryFile m_file;
};

QJsonObject run_case(MainWindow& w, const QString& name, double seconds) {
    const int frames0 = w.plots()->frames_drawn();
    const int64_t steps0 = w.steps_done();
    BlockProbe probe;
    QElapsedTimer t;
    t.start();
    w.start_running();
    while (t.elapsed() < qint64(seconds * 1000))
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    w.stop_running();
    const double elapsed = double(t.elapsed()) / 1000.0;
    const QString status = w.status_text();
    QJsonObject o;
    o["case"] = name;
    o["seconds"] = elapsed;
    // Steps the worker reported, not plotted points: the plot's history decimates.
    const double steps = double(w.steps_done() - steps0);
    o["steps"] = steps;
    o["steps_per_second"] = steps / elapsed;
    o["frames_per_second"] = double(w.plots()->frames_drawn() - frames0) / elapsed;
    o["longest_block_ms"] = double(probe.worst);
    return o;
}

} // namespace

// A run of slow steps: the usual figures, plus how long Pause takes during a run.
QJsonObject slow_case(MainWindow& w, const QString& name, double seconds) {
    QJsonObject o = run_case(w, name, seconds);
    w.start_running();
    QElapsedTimer warm;
    warm.start();
    while (warm.elapsed() < 1000) QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    QElapsedTimer t;
    t.start();
    w.stop_running();
    o["pause_ms"] = double(t.nsecsElapsed()) / 1e6;
    o["step_ms"] = 1000.0 / std::max(1e-9, o["steps_per_second"].toDouble());
    return o;
}

int run_gui_benchmark(double seconds, const QString& model, const QString& input_shape) {
    MainWindow w;
    w.show();
    w.open_builtin_example("mlp-batchnorm");
    QCoreApplication::processEvents();
    w.set_rate(0); // as fast as possible
    auto print = [](const QJsonObject& o) {
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
    };
    print(run_case(w, "mlp-batchnorm forward passes, plots live", seconds));
    w.open_builtin_example("mlp-batchnorm");
    w.set_training_step(true);
    print(run_case(w, "mlp-batchnorm training steps (SGD), plots live", seconds));

    // About 10,000 tensors: 1,500 x (Linear(4, 4) + BatchNorm1d(4)) = 10,500 tensors.
    SequentialSpec big_spec(
        R"({"type": "Linear", "in_features": 4, "out_features": 4}, {"type": "BatchNorm1d", "num_features": 4})",
        1500);
    QElapsedTimer t;
    t.start();
    w.open_path(big_spec.path());
    QCoreApplication::processEvents();
    const double open_ms = double(t.nsecsElapsed()) / 1e6;
    t.restart();
    w.tree_view()->expandAll();
    QCoreApplication::processEvents();
    const double expand_ms = double(t.nsecsElapsed()) / 1e6;
    t.restart();
    w.step_blocking(10);
    const double step_ms = double(t.nsecsElapsed()) / 1e6 / 10;
    QJsonObject big;
    big["case"] = "10,500-tensor model";
    big["open_ms"] = open_ms;
    big["expand_all_ms"] = expand_ms;
    big["step_ms"] = step_ms;
    print(big);

    // Steps far longer than a frame: six Linear(2048, 2048) + ReLU on a 512 x 2048 batch
    // (about 26 GFLOP a forward pass). The window must stay responsive while one runs, and
    // Pause must end the run within a step.
    SequentialSpec slow_spec(
        R"({"type": "Linear", "in_features": 2048, "out_features": 2048}, {"type": "ReLU"})", 6);
    w.open_path(slow_spec.path());
    w.set_input_shape("512,2048");
    QCoreApplication::processEvents();
    print(slow_case(w, "slow steps (6 x Linear(2048, 2048), batch 512), plots live", seconds));
    if (model.isEmpty()) return 0;
    if (!w.open_path(model) || (!input_shape.isEmpty() && !w.set_input_shape(input_shape)) ||
        !w.can_step()) {
        std::fprintf(stderr, "error: %s\n", w.last_error().toUtf8().constData());
        return 2;
    }
    QCoreApplication::processEvents();
    QJsonObject file_case = slow_case(
        w,
        "slow steps (" + QFileInfo(model).fileName() + " at " +
            (input_shape.isEmpty() ? QString("its input") : input_shape) + "), plots live",
        seconds);
    file_case["file"] = model;
    print(file_case);
    return 0;
}

} // namespace nnscope::ui
