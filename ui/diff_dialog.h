// diff_dialog.h: the diff view: keys only in the model or only in the file, shape and
// dtype mismatches, and each common key's largest absolute difference
// (core/workspace/state_diff.h).
#pragma once

#include <QDialog>

#include "state_diff.h"

class QStandardItemModel;

namespace nnscope::ui {

class DiffDialog : public QDialog {
    Q_OBJECT
  public:
    DiffDialog(const StateDiff& diff, const QString& a, const QString& b,
               QWidget* parent = nullptr);
    QStandardItemModel* table() const { return m_table; }

  private:
    QStandardItemModel* m_table;
};

} // namespace nnscope::ui
