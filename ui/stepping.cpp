// stepping.cpp: the window's side of stepping: its controls and what they say, the watched
// tensors, the mode and the input generator's settings; the engine, the worker thread and
// the run belong to the StepController (step_controller.h).
#include "main_window.h"
#include "module_tree_model.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSettings>
#include <QStatusBar>

#include "layers/layers.h"
#include "model_facts.h"
#include "plot_panel.h"
#include "program.h"
#include "step_controller.h"
#include "step_engine.h"
#include "step_worker.h"

namespace nnscope::ui {

void MainWindow::rebuild_engine() {
    m_engine_error.clear();
    InputGeneratorOptions options;
    const QString shape_text = m_shape_edit->text().trimmed();
    for (const QString& part :
         shape_text.split(QRegularExpression("[,x\\s\\[\\]()]+"), Qt::SkipEmptyParts)) {
        bool ok = false;
        const qlonglong d = part.toLongLong(&ok);
        if (!ok || d <= 0) {
            m_engine_error = "input shape '" + shape_text +
                             "': expected positive sizes separated by commas, e.g. 8,3,224,224";
            break;
        }
        options.input_shape.push_back(d);
    }
    const std::string optimizer =
        m_training_box->isChecked() ? m_optimizer_box->currentData().toString().toStdString() : "";
    if (!m_engine_error.isEmpty())
        m_stepper->clear(); // nothing steps
    else if (!m_stepper->rebuild(m_doc.root, options, optimizer, m_std_box->value(),
                                 m_drift_box->value(),
                                 not_runnable_summary(not_runnable_modules(m_doc))))
        m_engine_error = m_stepper->error();
    if (StepEngine* engine = m_stepper->engine()) {
        QStringList dims;
        for (int64_t d : engine->inputs().shape()) dims << QString::number(d);
        if (shape_text.isEmpty()) m_shape_edit->setPlaceholderText(dims.join(","));
        log("inputs: " + QString::fromStdString(engine->input_description()));
    }
    const bool can = can_step();
    // An inspect-only model: nothing that steps is enabled, and the status bar says why,
    // naming the modules (until another message replaces it).
    static const QString step_tip = m_step_action->toolTip(), run_tip = m_run_action->toolTip(),
                         train_tip = m_train_action->toolTip();
    const QString why = tr("Inspect-only: %1").arg(m_engine_error);
    m_step_action->setToolTip(can ? step_tip : why);
    m_run_action->setToolTip(can ? run_tip : why);
    m_train_action->setToolTip(can ? train_tip : why);
    m_training_box->setToolTip(can ? tr("forward, MSE loss, backward, optimizer step: "
                                        "parameters change, buffers only through forward")
                                   : why);
    for (QAction* a : {m_step_action, m_run_action, m_train_action}) a->setEnabled(can);
    m_training_box->setEnabled(can);
    m_step_label->setText(can ? tr("step 0") : tr("inspect-only"));
    m_step_label->setToolTip(can ? QString() : why);
    if (!can) {
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
    m_stepper->set_watches(m_plots->watches());
}

bool MainWindow::can_step() const {
    return m_stepper->engine() != nullptr; // null after a failed rebuild (m_engine_error says why)
}

bool MainWindow::is_running() const {
    return m_stepper->is_running();
}

int64_t MainWindow::steps_done() const {
    return m_stepper->steps_done();
}

void MainWindow::set_input_distribution(double std, double drift) {
    if (!can_step()) return;
    m_stepper->set_input_distribution(std, drift);
    log(QString("inputs: normal, std %1, mean drifting by ±%2 over 500 steps").arg(std).arg(drift));
}

void MainWindow::set_rate(double steps_per_second) {
    const int i = m_rate_box->findData(steps_per_second);
    if (i >= 0) m_rate_box->setCurrentIndex(i);
    m_stepper->set_rate(steps_per_second);
}

bool MainWindow::set_input_shape(const QString& text) {
    stop_running();
    m_shape_edit->setText(text.trimmed());
    rebuild_engine();
    if (!can_step()) {
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
    if (auto* sm = dynamic_cast<script::ScriptModule*>(m_doc.root.get());
        sm && sm->program()->traced) {
        const QString msg =
            tr("this traced model's code never reads self.training: it keeps the mode it was "
               "traced in, whatever Train mode says");
        log(msg);
        statusBar()->showMessage(msg, 10000);
    }
    m_train_action->blockSignals(true);
    m_train_action->setChecked(train);
    m_train_action->blockSignals(false);
    if (can_step()) // the mode the next step runs in, not the last step's
        m_step_label->setText(
            tr("step %1 · %2 next").arg(steps_done()).arg(train ? tr("train") : tr("eval")));
    refresh_selection();
}

void MainWindow::set_training_step(bool on) {
    stop_running();
    if (!can_step()) return;
    try {
        const std::string spec =
            on ? m_optimizer_box->currentData().toString().toStdString() : std::string();
        m_stepper->set_optimizer(spec);
        if (on) {
            const Optimizer* optimizer = m_stepper->engine()->optimizer();
            // "sgd:lr=0.05,momentum=0.9" is torch.optim.SGD(..., lr=0.05, momentum=0.9).
            const QString args = QString::fromStdString(spec).section(':', 1).replace(",", ", ");
            log(QString("optimizer = torch.optim.%1(model.parameters(), %2): %3 parameters, no "
                        "buffers")
                    .arg(QString::fromStdString(optimizer->name()), args)
                    .arg(optimizer->params().size()));
        } else {
            log("training steps off: forward passes only");
        }
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
    }
    m_training_box->blockSignals(true);
    m_training_box->setChecked(on);
    m_training_box->blockSignals(false);
}

void MainWindow::start_running() {
    if (can_step()) m_stepper->start();
}

void MainWindow::stop_running() {
    m_stepper->stop();
}

void MainWindow::step_blocking(int n) {
    if (!can_step()) return;
    m_stepper->step(n);
    m_plots->replot_now();
}

void MainWindow::on_progress(const std::shared_ptr<StepBatch>& batch) {
    m_plots->add(*batch);
    if (!batch->outputs.empty()) { // after the first step: the modules' output shapes
        m_model->set_output_shapes(batch->outputs);
        fit_columns(); // the shape column now holds them too
    }
    if (!batch->samples.empty()) {
        const StepSample& last = batch->samples.back();
        QString text =
            tr("step %1 · %2").arg(last.step).arg(last.training ? tr("train") : tr("eval"));
        if (!std::isnan(last.loss)) text += tr(" · loss %1").arg(last.loss, 0, 'g', 4);
        m_step_label->setText(text);
    }
    if (!batch->error.isEmpty())
        report_error("step " + QString::number(m_stepper->steps_done() + 1) + ": " + batch->error);
    if (!batch->note.isEmpty()) {
        log(batch->note);
        statusBar()->showMessage(batch->note, 10000);
    }
}

} // namespace nnscope::ui
