// module_tree_model.cpp: the tree's shape as Nodes; cell contents read live from modules.
#include "module_tree_model.h"

#include <QColor>
#include <QFont>
#include <QLocale>
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace nnscope::ui {

struct ModuleTreeModel::Node {
    Node* parent = nullptr;
    int row = 0;
    Module* owner = nullptr; // the module itself (module rows) or the tensor's module
    bool is_tensor = false;
    TensorKind kind = TensorKind::Parameter;
    std::string local; // name within the owner / child name
    std::string full;  // dotted name
    std::vector<std::unique_ptr<Node>> children;
    // Cell contents of a tensor row, copied from the tensor by refresh(): painting never
    // touches a tensor, so a running step is never waited for.
    bool defined = false, requires_grad = false, persistent = true;
    QString shape, dtype, device;
    qlonglong numel = 0;
    // Module rows, torchinfo's summary of everything below: parameters and buffers (each
    // tensor of the subtree once), their elements and bytes.
    qlonglong params = 0, param_elements = 0, buffers = 0, buffer_elements = 0;
    qulonglong bytes = 0;

    Node* add(std::unique_ptr<Node> n) {
        n->parent = this;
        n->row = int(children.size());
        children.push_back(std::move(n));
        return children.back().get();
    }
};

namespace {
constexpr int k_max_depth = 256; // a cyclic tree (possible by hand) must not recurse forever
std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}
// A module row's shape cell: what its last call returned ("→ [8, 16]"; a tuple's tensors
// one after another), empty before the first forward pass.
QString output_text(const std::vector<Shape>& output_shapes) {
    return output_shapes.empty()
               ? QString()
               : QString::fromUtf8("→ ") + QString::fromStdString(shapes_str(output_shapes));
}
} // namespace

ModuleTreeModel::ModuleTreeModel(QObject* parent) : QAbstractItemModel(parent) {}
ModuleTreeModel::~ModuleTreeModel() = default;

void ModuleTreeModel::set_root(ModulePtr root) {
    m_root = std::move(root);
    rebuild();
}

void ModuleTreeModel::rebuild() {
    beginResetModel();
    m_tree = std::make_unique<Node>();
    if (m_root) {
        auto top = std::make_unique<Node>();
        top->owner = m_root.get();
        Node* t = m_tree->add(std::move(top));
        build(t, m_root.get(), "", 0);
    }
    update_cache();
    endResetModel();
}

void ModuleTreeModel::update_cache() {
    if (!m_tree) return;
    std::optional<UiLock> lock;
    if (m_lock) lock.emplace(*m_lock);
    std::vector<Node*> stack{m_tree.get()};
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        for (auto& c : n->children) stack.push_back(c.get());
        if (!n->is_tensor) {
            n->shape = n->owner ? output_text(n->owner->output_shapes()) : QString();
            continue;
        }
        Tensor t = node_tensor(n);
        n->defined = t.defined();
        if (!t.defined()) continue;
        n->shape = t.is_uninitialized() ? QStringLiteral("uninitialized")
                                        : QString::fromStdString(shape_str(t.shape()));
        n->dtype = QString::fromUtf8(dtype_name(t.dtype()).data());
        n->device = QString::fromStdString(t.device().str());
        n->numel = t.numel();
        n->requires_grad = t.requires_grad();
        n->persistent =
            n->kind != TensorKind::Attribute && n->owner->is_persistent_buffer(n->local);
        n->bytes = t.nbytes();
    }
    summarise(m_tree.get(), 0);
}

// The module rows' sums, children first; each tensor of a subtree counted once (a tied
// parameter under two modules counts once for their parent).
void ModuleTreeModel::summarise(Node* n, int depth) {
    if (n->is_tensor || depth > k_max_depth) return;
    for (auto& c : n->children) summarise(c.get(), depth + 1);
    n->params = n->param_elements = n->buffers = n->buffer_elements = 0;
    n->bytes = 0;
    std::unordered_set<const TensorImpl*> counted;
    std::vector<Node*> stack{n};
    while (!stack.empty()) {
        Node* m = stack.back();
        stack.pop_back();
        for (auto& c : m->children) {
            if (!c->is_tensor) {
                stack.push_back(c.get());
                continue;
            }
            if (!c->defined || c->kind == TensorKind::Attribute) continue;
            if (!counted.insert(node_tensor(c.get()).impl()).second) continue;
            const bool param = c->kind == TensorKind::Parameter;
            (param ? n->params : n->buffers) += 1;
            (param ? n->param_elements : n->buffer_elements) += c->numel;
            n->bytes += c->bytes;
        }
    }
}

void ModuleTreeModel::build(Node* node, Module* module, const std::string& prefix, int depth) {
    auto add_tensors = [&](const OrderedDict<Tensor>& entries, TensorKind kind) {
        for (const auto& [name, t] : entries) {
            if (!t.defined()) continue;
            auto n = std::make_unique<Node>();
            n->owner = module;
            n->is_tensor = true;
            n->kind = kind;
            n->local = name;
            n->full = join(prefix, name);
            node->add(std::move(n));
        }
    };
    add_tensors(module->own_parameters(), TensorKind::Parameter);
    add_tensors(module->own_buffers(), TensorKind::Buffer);
    add_tensors(module->own_attributes(), TensorKind::Attribute);
    if (depth >= k_max_depth) return;
    for (const auto& [name, child] : module->own_children()) {
        if (!child) continue;
        auto n = std::make_unique<Node>();
        n->owner = child.get();
        n->local = name;
        n->full = join(prefix, name);
        Node* c = node->add(std::move(n));
        build(c, child.get(), c->full, depth + 1);
    }
}

void ModuleTreeModel::set_output_shapes(
    const std::vector<std::pair<std::string, std::vector<Shape>>>& outputs) {
    if (!m_tree) return;
    std::unordered_map<std::string, const std::vector<Shape>*> by_name;
    for (const auto& [name, shapes] : outputs) by_name[name] = &shapes;
    std::vector<Node*> stack{m_tree.get()};
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        for (auto& c : n->children)
            if (!c->is_tensor) stack.push_back(c.get());
        if (n == m_tree.get() || n->is_tensor) continue;
        auto it = by_name.find(n->full);
        n->shape = it == by_name.end() ? QString() : output_text(*it->second);
        const QModelIndex i = createIndex(n->row, ShapeCol, n);
        emit dataChanged(i, i, {Qt::DisplayRole});
    }
}

void ModuleTreeModel::refresh() {
    if (!m_tree || m_tree->children.empty()) return;
    update_cache();
    // One dataChanged per parent, as views repaint only what they show.
    std::vector<const Node*> stack{m_tree->children[0].get()};
    while (!stack.empty()) {
        const Node* n = stack.back();
        stack.pop_back();
        if (n->children.empty()) continue;
        QModelIndex parent = createIndex(n->row, 0, const_cast<Node*>(n));
        emit dataChanged(index(0, 0, parent),
                         index(int(n->children.size()) - 1, ColumnCount - 1, parent));
        for (const auto& c : n->children) stack.push_back(c.get());
    }
}

Tensor ModuleTreeModel::node_tensor(const Node* n) const {
    if (!n || !n->is_tensor) return {};
    const OrderedDict<Tensor>& entries =
        n->kind == TensorKind::Parameter ? n->owner->own_parameters()
        : n->kind == TensorKind::Buffer  ? n->owner->own_buffers()
                                         : n->owner->own_attributes();
    const Tensor* t = entries.find(n->local);
    return t ? *t : Tensor();
}

Tensor ModuleTreeModel::tensor_at(const QModelIndex& index) const {
    return index.isValid() ? node_tensor(static_cast<Node*>(index.internalPointer())) : Tensor();
}

Module* ModuleTreeModel::module_at(const QModelIndex& index) const {
    if (!index.isValid()) return nullptr;
    auto* n = static_cast<Node*>(index.internalPointer());
    return n->is_tensor ? nullptr : n->owner;
}

QString ModuleTreeModel::full_name(const QModelIndex& index) const {
    return index.isValid()
               ? QString::fromStdString(static_cast<Node*>(index.internalPointer())->full)
               : QString();
}

QModelIndex ModuleTreeModel::find(const Node* n, const std::string& name) const {
    for (const auto& c : n->children) {
        if (c->full == name) return createIndex(c->row, 0, c.get());
        if (name.starts_with(c->full) || c->full.empty()) {
            QModelIndex found = find(c.get(), name);
            if (found.isValid()) return found;
        }
    }
    return {};
}

QModelIndex ModuleTreeModel::index_of(const QString& name) const {
    if (!m_tree || m_tree->children.empty()) return {};
    if (name.isEmpty()) return createIndex(0, 0, m_tree->children[0].get());
    return find(m_tree->children[0].get(), name.toStdString());
}

QModelIndex ModuleTreeModel::index(int row, int column, const QModelIndex& parent) const {
    if (!m_tree || column < 0 || column >= ColumnCount || row < 0) return {};
    const Node* p = parent.isValid() ? static_cast<Node*>(parent.internalPointer()) : m_tree.get();
    if (row >= int(p->children.size())) return {};
    return createIndex(row, column, p->children[size_t(row)].get());
}

QModelIndex ModuleTreeModel::parent(const QModelIndex& child) const {
    if (!child.isValid()) return {};
    const Node* n = static_cast<Node*>(child.internalPointer());
    const Node* p = n->parent;
    if (!p || p == m_tree.get()) return {};
    return createIndex(p->row, 0, const_cast<Node*>(p));
}

int ModuleTreeModel::rowCount(const QModelIndex& parent) const {
    if (!m_tree) return 0;
    if (parent.isValid() && parent.column() != 0) return 0;
    const Node* p = parent.isValid() ? static_cast<Node*>(parent.internalPointer()) : m_tree.get();
    return int(p->children.size());
}

int ModuleTreeModel::columnCount(const QModelIndex&) const {
    return ColumnCount;
}

QVariant ModuleTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::ToolTipRole && section == ShapeCol)
        return QStringLiteral("a tensor's shape; on a module's row, the shape of what its last "
                              "forward call returned (torchinfo's Output Shape)");
    if (role != Qt::DisplayRole) return {};
    static const char* names[] = {"name",   "kind",     "shape",         "dtype",
                                  "device", "elements", "requires_grad", "in state_dict"};
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

QVariant ModuleTreeModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    const Node* n = static_cast<Node*>(index.internalPointer());
    const int col = index.column();
    if (!n->is_tensor) {
        const QString type = n->owner->type_name().empty()
                                 ? QStringLiteral("?")
                                 : QString::fromStdString(n->owner->type_name());
        switch (role) {
        case Qt::DisplayRole:
            if (col == NameCol)
                return n->full.empty() ? QStringLiteral("(model)")
                                       : QString::fromStdString(n->local);
            if (col == KindCol) return type;
            if (col == ShapeCol) return n->shape;
            if (col == ElementsCol && n->param_elements + n->buffer_elements > 0)
                return QLocale::c().toString(n->param_elements + n->buffer_elements);
            return {};
        case Qt::DecorationRole:
            return col == NameCol ? style_icon(SlotStyle::Module) : QVariant();
        case Qt::FontRole: {
            QFont f;
            f.setBold(true);
            return col == NameCol ? QVariant(f) : QVariant();
        }
        case Qt::ToolTipRole: {
            if (n->owner->type_name().empty())
                return QStringLiteral("module of unknown type (inferred from a state dict)");
            // repr() reads the live module: under the model lock, as every read here.
            std::optional<UiLock> lock;
            if (m_lock) lock.emplace(*m_lock);
            const QLocale c = QLocale::c();
            const QString output = n->shape.isEmpty()
                                       ? QStringLiteral("no forward pass yet")
                                       : "output of its last call " + n->shape.mid(2);
            return QString(
                       "%1 parameters (%2 elements), %3 buffers (%4 elements), %5 bytes; %6\n\n")
                       .arg(n->params)
                       .arg(c.toString(n->param_elements))
                       .arg(n->buffers)
                       .arg(c.toString(n->buffer_elements))
                       .arg(c.toString(n->bytes))
                       .arg(output) +
                   QString::fromStdString(n->owner->repr()).left(2000);
        }
        case StyleRole:
            return int(SlotStyle::Module);
        case FullNameRole:
            return QString::fromStdString(n->full);
        case IsTensorRole:
            return false;
        default:
            return {};
        }
    }
    if (!n->defined) return {};
    const SlotStyle style = slot_style(n->kind, n->kind == TensorKind::Parameter || n->persistent);
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case NameCol:
            return QString::fromStdString(n->local);
        case KindCol:
            return style_label(style);
        case ShapeCol:
            return n->shape;
        case DTypeCol:
            return n->dtype;
        case DeviceCol:
            return n->device;
        case ElementsCol:
            return QLocale::c().toString(n->numel);
        case RequiresGradCol:
            return n->requires_grad ? QStringLiteral("yes") : QString();
        case InStateDictCol:
            return style == SlotStyle::Attribute || style == SlotStyle::NonPersistentBuffer
                       ? QStringLiteral("no")
                       : QStringLiteral("yes");
        }
        return {};
    case Qt::DecorationRole:
        return col == NameCol ? style_icon(style) : QVariant();
    case Qt::ForegroundRole:
        if (col == DeviceCol && n->device != QLatin1String("cpu"))
            return QColor(255, 255, 255); // a badge: white on the device's colour
        return col == KindCol || col == InStateDictCol ? QVariant(style_color(style)) : QVariant();
    case Qt::BackgroundRole:
        if (col == DeviceCol && n->device.startsWith("sim"))
            return QColor(128, 90, 170); // simulated GPU
        if (col == DeviceCol && n->device.startsWith("cuda"))
            return QColor(60, 140, 60); // NVIDIA green
        return {};
    case Qt::TextAlignmentRole:
        return col == ElementsCol ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::ToolTipRole:
        // The full text of every cell (the columns elide in the middle), then the kind.
        return QString::fromStdString(n->full) + " " + n->shape + " " + n->dtype + " on " +
               n->device + " — " +
               (style == SlotStyle::Attribute
                    ? QStringLiteral(
                          "plain attribute: not registered, not in state_dict, not moved by to()")
                : style == SlotStyle::NonPersistentBuffer
                    ? QStringLiteral("buffer registered with persistent=False: moved by to(), not "
                                     "in state_dict")
                : style == SlotStyle::Buffer
                    ? QStringLiteral(
                          "buffer: in state_dict, moved by to(), never updated by an optimizer")
                    : QStringLiteral(
                          "parameter: in state_dict, moved by to(), updated by an optimizer"));
    case StyleRole:
        return int(style);
    case FullNameRole:
        return QString::fromStdString(n->full);
    case IsTensorRole:
        return true;
    default:
        return {};
    }
}

// --- filter ---------------------------------------------------------------------------------

ModuleTreeFilter::ModuleTreeFilter(QObject* parent) : QSortFilterProxyModel(parent) {
    setRecursiveFilteringEnabled(true);
    setFilterCaseSensitivity(Qt::CaseInsensitive);
    setFilterKeyColumn(ModuleTreeModel::NameCol);
    setFilterRole(ModuleTreeModel::FullNameRole);
}

void ModuleTreeFilter::set_style_visible(SlotStyle style, bool visible) {
    m_visible[int(style)] = visible;
    invalidateFilter();
}

bool ModuleTreeFilter::style_visible(SlotStyle style) const {
    return m_visible[int(style)];
}

bool ModuleTreeFilter::filterAcceptsRow(int row, const QModelIndex& parent) const {
    QModelIndex idx = sourceModel()->index(row, 0, parent);
    const bool is_tensor = idx.data(ModuleTreeModel::IsTensorRole).toBool();
    if (!is_tensor) {
        // Modules show when their own name matches (or through a matching descendant,
        // which recursive filtering handles); with an empty filter, always.
        return filterRegularExpression().pattern().isEmpty() ||
               QSortFilterProxyModel::filterAcceptsRow(row, parent);
    }
    if (!m_visible[idx.data(ModuleTreeModel::StyleRole).toInt()]) return false;
    return QSortFilterProxyModel::filterAcceptsRow(row, parent);
}

} // namespace nnscope::ui
