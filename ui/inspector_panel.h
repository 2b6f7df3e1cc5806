// inspector_panel.h: details of the selected row. For a tensor: full name, kind,
// persistence, shape, dtype, device, grad, statistics (min, max, mean, std, norm over the
// finite values; NaN/Inf counts), a histogram, the values as a table (2-D slices of
// higher ranks, chosen with index pickers), PyTorch's repr, copy and export. For a module:
// its type, mode, counts and PyTorch's repr.
#pragma once

#include <QWidget>

#include "module.h"

class QCustomPlot;
class QCPRange;
class QHBoxLayout;
class QLabel;
class QPlainTextEdit;
class QTableView;
class QTabWidget;

namespace nnscope::ui {

class TensorTableModel;

class InspectorPanel : public QWidget {
    Q_OBJECT
  public:
    explicit InspectorPanel(QWidget* parent = nullptr);
    // Call with the model lock held: everything shown is copied from the tensor here.
    void show_tensor(const QString& full_name, TensorKind kind, bool persistent,
                     const Tensor& tensor);
    void show_module(const QString& full_name, const Module& module);
    void clear();
    QString details_text() const;
    TensorTableModel* table_model() const { return m_table_model; }
    int histogram_bins() const;
    QCPRange histogram_x_range() const;

  private:
    void set_histogram(const Tensor& t);
    void rebuild_pickers();

    QLabel* m_title;
    QLabel* m_details;
    QTabWidget* m_views;
    QPlainTextEdit* m_values;
    QTableView* m_table;
    TensorTableModel* m_table_model;
    QWidget* m_pickers;
    QHBoxLayout* m_pickers_layout;
    QCustomPlot* m_histogram;
    QWidget* m_actions;
    Tensor m_snapshot; // host copy of the shown tensor, for export
    QString m_name;
};

} // namespace nnscope::ui
