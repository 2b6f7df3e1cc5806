// diff_dialog.cpp: one row per key that differs or is common, worst first within a group.
#include "diff_dialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>
#include <cmath>

namespace nnscope::ui {

DiffDialog::DiffDialog(const StateDiff& d, const QString& a, const QString& b, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Diff: %1 vs %2").arg(a, b));
    resize(820, 520);
    m_table = new QStandardItemModel(0, 3, this);
    m_table->setHorizontalHeaderLabels({tr("key"), tr("difference"), tr("detail")});
    auto add = [this](const std::string& key, const QString& what, const QString& detail,
                      QColor color) {
        auto* k = new QStandardItem(QString::fromStdString(key));
        auto* w = new QStandardItem(what);
        w->setForeground(color);
        m_table->appendRow({k, w, new QStandardItem(detail)});
    };
    for (const auto& k : d.only_a) add(k, tr("only in %1").arg(a), {}, QColor(200, 60, 40));
    for (const auto& k : d.only_b) add(k, tr("only in %1").arg(b), {}, QColor(200, 60, 40));
    for (const auto& m : d.mismatches)
        add(m.name, QString::fromStdString(m.what) + tr(" differs"),
            QString::fromStdString(m.a + " vs " + m.b), QColor(200, 120, 0));
    for (const auto& c : d.common) {
        const bool same = c.max_abs_diff == 0;
        add(c.name, same ? tr("equal") : tr("values differ"),
            std::isnan(c.max_abs_diff) ? tr("max abs diff nan")
                                       : tr("max abs diff %1").arg(c.max_abs_diff, 0, 'g', 6),
            same ? QColor(44, 140, 44) : QColor(31, 119, 180));
    }
    auto* view = new QTableView(this);
    view->setModel(m_table);
    view->horizontalHeader()->setStretchLastSection(true);
    view->setColumnWidth(0, 300);
    view->setColumnWidth(1, 200);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(
        d.differences ? tr("%1 difference(s)").arg(d.differences) : tr("identical"), this));
    layout->addWidget(view, 1);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

} // namespace nnscope::ui
