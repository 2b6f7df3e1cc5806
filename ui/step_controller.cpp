// step_controller.cpp: the engine, the worker thread and the run's state behind the window.
#include "step_controller.h"

#include <QCoreApplication>
#include <QElapsedTimer>

#include "program.h"
#include "step_engine.h"
#include "step_worker.h"

namespace nnscope::ui {

StepController::StepController(ModelLock& lock, QObject* parent) : QObject(parent), m_lock(lock) {
    m_worker = new StepWorker(m_lock);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &StepWorker::progressed, this, [this](std::shared_ptr<StepBatch> b) {
        if (!b->samples.empty()) m_steps_done = b->samples.back().step;
        emit progressed(b);
    });
    connect(m_worker, &StepWorker::finished, this, [this] {
        m_running = false;
        emit finished();
    });
    m_worker->set_rate(m_rate);
    m_thread.start();
}

StepController::~StepController() {
    if (m_running) m_worker->request_stop();
    m_thread.quit();
    m_thread.wait();
}

bool StepController::rebuild(ModulePtr model, const InputGeneratorOptions& options,
                             const std::string& optimizer, double input_std, double input_drift,
                             const std::string& why_not) {
    stop();
    m_engine.reset();
    m_error.clear();
    m_steps_done = 0;
    try {
        auto engine = std::make_shared<StepEngine>(model, options, why_not);
        if (auto* sm = dynamic_cast<script::ScriptModule*>(model.get()))
            sm->program()->limits.cancel = m_worker->stop_flag(); // Pause ends a long step
        if (!optimizer.empty()) engine->set_optimizer(optimizer);
        engine->inputs().set_distribution(input_std, input_drift, 500);
        m_engine = std::move(engine);
    } catch (const std::exception& e) {
        m_error = QString::fromStdString(e.what());
    }
    m_worker->set_engine(m_engine, model);
    return m_engine != nullptr;
}

void StepController::clear() {
    stop();
    m_engine.reset();
    m_steps_done = 0;
    m_worker->set_engine(nullptr, nullptr);
}

void StepController::model_changed() {
    if (m_engine) m_engine->model_changed();
}

void StepController::set_optimizer(const std::string& spec) {
    stop();
    if (!m_engine) return;
    UiLock lock(m_lock);
    m_engine->set_optimizer(spec);
}

void StepController::set_input_distribution(double std, double drift) {
    if (!m_engine) return;
    UiLock lock(m_lock); // the worker reads the generator between its slices
    m_engine->inputs().set_distribution(std, drift, 500);
}

void StepController::set_rate(double steps_per_second) {
    m_rate = steps_per_second;
    m_worker->set_rate(steps_per_second);
}

void StepController::set_watches(const QStringList& names) {
    stop();
    m_worker->set_watches(names);
}

void StepController::run_worker(qint64 count) {
    m_running = true;
    emit started();
    QMetaObject::invokeMethod(m_worker, "run", Qt::QueuedConnection, Q_ARG(qint64, count));
}

void StepController::start() {
    if (!m_engine || m_running) return;
    run_worker(0);
}

void StepController::stop() {
    if (!m_running) return;
    m_worker->request_stop();
    QElapsedTimer t;
    t.start();
    while (m_running && t.elapsed() < 10000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
}

void StepController::step(int n) {
    if (!m_engine || n <= 0) return;
    stop();
    m_worker->set_rate(0);
    run_worker(n);
    QElapsedTimer t;
    t.start();
    while (m_running && t.elapsed() < 600000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    m_worker->set_rate(m_rate);
}

} // namespace nnscope::ui
