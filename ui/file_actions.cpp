// file_actions.cpp: opening models (on a pool thread, cancellable), recent files, saving and
// loading state dicts, diffs and step inputs from files. A failed open, load or save changes
// nothing and says why.
#include "main_window.h"
#include "step_controller.h"

#include <QApplication>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QMenu>
#include <QProgressDialog>
#include <QRegularExpression>
#include <QSettings>
#include <QStatusBar>
#include <QtConcurrent/QtConcurrentRun>

#include "diff_dialog.h"
#include "errors.h"
#include "examples.h"
#include "model_facts.h"
#include "module_tree_model.h"
#include "state_diff.h"
#include "step_engine.h"

namespace nnscope::ui {

QString with_filter_suffix(const QString& path, const QString& filter) {
    if (!QFileInfo(path).suffix().isEmpty()) return path;
    const QRegularExpressionMatch m = QRegularExpression("\\*\\.([\\w.]+)").match(filter);
    return m.hasMatch() ? path + "." + m.captured(1) : path;
}

QStringList MainWindow::recent_files() const {
    return QSettings().value("recent").toStringList();
}

void MainWindow::remember(const QString& path) {
    QSettings settings;
    QStringList recent = settings.value("recent").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 8) recent.removeLast();
    settings.setValue("recent", recent);
    rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
    if (!m_recent_menu) return;
    m_recent_menu->clear();
    for (const QString& path : recent_files())
        m_recent_menu->addAction(path, this, [this, path] { open_path_async(path); });
    m_recent_menu->setEnabled(!m_recent_menu->isEmpty());
}

bool MainWindow::open_path(const QString& path) {
    try {
        Document doc = open_document(path.toStdString());
        stop_running();
        set_document(std::move(doc), "opened " + path);
        remember(path);
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

void MainWindow::open_path_async(const QString& path) {
    // Reading runs on a pool thread; past 300 ms a progress dialog offers Cancel, which
    // abandons the result (the model shown stays as it was).
    auto* watcher = new QFutureWatcher<std::shared_ptr<Document>>(this);
    auto error = std::make_shared<QString>();
    auto* progress = new QProgressDialog(tr("Opening %1…").arg(QFileInfo(path).fileName()),
                                         tr("Cancel"), 0, 0, this);
    progress->setMinimumDuration(300);
    progress->setWindowModality(Qt::WindowModal);
    auto cancelled = std::make_shared<bool>(false);
    connect(progress, &QProgressDialog::canceled, this, [this, cancelled, path] {
        *cancelled = true;
        log("cancelled opening " + path);
    });
    connect(watcher, &QFutureWatcher<std::shared_ptr<Document>>::finished, this,
            [this, watcher, progress, error, cancelled, path] {
                // Gone now, not later: an error box opened below runs its own event loop,
                // which would not delete it, and its timer would show it over the box.
                progress->disconnect(this);
                delete progress;
                watcher->deleteLater();
                if (*cancelled) return;
                std::shared_ptr<Document> doc = watcher->result();
                if (!doc) {
                    report_error(*error);
                    return;
                }
                stop_running();
                set_document(std::move(*doc), "opened " + path);
                remember(path);
            });
    watcher->setFuture(QtConcurrent::run([path, error]() -> std::shared_ptr<Document> {
        try {
            return std::make_shared<Document>(open_document(path.toStdString()));
        } catch (const std::exception& e) {
            *error = QString::fromStdString(e.what());
            return nullptr;
        }
    }));
}

bool MainWindow::open_builtin_example(const QString& name) {
    try {
        Document doc = open_example(name.toStdString());
        stop_running();
        set_document(std::move(doc), "opened example " + name);
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::save_state_dict_to(const QString& path) {
    if (!m_doc.root) return false;
    stop_running();
    UiLock lock(m_lock);
    try {
        save_document_state(m_doc, path.toStdString());
        const bool safetensors = path.endsWith(".safetensors", Qt::CaseInsensitive);
        log(QString(safetensors
                        ? "safetensors.torch.save_file(model.state_dict(), '%1'): %2 tensors"
                        : "torch.save(model.state_dict(), '%1'): %2 tensors")
                .arg(path)
                .arg(m_doc.root->state_dict().tensors.size()));
        m_save_path = path;
        statusBar()->showMessage(tr("Saved state dict to %1").arg(path), 5000);
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::load_state_dict_from(const QString& path, bool strict) {
    if (!m_doc.root) return false;
    stop_running();
    UiLock lock(m_lock);
    const QString call =
        QString("model.load_state_dict(sd, strict=%1)").arg(strict ? "True" : "False");
    try {
        Document sd = open_document(path.toStdString());
        const StateDict incoming = sd.root->state_dict();
        LoadResult r = m_doc.root->load_state_dict(incoming, strict);
        log(call + ": " + QString::fromStdString(load_result_text(r)));
        // strict=False that matched nothing loaded nothing: say so, it is rarely meant.
        if (!strict && r.unexpected_keys.size() == incoming.tensors.size() &&
            !incoming.tensors.empty()) {
            const QString warning =
                tr("warning: no key of %1 matched the model: nothing was loaded").arg(path);
            log(warning);
            statusBar()->showMessage(warning, 10000);
        }
        m_stepper->model_changed();
        m_model->refresh();
        refresh_selection();
        return true;
    } catch (const std::exception& e) {
        report_error(call + " failed, the model is unchanged: " + QString::fromStdString(e.what()));
        return false;
    }
}

DiffDialog* MainWindow::diff_with(const QString& path) {
    if (!m_doc.root) return nullptr;
    stop_running();
    try {
        Document other = open_document(path.toStdString());
        StateDiff d;
        {
            UiLock lock(m_lock);
            d = diff_state_dicts(m_doc.root->state_dict(), other.root->state_dict());
        }
        auto* dialog = new DiffDialog(d, tr("model"), QFileInfo(path).fileName(), this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        if (QApplication::platformName() != "offscreen") dialog->show();
        log(QString("diff with %1: %2 difference(s)").arg(path).arg(d.differences));
        return dialog;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return nullptr;
    }
}

bool MainWindow::use_inputs_from(const QString& path) {
    if (!can_step()) {
        report_error(tr("this model cannot step: %1").arg(m_engine_error));
        return false;
    }
    stop_running();
    try {
        Document doc = open_document(path.toStdString());
        Tensor xs, ys;
        for (const auto& e : doc.root->tensor_entries()) {
            if (e.name == "x") xs = e.tensor;
            if (e.name == "y") ys = e.tensor;
        }
        if (!xs.defined())
            throw nnscope::FormatError(
                path.toStdString(), "no tensor named 'x' (inputs are x [steps, ...], targets y)");
        UiLock lock(m_lock);
        const std::string what = "inputs x" + shape_str(xs.shape()) +
                                 (ys.defined() ? ", targets y" + shape_str(ys.shape()) : "") +
                                 " from " + path.toStdString();
        m_stepper->engine()->inputs().use_file_inputs(xs, ys, what);
        log("inputs: " + QString::fromStdString(what));
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

} // namespace nnscope::ui
