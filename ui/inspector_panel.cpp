// inspector_panel.cpp: a title, a property table (rich text) and a monospace repr view.
#include "inspector_panel.h"

#include <QFontDatabase>
#include <QLabel>
#include <QPlainTextEdit>
#include <QVBoxLayout>
#include <cmath>

#include "tensor_kind_style.h"
#include "tensor_stats.h"

namespace nnscope::ui {

namespace {
QString num(double v) {
    if (std::isnan(v)) return QStringLiteral("–");
    return QString::number(v, 'g', 6);
}
QString row(const QString& k, const QString& v) { return "<tr><td><b>" + k + "</b></td><td>" + v + "</td></tr>"; }
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
    m_values = new QPlainTextEdit(this);
    m_values->setReadOnly(true);
    m_values->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_values->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    layout->addWidget(m_title);
    layout->addWidget(m_details);
    layout->addWidget(m_values, 1);
    clear();
}

void InspectorPanel::clear() {
    m_title->setText(tr("Select a module or a tensor"));
    m_details->setText(tr("Parameters (●) are trained by an optimizer. Buffers (■) are state that forward "
                          "passes update and the state_dict saves; hollow ones are not saved. Plain "
                          "attributes (dashed) are neither saved nor moved with the model."));
    m_values->clear();
}

void InspectorPanel::show_tensor(const QString& name, TensorKind kind, bool persistent, const Tensor& t) {
    const SlotStyle style = slot_style(kind, persistent);
    m_title->setText(name);
    const QString color = style_color(style).name();
    QString html = "<table cellspacing=4>";
    html += row(tr("kind"), "<span style='color:" + color + "'>" + style_label(style) + "</span>");
    QString saved = style == SlotStyle::Attribute ? tr("no: plain attribute, not registered, not moved by to()")
                    : style == SlotStyle::NonPersistentBuffer ? tr("no: registered with persistent=False")
                                                              : tr("yes");
    html += row(tr("in state_dict"), saved);
    html += row(tr("shape"), QString::fromStdString(shape_str(t.shape())));
    html += row(tr("dtype"), QString::fromUtf8(dtype_name(t.dtype()).data()));
    html += row(tr("device"), QString::fromStdString(t.device().str()));
    html += row(tr("requires_grad"), t.requires_grad() ? tr("True") : tr("False"));
    html += row(tr("grad"), t.grad().defined() ? tr("present") : tr("None"));
    TensorStats s = tensor_stats(t);
    html += row(tr("elements"), QString::number(s.count));
    html += row(tr("min / max"), num(s.min) + " / " + num(s.max));
    html += row(tr("mean / std"), num(s.mean) + " / " + num(s.std));
    html += row(tr("norm"), num(s.norm));
    QString bad = QString::number(s.nan) + " NaN, " + QString::number(s.inf) + " Inf";
    html += row(tr("non-finite"), s.nan || s.inf ? "<span style='color:#c00'>" + bad + "</span>" : bad);
    html += "</table>";
    m_details->setText(html);
    m_values->setPlainText(QString::fromStdString(t.repr()));
}

void InspectorPanel::show_module(const QString& name, const Module& m) {
    m_title->setText(name.isEmpty() ? tr("(model)") : name);
    QString html = "<table cellspacing=4>";
    html += row(tr("type"), m.type_name().empty() ? tr("unknown (inferred from a state dict)") : QString::fromStdString(m.type_name()));
    html += row(tr("mode"), m.is_training() ? tr("train") : tr("eval"));
    html += row(tr("parameters"), QString::number(m.named_parameters().size()));
    html += row(tr("buffers"), QString::number(m.named_buffers().size()));
    html += "</table>";
    m_details->setText(html);
    m_values->setPlainText(QString::fromStdString(m.repr()));
}

QString InspectorPanel::details_text() const { return m_title->text() + "\n" + m_details->text() + "\n" + m_values->toPlainText(); }

} // namespace nnscope::ui
