// tensor_table_model.cpp: slices, cell text like PyTorch's numbers, and the exporters.
#include "tensor_table_model.h"

#include <QBrush>
#include <QColor>
#include <QFile>
#include <QSaveFile>
#include <QTextStream>
#include <cmath>

#include "autograd.h"

namespace nnscope::ui {

TensorTableModel::TensorTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void TensorTableModel::set_tensor(const Tensor& t) {
    beginResetModel();
    if (t.defined()) {
        NoGradGuard no_grad;
        m_tensor = t.to(Device::cpu())
                       .detach()
                       .clone(); // a snapshot: the table never reads the live tensor
        m_shape = t.shape();
        m_dtype = t.dtype();
    } else {
        m_tensor = Tensor();
        m_shape.clear();
    }
    m_leading.assign(m_shape.size() > 2 ? m_shape.size() - 2 : 0, 0);
    load_slice();
    endResetModel();
}

void TensorTableModel::set_slice(const std::vector<int64_t>& leading) {
    beginResetModel();
    for (size_t i = 0; i < m_leading.size() && i < leading.size(); ++i)
        m_leading[i] = std::clamp<int64_t>(leading[i], 0, std::max<int64_t>(m_shape[i] - 1, 0));
    load_slice();
    endResetModel();
}

void TensorTableModel::load_slice() {
    m_values.clear();
    m_imag.clear();
    m_rows = m_cols = 0;
    if (!m_tensor.defined() || m_tensor.numel() == 0) return;
    Tensor s = m_tensor;
    for (int64_t idx : m_leading) {
        if (s.size(0) == 0) break;
        s = s.select(0, idx);
    }
    if (s.dim() == 0)
        s = s.reshape({1, 1});
    else if (s.dim() == 1)
        s = s.reshape({s.size(0), 1});
    m_rows = s.size(0);
    m_cols = s.size(1);
    m_values.clear();
    m_imag.clear();
    if (dtype_is_complex(s.dtype())) {
        const std::vector<double> ri = s.to_real_imag();
        for (size_t i = 0; i < ri.size(); i += 2)
            m_values.push_back(ri[i]), m_imag.push_back(ri[i + 1]);
    } else {
        m_values = s.to_doubles();
    }
}

int TensorTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows);
}
int TensorTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_cols);
}

QVariant TensorTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_rows || index.column() >= m_cols) return {};
    const double v = m_values[size_t(index.row() * m_cols + index.column())];
    switch (role) {
    case Qt::DisplayRole:
        if (m_dtype == DType::Bool)
            return v != 0 ? QStringLiteral("True") : QStringLiteral("False");
        if (dtype_is_integral(m_dtype)) return QString::number(qint64(v));
        if (!m_imag.empty()) { // complex: a+bj, as Python prints it
            const double im = m_imag[size_t(index.row() * m_cols + index.column())];
            return QString::number(v, 'g', 6) + (std::signbit(im) ? "-" : "+") +
                   QString::number(std::fabs(im), 'g', 6) + "j";
        }
        if (std::isnan(v)) return QStringLiteral("nan");
        if (std::isinf(v)) return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
        return QString::number(v, 'g', 6);
    case Qt::BackgroundRole:
        if (std::isnan(v) || std::isinf(v)) return QBrush(QColor(255, 205, 205));
        return {};
    case Qt::TextAlignmentRole:
        return int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::UserRole:
        return v;
    default:
        return {};
    }
}

QVariant TensorTableModel::headerData(int section, Qt::Orientation, int role) const {
    return role == Qt::DisplayRole ? QVariant(section) : QVariant();
}

QString TensorTableModel::slice_tsv() const {
    QString out;
    for (int64_t r = 0; r < m_rows; ++r) {
        for (int64_t c = 0; c < m_cols; ++c) {
            if (c) out += '\t';
            out += data(index(int(r), int(c))).toString();
        }
        out += '\n';
    }
    return out;
}

// --- exporters ------------------------------------------------------------------------------

namespace {
const char* npy_descr(DType d) {
    switch (d) {
    case DType::Float32:
        return "<f4";
    case DType::Float64:
        return "<f8";
    case DType::Float16:
        return "<f2";
    case DType::Int64:
        return "<i8";
    case DType::Int32:
        return "<i4";
    case DType::Int16:
        return "<i2";
    case DType::Int8:
        return "|i1";
    case DType::UInt8:
        return "|u1";
    case DType::Bool:
        return "|b1";
    case DType::UInt16:
        return "<u2";
    case DType::UInt32:
        return "<u4";
    case DType::UInt64:
        return "<u8";
    case DType::Complex64:
        return "<c8";
    case DType::Complex128:
        return "<c16";
    case DType::BFloat16:
    case DType::Float8E4M3FN:
    case DType::Float8E5M2:
        return nullptr; // NumPy has none of these: written as float32
    }
    return nullptr;
}
} // namespace

bool write_npy(const Tensor& t_in, const QString& path, QString* error) {
    Tensor t = t_in.to(Device::cpu()).contiguous();
    if (!npy_descr(t.dtype())) t = t.to(DType::Float32); // bfloat16, float8: widened exactly
    QString shape = "(";
    for (int64_t s : t.shape()) shape += QString::number(s) + ", ";
    if (t.dim() > 1)
        shape.chop(2);
    else if (t.dim() == 1)
        shape.chop(1);
    shape += ")";
    QByteArray header = QString("{'descr': '%1', 'fortran_order': False, 'shape': %2, }")
                            .arg(npy_descr(t.dtype()), shape)
                            .toLatin1();
    // Magic (6) + version (2) + length (2) + header, padded with spaces and '\n' to 64 bytes.
    const int total = 10 + header.size() + 1;
    header += QByteArray((64 - total % 64) % 64, ' ');
    header += '\n';
    QSaveFile f(path); // written to a temporary and renamed: a failure keeps the old file
    if (!f.open(QIODevice::WriteOnly)) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    f.write("\x93NUMPY\x01\x00", 8);
    const quint16 len = quint16(header.size());
    f.write(reinterpret_cast<const char*>(&len), 2);
    f.write(header);
    if (t.numel()) f.write(static_cast<const char*>(t.data_ptr()), qint64(t.nbytes()));
    if (!f.commit()) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    return true;
}

bool write_csv(const Tensor& t, const QString& path, QString* error) {
    if (dtype_is_complex(t.dtype())) {
        if (error) *error = path + ": complex values have no CSV form here; export .npy instead";
        return false;
    }
    const int64_t cols = t.dim() == 0 ? 1 : t.size(-1);
    std::vector<double> v = t.to_doubles();
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    QTextStream out(&f);
    for (size_t i = 0; i < v.size(); ++i) {
        out << (std::isnan(v[i]) ? QString("nan") : QString::number(v[i], 'g', 9));
        out << ((int64_t(i) + 1) % std::max<int64_t>(cols, 1) == 0 ? "\n" : ",");
    }
    out.flush();
    if (!f.commit()) {
        if (error) *error = path + ": " + f.errorString();
        return false;
    }
    return true;
}

} // namespace nnscope::ui
