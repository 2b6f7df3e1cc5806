// tensor_table_model.h: a QAbstractTableModel over one 2-D slice of a tensor.
//
// Rank 0 shows one cell, rank 1 one column, rank 2 the matrix; higher ranks show the last
// two dims at the leading indices chosen with set_slice(). Values are copied to the host
// when the tensor or slice is set (never read live), so the table cannot race a step.
// NaN and Inf cells are highlighted.
#pragma once

#include <QAbstractTableModel>

#include "tensor.h"

namespace nnscope::ui {

class TensorTableModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    explicit TensorTableModel(QObject* parent = nullptr);

    // Call with the model lock held.
    void set_tensor(const Tensor& t);
    // Leading indices for rank > 2 (one per leading dim); clamped to the shape.
    void set_slice(const std::vector<int64_t>& leading);
    const std::vector<int64_t>& slice() const { return m_leading; }
    const Shape& shape() const { return m_shape; }
    // The slice as tab-separated text (for the clipboard).
    QString slice_tsv() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

  private:
    void load_slice();
    Tensor m_tensor; // a host snapshot (detached copy)
    Shape m_shape;
    DType m_dtype = DType::Float32;
    std::vector<int64_t> m_leading;
    std::vector<double> m_values; // rows x cols of the current slice (a complex one's real parts)
    std::vector<double> m_imag;   // a complex slice's imaginary parts
    int64_t m_rows = 0, m_cols = 0;
};

// NumPy .npy (format 1.0, little-endian, C order) and CSV (2-D view: last dim as columns).
bool write_npy(const Tensor& t, const QString& path, QString* error);
bool write_csv(const Tensor& t, const QString& path, QString* error);

} // namespace nnscope::ui
