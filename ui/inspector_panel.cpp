// inspector_panel.cpp: property table, histogram (QCustomPlot), values table with slice
// pickers, PyTorch's repr, clipboard and file export.
#include "inspector_panel.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

#include "autograd.h"
#include "tensor_kind_style.h"
#include "tensor_stats.h"
#include "tensor_table_model.h"

namespace nnscope::ui {

namespace {
QString num(double v) {
    if (std::isnan(v)) return QStringLiteral("–");
    return QString::number(v, 'g', 6);
}
QString row(const QString& k, const QString& v) {
    return "<tr><td><b>" + k + "</b></td><td>" + v + "</td></tr>";
}
constexpr int k_bins = 30;
} // namespace

InspectorPanel::InspectorPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    m_title = new QLabel(this);
    QFont f = m_title->font();
    f.setPointSizeF(f.pointSizeF() * 1.25);
    f.setBold(true);
    m_title->setFont(f);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_details = new QLabel(this);
    m_details->setTextFormat(Qt::RichText);
    m_details->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_details->setWordWrap(true);

    m_histogram = new QCustomPlot(this);
    m_histogram->setMinimumHeight(130);
    m_histogram->xAxis->setLabel("value");
    m_histogram->yAxis->setLabel("count");

    m_views = new QTabWidget(this);
    m_values = new QPlainTextEdit(m_views);
    m_values->setReadOnly(true);
    m_values->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_values->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    auto* table_page = new QWidget(m_views);
    auto* table_layout = new QVBoxLayout(table_page);
    table_layout->setContentsMargins(0, 0, 0, 0);
    m_pickers = new QWidget(table_page);
    m_pickers_layout = new QHBoxLayout(m_pickers);
    m_pickers_layout->setContentsMargins(0, 0, 0, 0);
    m_table_model = new TensorTableModel(this);
    m_table = new QTableView(table_page);
    m_table->setModel(m_table_model);
    m_table->horizontalHeader()->setDefaultSectionSize(80);
    m_table->verticalHeader()->setDefaultSectionSize(20);
    table_layout->addWidget(m_pickers);
    table_layout->addWidget(m_table, 1);
    m_views->addTab(table_page, tr("Values"));
    m_views->addTab(m_values, tr("repr"));

    m_actions = new QWidget(this);
    auto* actions = new QHBoxLayout(m_actions);
    actions->setContentsMargins(0, 0, 0, 0);
    auto* copy = new QPushButton(tr("Copy values"), m_actions);
    connect(copy, &QPushButton::clicked, this,
            [this] { QApplication::clipboard()->setText(m_table_model->slice_tsv()); });
    auto* npy = new QPushButton(tr("Export .npy…"), m_actions);
    connect(npy, &QPushButton::clicked, this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Export tensor"), m_name + ".npy",
                                                    tr("NumPy (*.npy)"));
        QString err;
        if (!path.isEmpty() && !write_npy(m_snapshot, path, &err))
            m_details->setText(m_details->text() + "<p style='color:#c00'>" + err + "</p>");
    });
    auto* csv = new QPushButton(tr("Export CSV…"), m_actions);
    connect(csv, &QPushButton::clicked, this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Export tensor"), m_name + ".csv",
                                                    tr("CSV (*.csv)"));
        QString err;
        if (!path.isEmpty() && !write_csv(m_snapshot, path, &err))
            m_details->setText(m_details->text() + "<p style='color:#c00'>" + err + "</p>");
    });
    actions->addWidget(copy);
    actions->addWidget(npy);
    actions->addWidget(csv);
    actions->addStretch(1);

    auto* top = new QHBoxLayout;
    top->addWidget(m_details, 1);
    top->addWidget(m_histogram, 1);
    layout->addWidget(m_title);
    layout->addLayout(top);
    layout->addWidget(m_actions);
    layout->addWidget(m_views, 1);
    clear();
}

void InspectorPanel::clear() {
    m_title->setText(tr("Select a module or a tensor"));
    m_details->setText(
        tr("Parameters (●) are trained by an optimizer. Buffers (■) are state that forward "
           "passes update and the state_dict saves; hollow ones are not saved. Plain "
           "attributes (dashed) are neither saved nor moved with the model. Double-click a "
           "tensor to watch it in the plots."));
    m_values->clear();
    m_table_model->set_tensor(Tensor());
    m_snapshot = Tensor();
    m_histogram->clearPlottables();
    m_histogram->replot();
    m_histogram->setVisible(false);
    m_actions->setVisible(false);
    m_views->setVisible(false); // no empty repr box while nothing is selected
    rebuild_pickers();
}

QCPRange InspectorPanel::histogram_x_range() const {
    return m_histogram->xAxis->range();
}

int InspectorPanel::histogram_bins() const {
    if (m_histogram->plottableCount() == 0) return 0;
    auto* bars = qobject_cast<QCPBars*>(m_histogram->plottable(0));
    return bars ? bars->data()->size() : 0;
}

void InspectorPanel::set_histogram(const Tensor& t) {
    m_histogram->clearPlottables();
    m_histogram->clearItems();
    std::vector<double> v = stat_values(t); // a complex tensor's magnitudes
    double lo = INFINITY, hi = -INFINITY;
    for (double x : v)
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    if (lo > hi) { // nothing finite to show: say so, on axes of its own (not the last tensor's)
        m_histogram->xAxis->setRange(0, 1);
        m_histogram->yAxis->setRange(0, 1);
        auto* text = new QCPItemText(m_histogram);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.5, 0.5);
        text->setText(v.empty() ? tr("no values") : tr("no finite values"));
        m_histogram->replot();
        return;
    }
    if (hi == lo) hi = lo + 1;
    // (hi - lo) can overflow for float64 values near ±1.8e308: divide first.
    const double width = hi / k_bins - lo / k_bins;
    QVector<double> keys(k_bins), counts(k_bins, 0);
    for (int i = 0; i < k_bins; ++i) keys[i] = lo + (i + 0.5) * width;
    for (double x : v)
        if (std::isfinite(x)) counts[std::clamp(int(x / width - lo / width), 0, k_bins - 1)] += 1;
    auto* bars = new QCPBars(m_histogram->xAxis, m_histogram->yAxis);
    bars->setWidth(width);
    bars->setData(keys, counts, true);
    bars->setPen(Qt::NoPen);
    bars->setBrush(QColor(31, 119, 180, 170));
    m_histogram->rescaleAxes();
    m_histogram->yAxis->setRangeLower(0);
    m_histogram->replot();
}

void InspectorPanel::rebuild_pickers() {
    while (QLayoutItem* item = m_pickers_layout->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    const Shape& shape = m_table_model->shape();
    if (shape.size() <= 2) {
        m_pickers->setVisible(false);
        return;
    }
    m_pickers->setVisible(true);
    m_pickers_layout->addWidget(new QLabel(tr("slice"), m_pickers));
    for (size_t d = 0; d + 2 < shape.size(); ++d) {
        auto* box = new QSpinBox(m_pickers);
        box->setRange(0, int(std::max<int64_t>(shape[d] - 1, 0)));
        box->setPrefix(QString("[%1] ").arg(d));
        box->setObjectName(QString("slice_%1").arg(d));
        connect(box, &QSpinBox::valueChanged, this, [this] {
            std::vector<int64_t> leading;
            for (int i = 0; i < m_pickers_layout->count(); ++i)
                if (auto* b = qobject_cast<QSpinBox*>(m_pickers_layout->itemAt(i)->widget()))
                    leading.push_back(b->value());
            m_table_model->set_slice(leading);
        });
        m_pickers_layout->addWidget(box);
    }
    m_pickers_layout->addWidget(new QLabel(tr(", :, :"), m_pickers));
    m_pickers_layout->addStretch(1);
}

void InspectorPanel::show_tensor(const QString& name, TensorKind kind, bool persistent,
                                 const Tensor& t) {
    const SlotStyle style = slot_style(kind, persistent);
    m_name = name;
    m_title->setText(name);
    const QString color = style_color(style).name();
    QString html = "<table cellspacing=3>";
    html += row(tr("kind"), "<span style='color:" + color + "'>" + style_label(style) + "</span>");
    QString saved =
        style == SlotStyle::Attribute ? tr("no: plain attribute, not registered, not moved by to()")
        : style == SlotStyle::NonPersistentBuffer ? tr("no: registered with persistent=False")
                                                  : tr("yes");
    html += row(tr("in state_dict"), saved);
    html += row(tr("shape"),
                t.is_uninitialized()
                    ? tr("uninitialized: a lazy module's, shaped by its first forward pass")
                    : QString::fromStdString(shape_str(t.shape())));
    html += row(tr("dtype"), QString::fromUtf8(dtype_name(t.dtype()).data()));
    html += row(tr("device"), QString::fromStdString(t.device().str()));
    html += row(tr("requires_grad"), t.requires_grad() ? tr("True") : tr("False"));
    html += row(tr("grad"), t.grad().defined() ? tr("present") : tr("None"));
    TensorStats s = tensor_stats(t);
    html += row(tr("elements"), QString::number(s.count));
    if (s.of_magnitudes) html += row(tr("statistics"), tr("of the magnitudes |z|"));
    if (s.finite < s.count)
        html += row(tr("statistics"), tr("over the %1 finite values").arg(s.finite));
    html += row(tr("min / max"), num(s.min) + " / " + num(s.max));
    html += row(tr("mean / std"), num(s.mean) + " / " + num(s.std));
    html += row(tr("norm"), num(s.norm));
    QString bad = QString::number(s.nan) + " NaN, " + QString::number(s.inf) + " Inf";
    html +=
        row(tr("non-finite"), s.nan || s.inf ? "<span style='color:#c00'>" + bad + "</span>" : bad);
    html += "</table>";
    m_details->setText(html);
    m_values->setPlainText(QString::fromStdString(t.repr()));
    {
        NoGradGuard no_grad;
        m_snapshot = t.to(Device::cpu()).detach().clone();
    }
    m_table_model->set_tensor(m_snapshot);
    rebuild_pickers();
    set_histogram(m_snapshot);
    m_histogram->setVisible(true);
    m_actions->setVisible(true);
    m_views->setVisible(true);
}

void InspectorPanel::show_module(const QString& name, const Module& m) {
    m_title->setText(name.isEmpty() ? tr("(model)") : name);
    QString html = "<table cellspacing=3>";
    html += row(tr("type"), m.type_name().empty() ? tr("unknown (inferred from a state dict)")
                                                  : QString::fromStdString(m.type_name()));
    html += row(tr("mode"), m.is_training() ? tr("train") : tr("eval"));
    html += row(tr("runnable"), m.runnable() ? tr("yes") : tr("no (inspect-only)"));
    html += row(tr("parameters"), QString::number(m.named_parameters().size()));
    html += row(tr("buffers"), QString::number(m.named_buffers().size()));
    html += row(tr("output"), m.output_shapes().empty()
                                  ? tr("no forward pass yet")
                                  : QString::fromStdString(shapes_str(m.output_shapes())));
    html += "</table>";
    m_details->setText(html);
    m_values->setPlainText(QString::fromStdString(m.repr()));
    m_table_model->set_tensor(Tensor());
    m_snapshot = Tensor();
    rebuild_pickers();
    m_histogram->setVisible(false);
    m_actions->setVisible(false);
    m_views->setVisible(true);
    m_views->setCurrentWidget(m_values);
}

QString InspectorPanel::details_text() const {
    return m_title->text() + "\n" + m_details->text() + "\n" + m_values->toPlainText();
}

} // namespace nnscope::ui
