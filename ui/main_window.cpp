// main_window.cpp: the window and its layout, the log and error messages, the selection
// (what the inspector shows) and the status bar's totals. Its actions live beside it, one
// file a job: window_actions.cpp (menus, toolbars), file_actions.cpp (open, save, load,
// diff), device_actions.cpp (moves) and stepping.cpp (the engine, watches, run and pause).
// Every action catches the core's exceptions and reports them in the log and a message.
#include "main_window.h"

#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QTreeView>
#include <QVBoxLayout>
#include <set>

#include "byte_text.h"
#include "inspector_panel.h"
#include "model_facts.h"
#include "module_tree_model.h"
#include "plot_panel.h"
#include "step_controller.h"
#include "step_worker.h"
#include "tensor_kind_style.h"

namespace nnscope::ui {

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
    m_filter_edit->setObjectName("filter");
    m_filter_edit->setPlaceholderText(tr("Filter by name (e.g. running_)"));
    m_filter_edit->setClearButtonEnabled(true);
    m_no_match = new QLabel(left);
    m_no_match->setObjectName("no_match");
    m_no_match->setWordWrap(true);
    m_no_match->hide();
    connect(m_filter_edit, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_filter->setFilterFixedString(text);
        if (!text.isEmpty())
            m_tree->expandAll();
        else
            m_tree->expandToDepth(1);
        fit_columns();
        const bool none = !text.isEmpty() && m_filter->rowCount() == 0;
        m_no_match->setText(tr("No module or tensor name contains \"%1\".").arg(text));
        m_no_match->setVisible(none);
    });
    m_tree = new QTreeView(left);
    m_tree->setModel(m_filter);
    m_tree->setUniformRowHeights(true); // large trees stay fast
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setStretchLastSection(false);
    m_tree->setTextElideMode(Qt::ElideMiddle); // "running…var" would hide the difference
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { on_selection(current); });
    connect(m_tree, &QTreeView::doubleClicked, this, [this](const QModelIndex& idx) {
        QModelIndex src = m_filter->mapToSource(idx);
        if (src.data(ModuleTreeModel::IsTensorRole).toBool()) watch(m_model->full_name(src));
    });
    left_layout->addWidget(m_filter_edit);
    left_layout->addWidget(m_no_match);
    left_layout->addWidget(make_legend());
    left_layout->addWidget(m_tree, 1);

    // Right: plots and inspector in tabs above, lesson and log below.
    auto* right = new QSplitter(Qt::Vertical, this);
    auto* tabs = m_tabs = new QTabWidget(right);
    m_plots = new PlotPanel(tabs);
    m_inspector = new InspectorPanel(tabs);
    tabs->addTab(m_plots, tr("Plots"));
    tabs->addTab(m_inspector, tr("Inspector"));
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, tabs, [tabs, this] {
        if (!is_running()) tabs->setCurrentWidget(m_inspector);
    });
    auto* bottom = m_bottom_tabs = new QTabWidget(right);
    m_lesson = new QTextBrowser(bottom);
    m_lesson->setWordWrapMode(QTextOption::WordWrap); // never "AdaptiveAv/gPool2d"
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

    m_stepper = new StepController(m_lock, this);
    connect(m_stepper, &StepController::progressed, this,
            [this](const std::shared_ptr<StepBatch>& b) { on_progress(b); });
    connect(m_stepper, &StepController::started, this, [this] {
        if (m_run_action) m_run_action->setText(tr("Pause"));
    });
    connect(m_stepper, &StepController::finished, this, [this] {
        if (m_run_action) m_run_action->setText(tr("Run"));
        m_model->refresh(); // the modules' output shapes of the last step
        refresh_selection();
        update_totals();
    });

    make_toolbar();
    make_menus();
    connect(m_plots, &PlotPanel::unwatch_all_requested, this, [this] {
        set_watch_list({});
        log("unwatched every tensor");
    });
    setMinimumSize(640, 420); // below this the panels collapse into each other
    for (QAction* a : {m_step_action, m_run_action, m_train_action})
        a->setEnabled(false); // no model yet
    m_training_box->setEnabled(false);
    // The window's shortcuts win over the text boxes' own bindings (QLineEdit takes Ctrl+E
    // as "end of line" on X11, and the filter box has the focus at start-up).
    for (QLineEdit* edit : {m_filter_edit, m_shape_edit}) edit->installEventFilter(this);
    setAcceptDrops(true);
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    apply_plot_palette();
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::ShortcutOverride) {
        auto* key = static_cast<QKeyEvent*>(event);
        const QKeySequence pressed(key->keyCombination());
        for (QAction* a : findChildren<QAction*>())
            if (a->isEnabled() && !a->shortcut().isEmpty() && a->shortcut() == pressed &&
                (key->modifiers() & (Qt::ControlModifier | Qt::AltModifier))) {
                event->ignore(); // not the line edit's: the shortcut map gets it
                return true;
            }
    }
    return QMainWindow::eventFilter(watched, event);
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

MainWindow::~MainWindow() {
    // The worker thread goes first: it shares m_lock and the model with this window.
    delete m_stepper;
    m_stepper = nullptr;
}

// --- layout pieces ----------------------------------------------------------------------------

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
    const QString summary = error_summary(what);
    statusBar()->showMessage(summary, 10000);
    emit error_reported(what);
    if (!isVisible() || QApplication::platformName() == "offscreen") return;
    // The first line (or sentence) as the message; a long report goes to the box's
    // scrollable details, so the box never outgrows the screen.
    QMessageBox box(QMessageBox::Warning, tr("nnscope"), summary, QMessageBox::Ok, this);
    if (summary != what) box.setDetailedText(what);
    box.exec();
}

QString error_summary(const QString& what) {
    constexpr int k_max = 300;
    QString first = what.section('\n', 0, 0);
    if (first.size() > k_max) {
        // Up to the last ", " or ": " before the limit, so the summary ends at a seam.
        int cut = first.lastIndexOf(QRegularExpression("[,:;] "), k_max);
        if (cut < k_max / 2) cut = k_max;
        first = first.left(cut) + " …";
    }
    return first;
}

// --- documents
// ------------------------------------------------------------------------------------

void MainWindow::set_document(Document doc, const QString& opened) {
    // One separator line per model, then what was opened, then what follows from it.
    if (!m_log->document()->isEmpty()) log(QString(40, QChar(0x2500)));
    log(opened);
    {
        UiLock lock(m_lock);
        m_doc = std::move(doc);
        m_model->set_root(m_doc.root);
    }
    m_tree->expandToDepth(1);
    fit_columns();
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
    // A clean slate: no filter, no plots or mode markers from the last model, no training
    // step; the mode is the model's own. Preferences (rate, input noise) stay.
    m_filter_edit->clear();
    m_plots->set_watches({}, {});
    m_plots->clear();
    m_training_box->blockSignals(true);
    m_training_box->setChecked(false);
    m_training_box->blockSignals(false);
    m_train_action->blockSignals(true);
    m_train_action->setChecked(m_doc.root->is_training());
    m_train_action->blockSignals(false);
    m_shape_edit->setText(
        QSettings().value("input_shape/" + QString::fromStdString(m_doc.path)).toString());
    rebuild_engine();
    default_watches();
    update_totals();
}

// --- watches and stepping ------------------------------------------------------------------------

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
    // The tensors listed, each once: the per-device figures add up to the total.
    const TensorTotals t = tensor_totals(*m_doc.root);
    QLocale c = QLocale::c();
    QString kinds =
        m_doc.kind_source == KindSource::Inferred ? tr("  (kinds inferred from names)") : QString();
    QString memory;
    for (const auto& [device, bytes] : t.by_device)
        memory += QString(" · %1: %2").arg(QString::fromStdString(device), kib(bytes));
    // What a device's caching allocator holds beyond live tensors, labelled as such.
    for (const auto& d : list_devices())
        if (d.available && d.name != "cpu") {
            const MemoryStats m = backend_for(Device::parse(d.name)).memory_stats();
            if (m.reserved > m.in_use)
                memory += tr(" · %1 allocator cache: %2")
                              .arg(QString::fromStdString(d.name), kib(m.reserved - m.in_use));
        }
    m_totals->setText(tr("%1 · parameters: %2 (%3 elements) · buffers: %4 (%5 elements) · "
                         "attributes: %6 (%7 elements) · %8%9%10")
                          .arg(QString::fromStdString(m_doc.format))
                          .arg(t.parameters.tensors)
                          .arg(c.toString(qlonglong(t.parameters.elements)))
                          .arg(t.buffers.tensors)
                          .arg(c.toString(qlonglong(t.buffers.elements)))
                          .arg(t.attributes.tensors)
                          .arg(c.toString(qlonglong(t.attributes.elements)))
                          .arg(kib(t.bytes))
                          .arg(kinds)
                          .arg(memory));
}

void MainWindow::fit_columns() {
    // Each column as wide as its header and the rows shown (expanded ones), the name column
    // at most half the tree's width; what is still cut is elided in the middle, and every
    // cell's tooltip has its full text.
    for (int c = 0; c < ModuleTreeModel::ColumnCount; ++c) m_tree->resizeColumnToContents(c);
    const int name_max = std::max(360, m_tree->viewport()->width() / 2);
    if (m_tree->columnWidth(0) > name_max) m_tree->setColumnWidth(0, name_max);
}

void MainWindow::show_tab(const QString& name) {
    m_tabs->setCurrentWidget(name == "inspector" ? static_cast<QWidget*>(m_inspector) : m_plots);
}

QString MainWindow::status_text() const {
    return m_totals->text();
}

} // namespace nnscope::ui
