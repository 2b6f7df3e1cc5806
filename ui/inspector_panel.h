// inspector_panel.h: details of the selected row: for a tensor its full name, kind,
// persistence, shape, dtype, device, grad, statistics and PyTorch's repr of its values;
// for a module its type and PyTorch's repr of it.
#pragma once

#include <QWidget>

#include "module.h"

class QLabel;
class QPlainTextEdit;

namespace nnscope::ui {

class InspectorPanel : public QWidget {
    Q_OBJECT
public:
    explicit InspectorPanel(QWidget* parent = nullptr);
    void show_tensor(const QString& full_name, TensorKind kind, bool persistent, const Tensor& tensor);
    void show_module(const QString& full_name, const Module& module);
    void clear();
    QString details_text() const;

private:
    QLabel* m_title;
    QLabel* m_details;
    QPlainTextEdit* m_values;
};

} // namespace nnscope::ui
