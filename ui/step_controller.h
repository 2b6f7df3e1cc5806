// step_controller.h: the window's stepping, apart from its widgets. It owns the StepEngine
// for the open model, the worker thread that runs it (step_worker.h) and the state of a
// run: running or not, steps done, the rate. The window asks it to step, run, pause, change
// the optimizer or the inputs, and shows what it signals; the GUI benchmark and the tests
// drive it the same way.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>
#include <memory>

#include "input_generator.h"
#include "model_lock.h"
#include "module.h"

namespace nnscope {
class StepEngine;
}

namespace nnscope::ui {

class StepWorker;
struct StepBatch;

class StepController : public QObject {
    Q_OBJECT
  public:
    explicit StepController(ModelLock& lock, QObject* parent = nullptr);
    ~StepController() override; // stops the run and joins the worker thread

    // A new engine for `model` (after an open, a new input shape): steps count from 0.
    // False, with error() saying why, for a model that cannot step (inspect-only).
    // `optimizer`: "" for forward passes only, else a make_optimizer() spec.
    // `why_not`: the document's reason when the model cannot run (not_runnable_summary).
    bool rebuild(ModulePtr model, const InputGeneratorOptions& options,
                 const std::string& optimizer, double input_std, double input_drift,
                 const std::string& why_not = {});
    // No engine: nothing steps (a model that cannot, an input shape that does not parse).
    void clear();
    StepEngine* engine() const { return m_engine.get(); }
    const QString& error() const { return m_error; }

    // The model's parameters changed identity or device (a load, a move): the engine
    // rebuilds its optimizer.
    void model_changed();
    // Optimizer steps on ("sgd:lr=0.05,...") or off (""); throws on a bad spec. Stops a run.
    void set_optimizer(const std::string& spec);
    void set_input_distribution(double std, double drift);
    void set_rate(double steps_per_second); // 0 = as fast as possible
    void set_watches(const QStringList& names);

    void start();     // runs until stop()
    void stop();      // pauses a run and waits (up to 10 s) for the worker to finish it
    void step(int n); // runs n steps at full speed and waits for them
    bool is_running() const { return m_running; }
    int64_t steps_done() const { return m_steps_done; }

  signals:
    // A slice of steps: samples for the plots, or an error or note (the run then stops).
    void progressed(const std::shared_ptr<nnscope::ui::StepBatch>& batch);
    void started();
    void finished();

  private:
    void run_worker(qint64 count);

    ModelLock& m_lock;
    QThread m_thread;
    StepWorker* m_worker = nullptr;
    std::shared_ptr<StepEngine> m_engine;
    QString m_error;
    bool m_running = false;
    int64_t m_steps_done = 0;
    double m_rate = 100;
};

} // namespace nnscope::ui
