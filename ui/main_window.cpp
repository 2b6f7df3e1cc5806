// main_window.cpp: layout, actions and the glue between the step worker, the model and the
// views. Every action catches the core's exceptions and reports them in the log and a
// message; a failed open, load or save changes nothing.
#include "main_window.h"

#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressDialog>
#include <QRegularExpression>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QToolBar>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>
#include <set>

#include "autograd.h"
#include "diff_dialog.h"
#include "errors.h"
#include "examples.h"
#include "inspector_panel.h"
#include "layers/layers.h"
#include "module_tree_model.h"
#include "plot_panel.h"
#include "script/program.h"
#include "state_diff.h"
#include "step_engine.h"
#include "step_worker.h"
#include "tensor_kind_style.h"

namespace nnscope::ui {

namespace {
QString kib(uint64_t bytes) {
    if (bytes < 1024) return QString::number(bytes) + " B";
    if (bytes < 1024 * 1024) return QString::number(double(bytes) / 1024.0, 'f', 1) + " KiB";
    return QString::number(double(bytes) / (1024.0 * 1024.0), 'f', 1) + " MiB";
}
} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("nnscope"));
    resize(1400, 880);

    m_model = new ModuleTreeModel(this);
    m_model->set_model_lock(&m_lock);
    m_filter = new ModuleTreeFilter(this);
    m_filter->setSourceModel(m_model);

    auto* left = new QWidget(this);
    auto* left_layout = new QVBoxLayout(left);
    left_layout->setContentsMargins(4, 4, 4, 4);
    m_filter_edit = new QLineEdit(left);
    m_filter_edit->setPlaceholderText(tr("Filter by name (e.g. running_)"));
    m_filter_edit->setClearButtonEnabled(true);
    connect(m_filter_edit, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_filter->setFilterFixedString(text);
        if (!text.isEmpty()) m_tree->expandAll();
    });
    m_tree = new QTreeView(left);
    m_tree->setModel(m_filter);
    m_tree->setUniformRowHeights(true); // large trees stay fast
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setStretchLastSection(false);
    const int widths[] = {190, 160, 75, 65, 50, 65, 90, 95};
    for (int c = 0; c < 8; ++c) m_tree->setColumnWidth(c, widths[c]);
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { on_selection(current); });
    connect(m_tree, &QTreeView::doubleClicked, this, [this](const QModelIndex& idx) {
        QModelIndex src = m_filter->mapToSource(idx);
        if (src.data(ModuleTreeModel::IsTensorRole).toBool()) watch(m_model->full_name(src));
    });
    left_layout->addWidget(m_filter_edit);
    left_layout->addWidget(make_legend());
    left_layout->addWidget(m_tree, 1);

    // Right: plots and inspector in tabs above, lesson and log below.
    auto* right = new QSplitter(Qt::Vertical, this);
    auto* tabs = new QTabWidget(right);
    m_plots = new PlotPanel(tabs);
    m_inspector = new InspectorPanel(tabs);
    tabs->addTab(m_plots, tr("Plots"));
    tabs->addTab(m_inspector, tr("Inspector"));
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, tabs, [tabs, this] {
        if (!m_stepping) tabs->setCurrentWidget(m_inspector);
    });
    auto* bottom = new QTabWidget(right);
    m_lesson = new QTextBrowser(bottom);
    m_log = new QPlainTextEdit(bottom);
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(5000);
    bottom->addTab(m_lesson, tr("Lesson"));
    bottom->addTab(m_log, tr("Log"));
    right->addWidget(tabs);
    right->addWidget(bottom);
    right->setSizes({620, 180});

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setSizes({760, 640});
    setCentralWidget(split);

    m_totals = new QLabel(this);
    m_step_label = new QLabel(this);
    statusBar()->addPermanentWidget(m_totals, 1);
    statusBar()->addPermanentWidget(m_step_label);

    m_worker = new StepWorker(m_lock);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &StepWorker::progressed, this,
            [this](std::shared_ptr<StepBatch> b) { on_progress(b); });
    connect(m_worker, &StepWorker::finished, this, [this] {
        m_stepping = false;
        if (m_run_action) m_run_action->setText(tr("Run"));
        refresh_selection();
        update_totals();
    });
    m_thread.start();

    make_toolbar();
    make_menus();
    setAcceptDrops(true);
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    apply_plot_palette();
}

void MainWindow::apply_plot_palette() {
    // A dark system palette gets dark plots.
    m_plots->set_dark(palette().color(QPalette::Window).lightness() < 128);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    stop_running();
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) open_path_async(urls.first().toLocalFile());
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

bool MainWindow::use_inputs_from(const QString& path) {
    if (!m_engine) {
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
        m_engine->inputs().use_file_inputs(xs, ys, what);
        log("inputs: " + QString::fromStdString(what));
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
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

MainWindow::~MainWindow() {
    stop_running();
    m_thread.quit();
    m_thread.wait();
}

// --- layout pieces ----------------------------------------------------------------------------

QWidget* MainWindow::make_legend() {
    // The legend is also the kind filter: unticking a kind hides its rows.
    auto* w = new QWidget(this);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    for (SlotStyle s : {SlotStyle::Parameter, SlotStyle::Buffer, SlotStyle::NonPersistentBuffer,
                        SlotStyle::Attribute}) {
        auto* box = new QCheckBox(style_label(s), w);
        box->setIcon(style_icon(s));
        box->setChecked(true);
        box->setObjectName(QStringLiteral("legend_") + QString::number(int(s)));
        connect(box, &QCheckBox::toggled, this,
                [this, s](bool on) { m_filter->set_style_visible(s, on); });
        l->addWidget(box);
    }
    l->addStretch(1);
    return w;
}

void MainWindow::make_toolbar() {
    QToolBar* bar = addToolBar(tr("Stepping"));
    bar->setObjectName("stepping");
    m_step_action = bar->addAction(tr("Step"), this, [this] { step_blocking(1); });
    m_step_action->setShortcut(QKeySequence(Qt::Key_F10));
    m_step_action->setToolTip(
        tr("One step (F10): a forward pass, or a training step when enabled"));
    m_run_action =
        bar->addAction(tr("Run"), this, [this] { m_stepping ? stop_running() : start_running(); });
    m_run_action->setShortcut(QKeySequence(Qt::Key_F5));
    m_run_action->setToolTip(tr("Run / Pause (F5)"));
    m_rate_box = new QComboBox(bar);
    m_rate_box->setObjectName("rate");
    m_rate_box->addItem(tr("10 steps/s"), 10.0);
    m_rate_box->addItem(tr("100 steps/s"), 100.0);
    m_rate_box->addItem(tr("as fast as possible"), 0.0);
    m_rate_box->setCurrentIndex(1);
    connect(m_rate_box, &QComboBox::currentIndexChanged, this,
            [this] { m_worker->set_rate(m_rate_box->currentData().toDouble()); });
    m_worker->set_rate(100.0);
    bar->addWidget(m_rate_box);
    bar->addSeparator();
    m_train_action = bar->addAction(tr("Train mode"));
    m_train_action->setCheckable(true);
    m_train_action->setChecked(true);
    m_train_action->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_train_action->setToolTip(tr("model.train() when checked, model.eval() when not (Ctrl+E)"));
    connect(m_train_action, &QAction::toggled, this, [this](bool on) { set_training_mode(on); });
    bar->addSeparator();
    m_training_box = new QCheckBox(tr("Training step"), bar);
    m_training_box->setToolTip(tr("forward, MSE loss, backward, optimizer step: parameters change, "
                                  "buffers only through forward"));
    connect(m_training_box, &QCheckBox::toggled, this, [this](bool on) { set_training_step(on); });
    bar->addWidget(m_training_box);
    m_optimizer_box = new QComboBox(bar);
    m_optimizer_box->addItem("SGD lr=0.05 momentum=0.9", "sgd:lr=0.05,momentum=0.9");
    m_optimizer_box->addItem("SGD lr=0.01", "sgd:lr=0.01");
    m_optimizer_box->addItem("Adam lr=1e-3", "adam:lr=1e-3");
    m_optimizer_box->addItem("Adam lr=1e-2", "adam:lr=1e-2");
    connect(m_optimizer_box, &QComboBox::currentIndexChanged, this, [this] {
        if (m_training_box->isChecked()) set_training_step(true);
    });
    bar->addWidget(m_optimizer_box);
    bar->addSeparator();
    // Input generator: noise std and the amplitude of the drifting mean.
    auto* inputs = addToolBar(tr("Inputs"));
    inputs->setObjectName("inputs");
    inputs->addWidget(new QLabel(tr(" input std "), inputs));
    m_std_box = new QDoubleSpinBox(inputs);
    m_std_box->setRange(0, 100);
    m_std_box->setSingleStep(0.1);
    m_std_box->setValue(1.0);
    inputs->addWidget(m_std_box);
    inputs->addWidget(new QLabel(tr(" mean drift "), inputs));
    m_drift_box = new QDoubleSpinBox(inputs);
    m_drift_box->setRange(0, 100);
    m_drift_box->setSingleStep(0.5);
    m_drift_box->setValue(2.0);
    m_drift_box->setToolTip(
        tr("amplitude of the slow sine drift of every feature's mean (period 500 steps)"));
    inputs->addWidget(m_drift_box);
    auto apply_inputs = [this] {
        set_input_distribution(m_std_box->value(), m_drift_box->value());
    };
    inputs->addWidget(new QLabel(tr(" input shape "), inputs));
    m_shape_edit = new QLineEdit(inputs);
    m_shape_edit->setObjectName("input_shape");
    m_shape_edit->setMaximumWidth(130);
    m_shape_edit->setToolTip(tr("the input's shape, batch first (e.g. 8,3,224,224); empty: from the model's "
                                "first layer. Remembered per file."));
    inputs->addWidget(m_shape_edit);
    connect(m_shape_edit, &QLineEdit::editingFinished, this, [this] {
        if (m_shape_edit->isModified()) set_input_shape(m_shape_edit->text());
        m_shape_edit->setModified(false);
    });
    connect(m_std_box, &QDoubleSpinBox::valueChanged, this, apply_inputs);
    connect(m_drift_box, &QDoubleSpinBox::valueChanged, this, apply_inputs);
    bar->addAction(tr("Reset running stats"), this, [this] {
        stop_running();
        UiLock lock(m_lock);
        NoGradGuard no_grad;
        int n = 0;
        for (auto& [name, m] : m_doc.root->named_modules())
            if (auto* bn = dynamic_cast<BatchNorm*>(m.get())) {
                if (!bn->track_running_stats) continue;
                bn->attr("running_mean").zero_();
                bn->attr("running_var").fill_(Scalar(1.0));
                bn->attr("num_batches_tracked").zero_();
                ++n;
            }
        log(QString("reset_running_stats() on %1 BatchNorm module(s)").arg(n));
        m_plots->clear();
        refresh_selection();
    });
}

void MainWindow::make_menus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open…"), QKeySequence::Open, this, [this] {
        QString path = QFileDialog::getOpenFileName(
            this, tr("Open model"), {},
            tr("Models (*.json *.safetensors *.pt *.pth);;All files (*)"));
        if (!path.isEmpty()) open_path_async(path);
    });
    m_recent_menu = file->addMenu(tr("Open &recent"));
    rebuild_recent_menu();
    QMenu* examples = file->addMenu(tr("Open &example"));
    for (const auto& ex : builtin_examples()) {
        QString name = QString::fromStdString(ex.name);
        examples->addAction(name, this, [this, name] { open_builtin_example(name); });
    }
    file->addAction(tr("&Save state dict"), QKeySequence::Save, this, [this] {
        if (!m_save_path.isEmpty())
            save_state_dict_to(m_save_path);
        else {
            QString path = QFileDialog::getSaveFileName(
                this, tr("Save state dict"), {},
                tr("safetensors (*.safetensors);;PyTorch state dict (*.pt *.pth)"));
            if (!path.isEmpty()) save_state_dict_to(path);
        }
    });
    file->addAction(tr("&Save state dict as…"), QKeySequence::SaveAs, this, [this] {
        QString path = QFileDialog::getSaveFileName(
            this, tr("Save state dict"), {},
            tr("safetensors (*.safetensors);;PyTorch state dict (*.pt *.pth)"));
        if (!path.isEmpty()) save_state_dict_to(path);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);

    QMenu* model = menuBar()->addMenu(tr("&Model"));
    for (bool strict : {true, false})
        model->addAction(strict ? tr("Load state dict (strict)…")
                                : tr("Load state dict (strict=False)…"),
                         this, [this, strict] {
                             QString path = QFileDialog::getOpenFileName(
                                 this, tr("Load state dict"), {},
                                 tr("State dicts (*.safetensors *.pt *.pth);;All files (*)"));
                             if (!path.isEmpty()) load_state_dict_from(path, strict);
                         });
    model->addAction(tr("Diff with file…"), this, [this] {
        QString path = QFileDialog::getOpenFileName(
            this, tr("Diff with"), {},
            tr("State dicts (*.safetensors *.pt *.pth *.json);;All files (*)"));
        if (!path.isEmpty()) diff_with(path);
    });
    model->addAction(tr("Step inputs from file…"), this, [this] {
        QString path =
            QFileDialog::getOpenFileName(this, tr("Inputs (x [steps, ...], optional y)"), {},
                                         tr("Tensors (*.safetensors *.pt *.pth);;All files (*)"));
        if (!path.isEmpty()) use_inputs_from(path);
    });
    model->addSeparator();
    model->addAction(tr("Watch selected tensor"), QKeySequence(tr("W")), this, [this] {
        if (!m_selected.isEmpty()) watch(m_selected);
    });
    model->addAction(tr("Unwatch selected tensor"), this, [this] { unwatch(m_selected); });
    model->addAction(tr("Export plots as PNG…"), this, [this] {
        QString path =
            QFileDialog::getSaveFileName(this, tr("Export plot"), "plot.png", tr("PNG (*.png)"));
        if (!path.isEmpty() && !m_plots->export_png(path))
            report_error(path + ": cannot write the image");
    });
    model->addAction(tr("Export plots as CSV…"), this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Export plot data"), "plot.csv",
                                                    tr("CSV (*.csv)"));
        if (!path.isEmpty() && !m_plots->export_csv(path))
            report_error(path + ": cannot write the file");
    });

    QMenu* devices = menuBar()->addMenu(tr("&Devices"));
    for (const auto& d : list_devices()) {
        QString name = QString::fromStdString(d.name);
        QString label =
            tr("Move model to %1").arg(name) + (d.simulated ? tr(" (simulated)") : QString());
        QAction* a = devices->addAction(label, this, [this, name] { move_model_to(name); });
        a->setEnabled(d.available);
        if (!d.available) a->setToolTip(QString::fromStdString(d.reason));
        a->setStatusTip(d.available ? QString() : name + ": " + QString::fromStdString(d.reason));
    }
    devices->addSeparator();
    QMenu* one = devices->addMenu(tr("Move selected tensor to"));
    for (const auto& d : list_devices()) {
        QString name = QString::fromStdString(d.name);
        QAction* a = one->addAction(name, this, [this, name] { move_tensor_to(m_selected, name); });
        a->setEnabled(d.available);
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
            for (auto& e : m_doc.root->tensor_entries())
                if (QString::fromStdString(e.name) == tensor) {
                    // tensor.to(device) is a copy; assigning it back moves this one slot.
                    e.owner->set_attr(
                        e.local_name,
                        e.kind == TensorKind::Parameter
                            ? make_parameter(e.tensor.to(target).detach(), e.tensor.requires_grad())
                            : e.tensor.to(target));
                    log(QString("model.%1 = model.%1.to('%2')").arg(tensor, device));
                    moved = true;
                    break;
                }
            if (m_engine) m_engine->model_changed();
        } catch (const std::exception& e) {
            report_error(QString::fromStdString(e.what()));
        }
    }
    m_model->refresh();
    refresh_selection();
    update_totals();
    return moved;
}

// --- messages -----------------------------------------------------------------------------------

void MainWindow::log(const QString& line) {
    m_log->appendPlainText(line);
}

QString MainWindow::log_text() const {
    return m_log->toPlainText();
}

void MainWindow::report_error(const QString& what) {
    m_last_error = what;
    log("error: " + what);
    statusBar()->showMessage(what, 10000);
    if (isVisible() && QApplication::platformName() != "offscreen")
        QMessageBox::warning(this, tr("nnscope"), what);
}

// --- documents
// ------------------------------------------------------------------------------------

bool MainWindow::open_path(const QString& path) {
    try {
        Document doc = open_document(path.toStdString());
        stop_running();
        set_document(std::move(doc));
        log("opened " + path);
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
                progress->deleteLater();
                watcher->deleteLater();
                if (*cancelled) return;
                std::shared_ptr<Document> doc = watcher->result();
                if (!doc) {
                    report_error(*error);
                    return;
                }
                stop_running();
                set_document(std::move(*doc));
                log("opened " + path);
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
        set_document(std::move(doc));
        log("opened example " + name);
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
        save_state_dict(*m_doc.root, path.toStdString(), m_doc.metadata);
        log(QString("torch.save(model.state_dict(), '%1'): %2 tensors")
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
        LoadResult r = m_doc.root->load_state_dict(sd.root->state_dict(), strict);
        if (r.missing_keys.empty() && r.unexpected_keys.empty())
            log(call + ": <All keys matched successfully>");
        else {
            auto list = [](const std::vector<std::string>& v) {
                QStringList l;
                for (const auto& s : v) l << "'" + QString::fromStdString(s) + "'";
                return "[" + l.join(", ") + "]";
            };
            log(call + ": _IncompatibleKeys(missing_keys=" + list(r.missing_keys) +
                ", unexpected_keys=" + list(r.unexpected_keys) + ")");
        }
        if (m_engine) m_engine->model_changed();
        m_model->refresh();
        refresh_selection();
        return true;
    } catch (const std::exception& e) {
        report_error(call + " failed, the model is unchanged: " + QString::fromStdString(e.what()));
        return false;
    }
}

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
        if (m_engine) m_engine->model_changed();
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

void MainWindow::set_document(Document doc) {
    {
        UiLock lock(m_lock);
        m_doc = std::move(doc);
        m_model->set_root(m_doc.root);
    }
    m_tree->expandToDepth(1);
    QString title = m_doc.title.empty() ? QString::fromStdString(m_doc.path)
                                        : QString::fromStdString(m_doc.title);
    setWindowTitle(title + " — nnscope");
    QString lesson = QString::fromStdString(m_doc.lesson);
    if (lesson.isEmpty() && m_doc.kind_source == KindSource::Inferred)
        lesson = tr("This file is a bare state dict: it does not say which tensors are parameters "
                    "and which are buffers. "
                    "nnscope inferred the kinds from PyTorch's names (running_mean, running_var, "
                    "num_batches_tracked and "
                    "integer tensors are buffers); module types are unknown.");
    if (!m_doc.note.empty())
        lesson += (lesson.isEmpty() ? "" : "\n\n") + QString::fromStdString(m_doc.note);
    m_lesson->setPlainText(lesson);
    m_inspector->clear();
    m_selected.clear();
    m_train_action->blockSignals(true);
    m_train_action->setChecked(m_doc.root->is_training());
    m_train_action->blockSignals(false);
    m_shape_edit->setText(QSettings().value("input_shape/" + QString::fromStdString(m_doc.path)).toString());
    rebuild_engine();
    default_watches();
    update_totals();
}

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
    for (QAction* a : {m_step_action, m_run_action}) {
        a->setEnabled(m_engine != nullptr);
        a->setToolTip(m_engine ? a->toolTip() : tr("Not runnable: %1").arg(m_engine_error));
    }
    m_step_label->setText(m_engine ? tr("step 0") : tr("inspect-only"));
}

// --- watches and stepping ------------------------------------------------------------------------

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
            log(QString(
                    "optimizer = torch.optim.%1(model.parameters(), %2): %3 parameters, no buffers")
                    .arg(QString::fromStdString(m_engine->optimizer()->name()),
                         m_optimizer_box->currentText())
                    .arg(m_engine->optimizer()->params().size()));
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

// --- selection and totals ------------------------------------------------------------------------

void MainWindow::on_selection(const QModelIndex& proxy_index) {
    QModelIndex idx = m_filter->mapToSource(proxy_index);
    m_selected = idx.isValid() && idx.data(ModuleTreeModel::IsTensorRole).toBool()
                     ? m_model->full_name(idx)
                     : QString();
    if (!idx.isValid()) {
        m_inspector->clear();
        return;
    }
    UiLock lock(m_lock);
    try {
        if (Module* m = m_model->module_at(idx)) {
            m_inspector->show_module(m_model->full_name(idx), *m);
            return;
        }
        SlotStyle style = SlotStyle(idx.data(ModuleTreeModel::StyleRole).toInt());
        TensorKind kind = style == SlotStyle::Parameter   ? TensorKind::Parameter
                          : style == SlotStyle::Attribute ? TensorKind::Attribute
                                                          : TensorKind::Buffer;
        m_inspector->show_tensor(m_model->full_name(idx), kind,
                                 style != SlotStyle::NonPersistentBuffer, m_model->tensor_at(idx));
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
    }
}

void MainWindow::refresh_selection() {
    on_selection(m_tree->currentIndex());
}

void MainWindow::update_totals() {
    if (!m_doc.root) return;
    UiLock lock(m_lock);
    int64_t np = 0, ne_p = 0, nb = 0, ne_b = 0, na = 0, ne_a = 0;
    uint64_t bytes = 0;
    std::set<const TensorImpl*> seen;
    for (const auto& e : m_doc.root->tensor_entries()) {
        if (!seen.insert(e.tensor.impl()).second) continue;
        int64_t n = e.tensor.numel();
        bytes += e.tensor.nbytes();
        if (e.kind == TensorKind::Parameter)
            ++np, ne_p += n;
        else if (e.kind == TensorKind::Buffer)
            ++nb, ne_b += n;
        else
            ++na, ne_a += n;
    }
    QLocale c = QLocale::c();
    QString kinds =
        m_doc.kind_source == KindSource::Inferred ? tr("  (kinds inferred from names)") : QString();
    QString memory;
    for (const auto& d : list_devices())
        if (d.available) {
            // In use, and what the device's caching allocator holds beyond that.
            const MemoryStats m = backend_for(Device::parse(d.name)).memory_stats();
            memory += QString(" · %1: %2").arg(QString::fromStdString(d.name), kib(m.in_use));
            if (m.reserved > m.in_use) memory += tr(" (%1 cached)").arg(kib(m.reserved - m.in_use));
        }
    m_totals->setText(tr("%1 · parameters: %2 (%3 elements) · buffers: %4 (%5 elements) · "
                         "attributes: %6 (%7 elements) · %8%9%10")
                          .arg(QString::fromStdString(m_doc.format))
                          .arg(np)
                          .arg(c.toString(qlonglong(ne_p)))
                          .arg(nb)
                          .arg(c.toString(qlonglong(ne_b)))
                          .arg(na)
                          .arg(c.toString(qlonglong(ne_a)))
                          .arg(kib(bytes))
                          .arg(kinds)
                          .arg(memory));
}

QString MainWindow::status_text() const {
    return m_totals->text();
}

} // namespace nnscope::ui
