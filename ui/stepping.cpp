// stepping.cpp: the step engine behind the window (forward passes or training steps on the
// worker thread), the watched tensors, the mode and the input generator's settings.
#include "main_window.h"
#include "module_tree_model.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSettings>
#include <QStatusBar>

#include "errors.h"
#include "layers/layers.h"
#include "plot_panel.h"
#include "script/program.h"
#include "step_engine.h"
#include "step_worker.h"

namespace nnscope::ui {

void MainWindow::rebuild_engine() {
    m_engine.reset();
    m_engine_error.clear();
    m_steps_done = 0;
    try {
        InputGeneratorOptions options;
        const QString shape_text = m_shape_edit->text().trimmed();
        if (!shape_text.isEmpty()) {
            for (const QString& part : shape_text.split(QRegularExpression("[,x\\s\\[\\]()]+"), Qt::SkipEmptyParts)) {
                bool ok = false;
                const qlonglong d = part.toLongLong(&ok);
                if (!ok || d <= 0)
                    throw ValueError("input shape '" + shape_text.toStdString() +
                                     "': expected positive sizes separated by commas, e.g. 8,3,224,224");
                options.input_shape.push_back(d);
            }
        }
        m_engine = std::make_shared<StepEngine>(m_doc.root, options);
        if (auto* sm = dynamic_cast<script::ScriptModule*>(m_doc.root.get()))
            sm->program()->limits.cancel = m_worker->stop_flag(); // Pause ends a long step
        {
            const Shape used = m_engine->inputs().shape();
            QStringList dims;
            for (int64_t d : used) dims << QString::number(d);
            if (shape_text.isEmpty()) m_shape_edit->setPlaceholderText(dims.join(","));
        }
        if (m_training_box->isChecked())
            m_engine->set_optimizer(m_optimizer_box->currentData().toString().toStdString());
        m_engine->inputs().set_distribution(m_std_box->value(), m_drift_box->value(), 500);
        m_worker->set_engine(m_engine, m_doc.root);
        log("inputs: " + QString::fromStdString(m_engine->input_description()));
    } catch (const std::exception& e) {
        m_engine_error = QString::fromStdString(e.what());
        m_worker->set_engine(nullptr, m_doc.root);
    }
    // An inspect-only model: nothing that steps is enabled, and the status bar says why,
    // naming the modules (until another message replaces it).
    static const QString step_tip = m_step_action->toolTip(), run_tip = m_run_action->toolTip(),
                         train_tip = m_train_action->toolTip();
    const QString why = tr("Inspect-only: %1").arg(m_engine_error);
    m_step_action->setToolTip(m_engine ? step_tip : why);
    m_run_action->setToolTip(m_engine ? run_tip : why);
    m_train_action->setToolTip(m_engine ? train_tip : why);
    m_training_box->setToolTip(m_engine ? tr("forward, MSE loss, backward, optimizer step: "
                                             "parameters change, buffers only through forward")
                                        : why);
    for (QAction* a : {m_step_action, m_run_action, m_train_action}) a->setEnabled(m_engine != nullptr);
    m_training_box->setEnabled(m_engine != nullptr);
    m_step_label->setText(m_engine ? tr("step 0") : tr("inspect-only"));
    m_step_label->setToolTip(m_engine ? QString() : why);
    if (!m_engine) {
        log(why);
        statusBar()->showMessage(why);
    } else if (statusBar()->currentMessage().startsWith(tr("Inspect-only: "))) {
        statusBar()->clearMessage();
    }
}

void MainWindow::default_watches() {
    // BatchNorm's running statistics, or else every floating-point buffer (the seed modules').
    QStringList names;
    for (const auto& e : m_doc.root->tensor_entries()) {
        if (e.kind != TensorKind::Buffer) continue;
        const bool stat = e.local_name == "running_mean" || e.local_name == "running_var";
        if (stat) names << QString::fromStdString(e.name);
    }
    if (names.isEmpty())
        for (const auto& e : m_doc.root->tensor_entries())
            if (e.kind == TensorKind::Buffer && e.tensor.numel() <= 1000)
                names << QString::fromStdString(e.name);
    while (names.size() > 6) names.removeLast();
    m_plots->set_watches({}, {});
    for (const auto& n : names) watch(n);
    if (names.isEmpty()) push_watches();
}

QStringList MainWindow::watches() const {
    return m_plots->watches();
}

void MainWindow::watch(const QString& name) {
    QStringList names = m_plots->watches();
    if (names.contains(name)) return;
    names << name;
    set_watch_list(names);
    log("watching " + name);
}

void MainWindow::unwatch(const QString& name) {
    QStringList names = m_plots->watches();
    if (!names.removeOne(name)) return;
    set_watch_list(names);
}

void MainWindow::set_watch_list(const QStringList& names) {
    if (!m_doc.root) return;
    stop_running();
    std::vector<bool> band; // large tensors are plotted as mean in a min-max band
    {
        UiLock lock(m_lock);
        for (const QString& n : names) {
            int64_t numel = 0;
            for (const auto& e : m_doc.root->tensor_entries())
                if (QString::fromStdString(e.name) == n) numel = e.tensor.numel();
            band.push_back(numel > k_watch_elements);
        }
    }
    m_plots->set_watches(names, band);
    push_watches();
}

void MainWindow::push_watches() {
    m_worker->set_watches(m_plots->watches());
}

bool MainWindow::can_step() const {
    return m_engine != nullptr;
}

void MainWindow::set_input_distribution(double std, double drift) {
    if (!m_engine) return;
    UiLock lock(m_lock); // the worker reads the generator between our slices
    m_engine->inputs().set_distribution(std, drift, 500);
    log(QString("inputs: normal, std %1, mean drifting by ±%2 over 500 steps").arg(std).arg(drift));
}

void MainWindow::set_rate(double steps_per_second) {
    const int i = m_rate_box->findData(steps_per_second);
    if (i >= 0) m_rate_box->setCurrentIndex(i);
    m_worker->set_rate(steps_per_second);
}

bool MainWindow::set_input_shape(const QString& text) {
    stop_running();
    m_shape_edit->setText(text.trimmed());
    rebuild_engine();
    if (!m_engine) {
        report_error(m_engine_error);
        return false;
    }
    QSettings().setValue("input_shape/" + QString::fromStdString(m_doc.path), text.trimmed());
    return true;
}

void MainWindow::set_training_mode(bool train) {
    if (!m_doc.root) return;
    stop_running();
    {
        UiLock lock(m_lock);
        m_doc.root->train(train);
    }
    log(train ? "model.train()"
              : "model.eval(): BatchNorm now uses its running statistics and stops updating them");
    if (auto* sm = dynamic_cast<script::ScriptModule*>(m_doc.root.get()); sm && sm->program()->traced) {
        const QString msg = tr("this traced model's code never reads self.training: it keeps the mode it was "
                               "traced in, whatever Train mode says");
        log(msg);
        statusBar()->showMessage(msg, 10000);
    }
    m_train_action->blockSignals(true);
    m_train_action->setChecked(train);
    m_train_action->blockSignals(false);
    refresh_selection();
}

void MainWindow::set_training_step(bool on) {
    stop_running();
    if (!m_engine) return;
    UiLock lock(m_lock);
    try {
        const std::string spec =
            on ? m_optimizer_box->currentData().toString().toStdString() : std::string();
        m_engine->set_optimizer(spec);
        if (on)
        {
            // "sgd:lr=0.05,momentum=0.9" is torch.optim.SGD(..., lr=0.05, momentum=0.9).
            const QString args = QString::fromStdString(spec).section(':', 1).replace(",", ", ");
            log(QString("optimizer = torch.optim.%1(model.parameters(), %2): %3 parameters, no "
                        "buffers")
                    .arg(QString::fromStdString(m_engine->optimizer()->name()), args)
                    .arg(m_engine->optimizer()->params().size()));
        }
        else
            log("training steps off: forward passes only");
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
    }
    m_training_box->blockSignals(true);
    m_training_box->setChecked(on);
    m_training_box->blockSignals(false);
}

void MainWindow::start_running() {
    if (!m_engine || m_stepping) return;
    m_stepping = true;
    m_run_action->setText(tr("Pause"));
    QMetaObject::invokeMethod(m_worker, "run", Qt::QueuedConnection, Q_ARG(qint64, 0));
}

void MainWindow::stop_running() {
    if (!m_stepping) return;
    m_worker->request_stop();
    QElapsedTimer t;
    t.start();
    while (m_stepping && t.elapsed() < 10000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
}

void MainWindow::step_blocking(int n) {
    if (!m_engine || n <= 0) return;
    stop_running();
    const double rate = m_rate_box->currentData().toDouble();
    m_worker->set_rate(0);
    m_stepping = true;
    QMetaObject::invokeMethod(m_worker, "run", Qt::QueuedConnection, Q_ARG(qint64, qint64(n)));
    QElapsedTimer t;
    t.start();
    while (m_stepping && t.elapsed() < 600000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    m_worker->set_rate(rate);
    m_plots->replot_now();
}

void MainWindow::on_progress(const std::shared_ptr<StepBatch>& batch) {
    m_plots->add(*batch);
    if (!batch->samples.empty() && !m_outputs_shown) { // the first step's output shapes
        m_outputs_shown = true;
        m_model->refresh();
        fit_columns(); // the shape column now holds the modules' output shapes too
    }
    if (!batch->samples.empty()) {
        const StepSample& last = batch->samples.back();
        m_steps_done = last.step;
        QString text =
            tr("step %1 · %2").arg(last.step).arg(last.training ? tr("train") : tr("eval"));
        if (!std::isnan(last.loss)) text += tr(" · loss %1").arg(last.loss, 0, 'g', 4);
        m_step_label->setText(text);
    }
    if (!batch->error.isEmpty())
        report_error("step " + QString::number(m_steps_done + 1) + ": " + batch->error);
    if (!batch->note.isEmpty()) {
        log(batch->note);
        statusBar()->showMessage(batch->note, 10000);
    }
}

} // namespace nnscope::ui
