// step_worker.h: runs the StepEngine on a worker thread. The model is shared with the UI
// through one mutex: the worker holds it for a slice of steps (a few milliseconds), the UI
// takes it to read or change the model between slices, so it never reads a tensor while
// it is being written. Each slice's samples (step, mode, loss, watched values) come back
// by a queued signal.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "model_lock.h"
#include "step_engine.h"

namespace nnscope::ui {

struct StepSample {
    int64_t step = 0;
    bool training = true;
    double loss = 0;                          // NaN without an optimizer
    std::vector<std::vector<double>> watches; // per watch: values, or {mean, min, max}
};

struct StepBatch {
    std::vector<StepSample> samples;
    QString error; // set when a step failed; stepping stops
    QString note;  // set when Pause stopped a step half-way (a TorchScript step: undone)
    // Each called module's output shapes by dotted name, after the engine's first step (sent
    // once per engine: the window shows them without waiting for the model lock).
    std::vector<std::pair<std::string, std::vector<Shape>>> outputs;
};

class StepWorker : public QObject {
    Q_OBJECT
  public:
    StepWorker(ModelLock& lock, QObject* parent = nullptr);

    // Called from the UI thread with the model mutex held (or while stopped).
    void set_engine(std::shared_ptr<StepEngine> engine, ModulePtr model);
    void set_watches(const QStringList& names); // dotted tensor names
    void set_rate(double steps_per_second);     // 0 = as fast as possible
    void request_stop() { m_stop = true; }
    // Set while a stop is requested: TorchScript steps poll it, so Pause ends a long step.
    const std::atomic<bool>* stop_flag() const { return &m_stop; }
    bool running() const { return m_running; }

  public slots:
    // Runs `count` steps (or until request_stop() when count <= 0). Executed on the
    // worker thread through a queued call.
    void run(qint64 count);

  signals:
    void progressed(std::shared_ptr<nnscope::ui::StepBatch> batch);
    void finished();

  private:
    StepSample sample(const StepEngine::Result& r);

    void resolve_watches();

    ModelLock& m_lock;
    std::shared_ptr<StepEngine> m_engine;
    ModulePtr m_model;
    std::vector<std::string> m_watches;
    // Each watch resolved once to its slot (owner, name, kind): read every step without
    // walking the tree. The slot is read each time because a forward pass may replace a
    // buffer's tensor (the seed's running_average = ...).
    struct Slot {
        Module* owner = nullptr;
        std::string name;
        TensorKind kind = TensorKind::Buffer;
    };
    std::vector<Slot> m_slots;
    std::atomic<double> m_rate{0};
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_running{false};
    bool m_outputs_sent = false;
};

} // namespace nnscope::ui

Q_DECLARE_METATYPE(std::shared_ptr<nnscope::ui::StepBatch>)
