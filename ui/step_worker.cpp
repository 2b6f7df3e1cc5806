// step_worker.cpp: slices of steps under the model lock, samples out by signal.
#include "step_worker.h"

#include <QElapsedTimer>
#include <QThread>
#include <cmath>

namespace nnscope::ui {

StepWorker::StepWorker(std::recursive_mutex& model_mutex, QObject* parent) : QObject(parent), m_mutex(model_mutex) {
    qRegisterMetaType<std::shared_ptr<nnscope::ui::StepBatch>>();
}

void StepWorker::set_engine(std::shared_ptr<StepEngine> engine, ModulePtr model) {
    m_engine = std::move(engine);
    m_model = std::move(model);
}

void StepWorker::set_watches(const QStringList& names) {
    m_watches.clear();
    for (const auto& n : names) m_watches.push_back(n.toStdString());
}

void StepWorker::set_rate(double steps_per_second) { m_rate = steps_per_second; }

StepSample StepWorker::sample(const StepEngine::Result& r) {
    StepSample s;
    s.step = r.step;
    s.training = m_model->is_training();
    s.loss = r.loss;
    // Watched tensors are looked up by name each step: forward passes may replace a
    // buffer's tensor (the seed's running_average = ...).
    for (const auto& name : m_watches) {
        Tensor t;
        for (const auto& e : m_model->tensor_entries())
            if (e.name == name) {
                t = e.tensor;
                break;
            }
        s.watches.push_back(watch_sample(t));
    }
    return s;
}

void StepWorker::run(qint64 count) {
    m_stop = false;
    m_running = true;
    QElapsedTimer since_start;
    since_start.start();
    qint64 done = 0;
    while (!m_stop && (count <= 0 || done < count)) {
        auto batch = std::make_shared<StepBatch>();
        {
            // One slice: at most ~8 ms with the lock held, then the UI gets a turn.
            std::lock_guard lock(m_mutex);
            QElapsedTimer slice;
            slice.start();
            try {
                while (!m_stop && (count <= 0 || done < count) && slice.elapsed() < 8) {
                    batch->samples.push_back(sample(m_engine->step()));
                    ++done;
                    if (m_rate > 0) break; // rate-limited: one step per slice
                }
            } catch (const std::exception& e) {
                batch->error = QString::fromStdString(e.what());
                m_stop = true;
            }
        }
        emit progressed(batch);
        const double rate = m_rate;
        if (rate > 0 && !m_stop) {
            // Sleep until the next step is due.
            const double due_ms = 1000.0 * double(done) / rate;
            const qint64 wait = qint64(due_ms) - since_start.elapsed();
            if (wait > 0) QThread::msleep(quint64(std::min<qint64>(wait, 1000)));
        }
    }
    m_running = false;
    emit finished();
}

} // namespace nnscope::ui
