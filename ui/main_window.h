// main_window.h: nnscope's main window: the module tree (parameters, buffers and
// attributes apart, with a legend that doubles as kind filters), the inspector, the
// example's lesson, and totals in the status bar.
#pragma once

#include <QMainWindow>

#include "document.h"

class QLineEdit;
class QTextBrowser;
class QTreeView;
class QLabel;

namespace nnscope::ui {

class InspectorPanel;
class ModuleTreeFilter;
class ModuleTreeModel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Both return false (after telling the user why) and keep the current model when the
    // file or example cannot be opened.
    bool open_path(const QString& path);
    bool open_builtin_example(const QString& name);
    bool save_state_dict_to(const QString& path);

    const Document& document() const { return m_doc; }
    ModuleTreeModel* tree_model() const { return m_model; }
    QTreeView* tree_view() const { return m_tree; }
    InspectorPanel* inspector() const { return m_inspector; }
    QString status_text() const;
    QString last_error() const { return m_last_error; }

private:
    void set_document(Document doc);
    void on_selection(const QModelIndex& proxy_index);
    void update_totals();
    void report_error(const QString& what);
    QWidget* make_legend();

    Document m_doc;
    ModuleTreeModel* m_model;
    ModuleTreeFilter* m_filter;
    QTreeView* m_tree;
    QLineEdit* m_filter_edit;
    InspectorPanel* m_inspector;
    QTextBrowser* m_lesson;
    QLabel* m_totals;
    QString m_last_error;
};

} // namespace nnscope::ui
