// device_actions.cpp: model.to(device) and moving one tensor, with the what-moved message.
#include "main_window.h"
#include "step_controller.h"

#include <QStatusBar>
#include <set>

#include "byte_text.h"
#include "layers/layers.h"
#include "model_facts.h"
#include "module_tree_model.h"
#include "step_engine.h"

namespace nnscope::ui {

bool MainWindow::move_model_to(const QString& device) {
    if (!m_doc.root) return false;
    stop_running();
    UiLock lock(m_lock);
    try {
        const Device target = Device::parse(device.toStdString());
        int params = 0, buffers = 0;
        uint64_t bytes = 0;
        QStringList stayed;
        std::set<const TensorImpl*> seen;
        for (const auto& e : m_doc.root->tensor_entries()) {
            if (!seen.insert(e.tensor.impl()).second) continue;
            if (e.kind == TensorKind::Attribute) {
                stayed << QString("attribute %1 stayed on %2")
                              .arg(QString::fromStdString(e.name),
                                   QString::fromStdString(e.tensor.device().str()));
                continue;
            }
            if (e.tensor.device() == target) continue;
            (e.kind == TensorKind::Parameter ? params : buffers)++;
            bytes += e.tensor.nbytes();
        }
        m_doc.root->to(target);
        m_stepper->model_changed();
        QString msg = QString("model.to('%1'): moved %2 parameters and %3 buffers (%4) to %1")
                          .arg(device)
                          .arg(params)
                          .arg(buffers)
                          .arg(kib(bytes));
        if (!stayed.isEmpty()) msg += "; " + stayed.join("; ");
        log(msg);
        statusBar()->showMessage(msg, 10000);
        m_model->refresh();
        refresh_selection();
        update_totals();
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::move_tensor_to(const QString& tensor, const QString& device) {
    if (tensor.isEmpty() || !m_doc.root) return false;
    stop_running();
    bool moved = false;
    {
        UiLock lock(m_lock);
        try {
            const Device target = Device::parse(device.toStdString());
            if (auto e = find_tensor_entry(*m_doc.root, tensor.toStdString())) {
                // tensor.to(device) is a copy; assigning it back moves this one slot.
                e->owner->set_attr(
                    e->local_name,
                    e->kind == TensorKind::Parameter
                        ? make_parameter(e->tensor.to(target).detach(), e->tensor.requires_grad())
                        : e->tensor.to(target));
                log(QString("model.%1 = model.%1.to('%2')").arg(tensor, device));
                moved = true;
            }
            m_stepper->model_changed();
        } catch (const std::exception& e) {
            report_error(QString::fromStdString(e.what()));
        }
    }
    m_model->refresh();
    refresh_selection();
    update_totals();
    return moved;
}

} // namespace nnscope::ui
