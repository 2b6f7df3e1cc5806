// main_window.h: nnscope's main window: the module tree (parameters, buffers and
// attributes apart, with a legend that doubles as kind filters), the inspector, live plots
// of watched tensors and the loss, step controls (step, run/pause, rate, train/eval,
// optional training step), device moves, state-dict load/save, the lesson and an action
// log in PyTorch's terms. Steps run on a worker thread that shares the model with the UI
// through one lock.
#pragma once

#include <QMainWindow>
#include <memory>
#include <mutex>

#include "document.h"
#include "model_lock.h"

class QAction;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QTextBrowser;
class QTreeView;

namespace nnscope::ui {

// What an error box says first: the message's first line, cut at a seam past 300
// characters (the whole text goes to the box's details).
QString error_summary(const QString& what);
// `path` with the first extension of a file dialog's filter ("safetensors (*.safetensors)")
// when it has none of its own.
QString with_filter_suffix(const QString& path, const QString& filter);

class InspectorPanel;
class ModuleTreeFilter;
class ModuleTreeModel;
class PlotPanel;
class StepController;
struct StepBatch;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Both return false (after telling the user why) and keep the current model when the
    // file or example cannot be opened.
    bool open_path(const QString& path);
    // The same on a pool thread with a cancellable progress dialog (menu, drop, recent files).
    void open_path_async(const QString& path);
    bool open_builtin_example(const QString& name);
    bool save_state_dict_to(const QString& path);
    // model.load_state_dict(file, strict): PyTorch's report in the log; nothing changes on failure.
    bool load_state_dict_from(const QString& path, bool strict);
    // model.to(device) with the what-moved message; false (and the reason logged) on failure.
    bool move_model_to(const QString& device);
    // model.<tensor> = model.<tensor>.to(device): moves one slot.
    bool move_tensor_to(const QString& tensor, const QString& device);
    // Steps feed x[i] (and y[i] as the target) from a file instead of the generator.
    bool use_inputs_from(const QString& path);
    // The diff view between the model's state dict and a file's; nullptr on failure.
    class DiffDialog* diff_with(const QString& path);
    QStringList recent_files() const;

  signals:
    // Every error the window reports, as it reports it (tests, the GUI benchmark).
    void error_reported(const QString& what);

  protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void dragEnterEvent(class QDragEnterEvent* event) override;
    void dropEvent(class QDropEvent* event) override;
    void closeEvent(class QCloseEvent* event) override;

  public:
    // Stepping. step_blocking runs n steps and waits for them (screenshots, tests).
    void step_blocking(int n);
    void start_running();
    void stop_running();
    bool is_running() const;
    int64_t steps_done() const;                            // since the model was opened
    void set_rate(double steps_per_second);                // 0 = as fast as possible
    void set_training_mode(bool train);                    // model.train() / model.eval()
    void set_training_step(bool on);                       // optimizer steps on or off
    void set_input_distribution(double std, double drift); // the generator's noise and drift
    // The input's shape, "8,3,224,224" (remembered for this file), or "" for the model's own
    // or guessed shape. False with the error logged when it does not parse.
    bool set_input_shape(const QString& text);
    bool can_step() const;
    void watch(const QString& name);
    void unwatch(const QString& name);
    QStringList watches() const;

    const Document& document() const { return m_doc; }
    ModuleTreeModel* tree_model() const { return m_model; }
    QTreeView* tree_view() const { return m_tree; }
    InspectorPanel* inspector() const { return m_inspector; }
    PlotPanel* plots() const { return m_plots; }
    QString status_text() const;
    // "plots" or "inspector": the upper tab shown.
    void show_tab(const QString& name);
    QString log_text() const;
    QString last_error() const { return m_last_error; }
    ModelLock& model_lock() { return m_lock; }

  private:
    // Shows `doc` from a clean slate; `opened` ("opened PATH") heads its part of the log.
    void set_document(Document doc, const QString& opened);
    void on_selection(const QModelIndex& proxy_index);
    void refresh_selection();
    void update_totals();
    void fit_columns();
    void report_error(const QString& what);
    void log(const QString& line);
    void on_progress(const std::shared_ptr<StepBatch>& batch);
    void rebuild_engine();
    void default_watches();
    void push_watches();
    void set_watch_list(const QStringList& names);
    QWidget* make_legend();
    void make_toolbar();
    void make_menus();
    void remember(const QString& path);
    void rebuild_recent_menu();
    void apply_plot_palette();
    class QMenu* m_recent_menu = nullptr;

    Document m_doc;
    ModelLock m_lock;
    StepController* m_stepper = nullptr;
    QString m_engine_error; // why the model cannot step, or empty

    ModuleTreeModel* m_model;
    ModuleTreeFilter* m_filter;
    QTreeView* m_tree;
    QLineEdit* m_filter_edit;
    QLabel* m_no_match;
    class QTabWidget* m_tabs = nullptr;
    class QTabWidget* m_bottom_tabs = nullptr; // "no name contains ..." under the filter box
    InspectorPanel* m_inspector;
    PlotPanel* m_plots;
    QTextBrowser* m_lesson;
    QPlainTextEdit* m_log;
    QLabel* m_totals;
    QLabel* m_step_label;
    QAction* m_step_action = nullptr;
    QAction* m_run_action = nullptr;
    QAction* m_train_action = nullptr;
    QCheckBox* m_training_box = nullptr;
    QComboBox* m_optimizer_box = nullptr;
    QComboBox* m_rate_box = nullptr;
    QDoubleSpinBox* m_std_box = nullptr;
    QDoubleSpinBox* m_drift_box = nullptr;
    QLineEdit* m_shape_edit = nullptr;
    QString m_last_error;
    QString m_selected;
    QString m_save_path;
};

} // namespace nnscope::ui
