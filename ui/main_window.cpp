// main_window.cpp: layout, file actions and selection handling. Every action catches the
// core's exceptions and reports them; a failed open or save changes nothing.
#include "main_window.h"

#include <QApplication>
#include <QCheckBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTextBrowser>
#include <QTreeView>
#include <QVBoxLayout>
#include <set>

#include "examples.h"
#include "inspector_panel.h"
#include "module_tree_model.h"
#include "tensor_kind_style.h"

namespace nnscope::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("nnscope"));
    resize(1280, 800);

    m_model = new ModuleTreeModel(this);
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
    m_tree->header()->setSectionResizeMode(QHeaderView::Interactive);
    const int widths[] = {210, 170, 80, 70, 55, 70, 95, 110};
    for (int c = 0; c < ModuleTreeModel::ColumnCount; ++c) m_tree->setColumnWidth(c, widths[c]);
    connect(m_tree->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& current) { on_selection(current); });
    left_layout->addWidget(m_filter_edit);
    left_layout->addWidget(make_legend());
    left_layout->addWidget(m_tree, 1);

    auto* right = new QSplitter(Qt::Vertical, this);
    m_inspector = new InspectorPanel(right);
    m_lesson = new QTextBrowser(right);
    m_lesson->setOpenExternalLinks(false);
    right->addWidget(m_inspector);
    right->addWidget(m_lesson);
    right->setStretchFactor(0, 3);
    right->setStretchFactor(1, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({800, 480});
    right->setSizes({560, 200});
    setCentralWidget(split);

    m_totals = new QLabel(this);
    statusBar()->addPermanentWidget(m_totals, 1);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open…"), QKeySequence::Open, this, [this] {
        QString path = QFileDialog::getOpenFileName(this, tr("Open model"), {},
                                                    tr("Models (*.json *.safetensors *.pt *.pth);;All files (*)"));
        if (!path.isEmpty()) open_path(path);
    });
    QMenu* examples = file->addMenu(tr("Open &example"));
    for (const auto& ex : builtin_examples()) {
        QString name = QString::fromStdString(ex.name);
        examples->addAction(name, this, [this, name] { open_builtin_example(name); });
    }
    file->addAction(tr("&Save state dict as…"), QKeySequence::SaveAs, this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Save state dict"), {}, tr("safetensors (*.safetensors);;PyTorch state dict (*.pt *.pth)"));
        if (!path.isEmpty()) save_state_dict_to(path);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
}

QWidget* MainWindow::make_legend() {
    // The legend is also the kind filter: unticking a kind hides its rows.
    auto* w = new QWidget(this);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    for (SlotStyle s : {SlotStyle::Parameter, SlotStyle::Buffer, SlotStyle::NonPersistentBuffer, SlotStyle::Attribute}) {
        auto* box = new QCheckBox(style_label(s), w);
        box->setIcon(style_icon(s));
        box->setChecked(true);
        box->setObjectName(QStringLiteral("legend_") + QString::number(int(s)));
        connect(box, &QCheckBox::toggled, this, [this, s](bool on) { m_filter->set_style_visible(s, on); });
        l->addWidget(box);
    }
    l->addStretch(1);
    return w;
}

void MainWindow::report_error(const QString& what) {
    m_last_error = what;
    statusBar()->showMessage(what, 10000);
    if (isVisible()) QMessageBox::warning(this, tr("nnscope"), what);
}

bool MainWindow::open_path(const QString& path) {
    try {
        set_document(open_document(path.toStdString()));
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::open_builtin_example(const QString& name) {
    try {
        set_document(open_example(name.toStdString()));
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

bool MainWindow::save_state_dict_to(const QString& path) {
    if (!m_doc.root) return false;
    try {
        save_state_dict(*m_doc.root, path.toStdString(), m_doc.metadata);
        statusBar()->showMessage(tr("Saved state dict to %1").arg(path), 5000);
        return true;
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
        return false;
    }
}

void MainWindow::set_document(Document doc) {
    m_doc = std::move(doc);
    m_model->set_root(m_doc.root);
    m_tree->expandToDepth(1);
    QString title = m_doc.title.empty() ? QString::fromStdString(m_doc.path) : QString::fromStdString(m_doc.title);
    setWindowTitle(title + " — nnscope");
    QString lesson = m_doc.lesson.empty()
                         ? (m_doc.kind_source == KindSource::Inferred
                                ? tr("This file is a bare state dict: it does not say which tensors are parameters and which are "
                                     "buffers. nnscope inferred the kinds from PyTorch's names (running_mean, running_var, "
                                     "num_batches_tracked and integer tensors are buffers); module types are unknown.")
                                : QString())
                         : QString::fromStdString(m_doc.lesson);
    m_lesson->setPlainText(lesson);
    m_inspector->clear();
    update_totals();
}

void MainWindow::on_selection(const QModelIndex& proxy_index) {
    QModelIndex idx = m_filter->mapToSource(proxy_index);
    if (!idx.isValid()) {
        m_inspector->clear();
        return;
    }
    try {
        if (Module* m = m_model->module_at(idx)) {
            m_inspector->show_module(m_model->full_name(idx), *m);
            return;
        }
        SlotStyle style = SlotStyle(idx.data(ModuleTreeModel::StyleRole).toInt());
        TensorKind kind = style == SlotStyle::Parameter ? TensorKind::Parameter
                          : style == SlotStyle::Attribute ? TensorKind::Attribute
                                                          : TensorKind::Buffer;
        m_inspector->show_tensor(m_model->full_name(idx), kind, style != SlotStyle::NonPersistentBuffer,
                                 m_model->tensor_at(idx));
    } catch (const std::exception& e) {
        report_error(QString::fromStdString(e.what()));
    }
}

void MainWindow::update_totals() {
    if (!m_doc.root) return;
    int64_t np = 0, ne_p = 0, nb = 0, ne_b = 0, na = 0, ne_a = 0;
    uint64_t bytes = 0;
    std::set<const TensorImpl*> seen;
    for (const auto& e : m_doc.root->tensor_entries()) {
        if (!seen.insert(e.tensor.impl()).second) continue;
        int64_t n = e.tensor.numel();
        bytes += e.tensor.nbytes();
        if (e.kind == TensorKind::Parameter) ++np, ne_p += n;
        else if (e.kind == TensorKind::Buffer) ++nb, ne_b += n;
        else ++na, ne_a += n;
    }
    QLocale c = QLocale::c();
    QString kinds = m_doc.kind_source == KindSource::Inferred ? tr("  (kinds inferred from names)") : QString();
    const QString size = bytes < 1024 ? QString::number(bytes) + " B" : QString::number(double(bytes) / 1024.0, 'f', 1) + " KiB";
    m_totals->setText(tr("%1 · parameters: %2 (%3 elements) · buffers: %4 (%5 elements) · attributes: %6 (%7 elements) · %8%9")
                          .arg(QString::fromStdString(m_doc.format))
                          .arg(np).arg(c.toString(qlonglong(ne_p)))
                          .arg(nb).arg(c.toString(qlonglong(ne_b)))
                          .arg(na).arg(c.toString(qlonglong(ne_a)))
                          .arg(size)
                          .arg(kinds));
}

QString MainWindow::status_text() const { return m_totals->text(); }

} // namespace nnscope::ui
