// step_worker.cpp: slices of steps under the model lock, samples out by signal.
#include "step_worker.h"

#include <QElapsedTimer>
#include <QThread>
#include <cmath>

namespace nnscope::ui {

StepWorker::StepWorker(ModelLock& lock, QObject* parent) : QObject(parent), m_lock(lock) {
    qRegisterMetaType<std::shared_ptr<nnscope::ui::StepBatch>>();
}

void StepWorker::set_engine(std::shared_ptr<StepEngine> engine, ModulePtr model) {
    m_engine = std::move(engine);
    m_model = std::move(model);
    m_outputs_sent = false;
    resolve_watches();
}

void StepWorker::set_watches(const QStringList& names) {
    m_watches.clear();
    for (const auto& n : names) m_watches.push_back(n.toStdString());
    resolve_watches();
}

void StepWorker::resolve_watches() {
    m_slots.assign(m_watches.size(), Slot{});
    if (!m_model) return;
    for (const auto& e : m_model->tensor_entries())
        for (size_t i = 0; i < m_watches.size(); ++i)
            if (e.name == m_watches[i]) m_slots[i] = {e.owner, e.local_name, e.kind};
}

void StepWorker::set_rate(double steps_per_second) {
    m_rate = steps_per_second;
}

StepSample StepWorker::sample(const StepEngine::Result& r) {
    StepSample s;
    s.step = r.step;
    s.training = m_model->is_training();
    s.loss = r.loss;
    for (const Slot& slot : m_slots) {
        Tensor t;
        if (slot.owner) {
            const OrderedDict<Tensor>& d =
                slot.kind == TensorKind::Parameter ? slot.owner->own_parameters()
                : slot.kind == TensorKind::Buffer  ? slot.owner->own_buffers()
                                                   : slot.owner->own_attributes();
            if (const Tensor* found = d.find(slot.name)) t = *found;
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
            std::lock_guard lock(m_lock.mutex);
            QElapsedTimer slice;
            slice.start();
            try {
                while (!m_stop && (count <= 0 || done < count) && slice.elapsed() < 8) {
                    batch->samples.push_back(sample(m_engine->step()));
                    ++done;
                    if (m_rate > 0) break; // rate-limited: one step per slice
                }
            } catch (const NonFiniteLoss& e) {
                // Training diverged: the run pauses and says why (not an error box).
                batch->note = tr("paused: %1").arg(QString::fromStdString(e.what()));
                m_stop = true;
            } catch (const std::exception& e) {
                // A step that Pause interrupted was undone (ScriptModule::call): not an error.
                if (m_stop)
                    batch->note = tr("paused during a step: that step was undone");
                else
                    batch->error = QString::fromStdString(e.what());
                m_stop = true;
            }
            if (!m_outputs_sent && !batch->samples.empty()) {
                for (const auto& [name, m] : m_model->named_modules())
                    if (!m->output_shapes().empty())
                        batch->outputs.emplace_back(name, m->output_shapes());
                m_outputs_sent = true;
            }
        }
        emit progressed(batch);
        m_lock.yield_to_ui(); // a UI thread waiting for the model goes first
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
