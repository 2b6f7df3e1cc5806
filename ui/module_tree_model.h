// module_tree_model.h: a QAbstractItemModel over the live module tree (Qt's
// simpletreemodel pattern: createIndex(row, col, node), internalPointer() back to it).
//
// Rows are modules and, under each, its parameters, buffers and plain attributes. The
// model keeps only the tree's shape (names and owners); every cell reads the current
// tensor from its module when asked, so values, devices and dtypes are always live.
// Call rebuild() after the tree's structure changes.
#pragma once

#include <QAbstractItemModel>
#include <QSortFilterProxyModel>
#include <memory>
#include <mutex>
#include <vector>

#include "model_lock.h"
#include "module.h"
#include "tensor_kind_style.h"

namespace nnscope::ui {

class ModuleTreeModel : public QAbstractItemModel {
    Q_OBJECT
  public:
    enum Column {
        NameCol,
        KindCol,
        ShapeCol,
        DTypeCol,
        DeviceCol,
        ElementsCol,
        RequiresGradCol,
        InStateDictCol,
        ColumnCount
    };
    enum Role { StyleRole = Qt::UserRole + 1, FullNameRole, IsTensorRole };

    explicit ModuleTreeModel(QObject* parent = nullptr);
    ~ModuleTreeModel() override;

    // The lock the step worker holds while it writes the model: data() takes it, so cells
    // are never read while a step runs.
    void set_model_lock(ModelLock* lock) { m_lock = lock; }
    void set_root(ModulePtr root);
    ModulePtr root() const { return m_root; }
    void rebuild();
    // Every visible cell may have changed (after a step, a load, a device move): copies
    // the tensors' shapes, dtypes and devices under the model lock, then repaints.
    void refresh();
    // The modules' output shapes by dotted name (StepBatch::outputs): shown on their rows
    // without taking the model lock, so a long step never holds the window up.
    void set_output_shapes(const std::vector<std::pair<std::string, std::vector<Shape>>>& outputs);

    // The tensor or module behind an index (of this model).
    Tensor tensor_at(const QModelIndex& index) const;
    Module* module_at(const QModelIndex& index) const;
    QString full_name(const QModelIndex& index) const;
    QModelIndex index_of(const QString& full_name) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

  private:
    struct Node;
    void build(Node* node, Module* module, const std::string& prefix, int depth);
    Tensor node_tensor(const Node* n) const;
    void update_cache();
    void summarise(Node* n, int depth);
    QModelIndex find(const Node* n, const std::string& name) const;

    ModulePtr m_root;
    std::unique_ptr<Node> m_tree;
    ModelLock* m_lock = nullptr;
};

// Filter box plus kind toggles: shows matching rows and their ancestors.
class ModuleTreeFilter : public QSortFilterProxyModel {
    Q_OBJECT
  public:
    explicit ModuleTreeFilter(QObject* parent = nullptr);
    void set_style_visible(SlotStyle style, bool visible);
    bool style_visible(SlotStyle style) const;

  protected:
    bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

  private:
    bool m_visible[5] = {true, true, true, true, true};
};

} // namespace nnscope::ui
