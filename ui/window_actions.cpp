// window_actions.cpp: the main window's menus, toolbars and kind legend: every action a
// user can take, wired to the MainWindow method that does it.
#include "main_window.h"
#include "step_controller.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QToolBar>
#include <QTreeView>

#include "examples.h"
#include "model_facts.h"
#include "module_tree_model.h"
#include "plot_panel.h"
#include "step_worker.h"
#include "tensor_kind_style.h"

namespace nnscope::ui {

QWidget* MainWindow::make_legend() {
    // The legend is also the kind filter: unticking a kind hides its rows.
    auto* w = new QWidget(this);
    // Two rows of two: the full labels fit a narrow panel (one row of four was cut to
    // "buffer (not in state_c" at 800 px).
    auto* l = new QGridLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->setVerticalSpacing(0);
    int i = 0;
    for (SlotStyle s : {SlotStyle::Parameter, SlotStyle::Buffer, SlotStyle::Attribute,
                        SlotStyle::NonPersistentBuffer}) {
        auto* box = new QCheckBox(style_label(s), w);
        box->setToolTip(tr("show or hide every %1").arg(style_label(s)));
        box->setIcon(style_icon(s));
        box->setChecked(true);
        box->setObjectName(QStringLiteral("legend_") + QString::number(int(s)));
        connect(box, &QCheckBox::toggled, this,
                [this, s](bool on) { m_filter->set_style_visible(s, on); });
        l->addWidget(box, i / 2, i % 2);
        ++i;
    }
    l->setColumnStretch(2, 1);
    return w;
}

void MainWindow::make_toolbar() {
    QToolBar* bar = addToolBar(tr("Stepping"));
    bar->setObjectName("stepping");
    m_step_action = bar->addAction(tr("Step"), this, [this] { step_blocking(1); });
    m_step_action->setShortcut(QKeySequence(Qt::Key_F10));
    m_step_action->setToolTip(
        tr("One step (F10): a forward pass, or a training step when enabled"));
    m_run_action = bar->addAction(tr("Run"), this,
                                  [this] { is_running() ? stop_running() : start_running(); });
    m_run_action->setShortcut(QKeySequence(Qt::Key_F5));
    m_run_action->setToolTip(tr("Run / Pause (F5)"));
    m_rate_box = new QComboBox(bar);
    m_rate_box->setObjectName("rate");
    m_rate_box->addItem(tr("10 steps/s"), 10.0);
    m_rate_box->addItem(tr("100 steps/s"), 100.0);
    m_rate_box->addItem(tr("as fast as possible"), 0.0);
    m_rate_box->setCurrentIndex(1);
    connect(m_rate_box, &QComboBox::currentIndexChanged, this,
            [this] { m_stepper->set_rate(m_rate_box->currentData().toDouble()); });
    m_stepper->set_rate(100.0);
    bar->addWidget(m_rate_box);
    bar->addSeparator();
    m_train_action = bar->addAction(tr("Train mode"));
    m_train_action->setCheckable(true);
    m_train_action->setChecked(true);
    m_train_action->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_train_action->setToolTip(tr("model.train() when checked, model.eval() when not (Ctrl+E)"));
    connect(m_train_action, &QAction::toggled, this, [this](bool on) { set_training_mode(on); });
    bar->addSeparator();
    m_training_box = new QCheckBox(tr("Training step"), bar);
    m_training_box->setObjectName("training_step");
    m_training_box->setToolTip(tr("forward, MSE loss, backward, optimizer step: parameters change, "
                                  "buffers only through forward"));
    connect(m_training_box, &QCheckBox::toggled, this, [this](bool on) { set_training_step(on); });
    bar->addWidget(m_training_box);
    m_optimizer_box = new QComboBox(bar);
    m_optimizer_box->addItem("SGD lr=0.05 momentum=0.9", "sgd:lr=0.05,momentum=0.9");
    m_optimizer_box->addItem("SGD lr=0.01", "sgd:lr=0.01");
    m_optimizer_box->addItem("Adam lr=1e-3", "adam:lr=1e-3");
    m_optimizer_box->addItem("Adam lr=1e-2", "adam:lr=1e-2");
    connect(m_optimizer_box, &QComboBox::currentIndexChanged, this, [this] {
        if (m_training_box->isChecked()) set_training_step(true);
    });
    bar->addWidget(m_optimizer_box);
    bar->addSeparator();
    // Input generator: noise std and the amplitude of the drifting mean.
    auto* inputs = addToolBar(tr("Inputs"));
    inputs->setObjectName("inputs");
    inputs->addWidget(new QLabel(tr(" input std "), inputs));
    m_std_box = new QDoubleSpinBox(inputs);
    m_std_box->setRange(0, 100);
    m_std_box->setSingleStep(0.1);
    m_std_box->setValue(1.0);
    inputs->addWidget(m_std_box);
    inputs->addWidget(new QLabel(tr(" mean drift "), inputs));
    m_drift_box = new QDoubleSpinBox(inputs);
    m_drift_box->setRange(0, 100);
    m_drift_box->setSingleStep(0.5);
    m_drift_box->setValue(2.0);
    m_drift_box->setToolTip(
        tr("amplitude of the slow sine drift of every feature's mean (period 500 steps)"));
    inputs->addWidget(m_drift_box);
    auto apply_inputs = [this] {
        set_input_distribution(m_std_box->value(), m_drift_box->value());
    };
    inputs->addWidget(new QLabel(tr(" input shape "), inputs));
    m_shape_edit = new QLineEdit(inputs);
    m_shape_edit->setObjectName("input_shape");
    m_shape_edit->setMaximumWidth(130);
    m_shape_edit->setToolTip(
        tr("the input's shape, batch first (e.g. 8,3,224,224); empty: from the model's "
           "first layer. Remembered per file."));
    inputs->addWidget(m_shape_edit);
    connect(m_shape_edit, &QLineEdit::editingFinished, this, [this] {
        if (m_shape_edit->isModified()) set_input_shape(m_shape_edit->text());
        m_shape_edit->setModified(false);
    });
    connect(m_std_box, &QDoubleSpinBox::valueChanged, this, apply_inputs);
    connect(m_drift_box, &QDoubleSpinBox::valueChanged, this, apply_inputs);
    bar->addAction(tr("Reset running stats"), this, [this] {
        if (!m_doc.root) return;
        stop_running();
        int n = 0;
        {
            UiLock lock(m_lock);
            n = reset_running_stats(*m_doc.root);
        }
        log(QString("reset_running_stats() on %1 BatchNorm module(s)").arg(n));
        m_plots->clear();
        refresh_selection();
    });
}

void MainWindow::make_menus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open…"), QKeySequence::Open, this, [this] {
        QString path =
            QFileDialog::getOpenFileName(this, tr("Open model"), {},
                                         tr("Models (*.json *.safetensors *.safetensors.index.json "
                                            "*.bin.index.json *.pt *.pth *.pth.tar *.bin *.ckpt);;"
                                            "TorchScript (*.pt *.pth *.zip);;All files (*)"));
        if (!path.isEmpty()) open_path_async(path);
    });
    m_recent_menu = file->addMenu(tr("Open &recent"));
    rebuild_recent_menu();
    // Each example by its title, its name in the tooltip (and on the command line: -e NAME).
    QMenu* examples = file->addMenu(tr("Open &example"));
    examples->setToolTipsVisible(true);
    for (const auto& ex : builtin_examples()) {
        const QString name = QString::fromStdString(ex.name);
        const QJsonObject spec =
            QJsonDocument::fromJson(QByteArray::fromStdString(ex.json)).object();
        const QString title = spec.value("title").toString(name);
        QAction* a = examples->addAction(title, this, [this, name] { open_builtin_example(name); });
        a->setToolTip(name);
        a->setObjectName("example_" + name);
    }
    // A name typed without an extension gets the chosen filter's.
    auto save_as = [this] {
        QString filter;
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save state dict"), {},
            tr("safetensors (*.safetensors);;PyTorch state dict (*.pt *.pth)"), &filter);
        if (!path.isEmpty()) save_state_dict_to(with_filter_suffix(path, filter));
    };
    file->addAction(tr("&Save state dict"), QKeySequence::Save, this, [this, save_as] {
        if (!m_save_path.isEmpty())
            save_state_dict_to(m_save_path);
        else
            save_as();
    });
    file->addAction(tr("&Save state dict as…"), QKeySequence::SaveAs, this, save_as);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);

    QMenu* model = menuBar()->addMenu(tr("&Model"));
    for (bool strict : {true, false})
        model->addAction(
            strict ? tr("Load state dict (strict)…") : tr("Load state dict (strict=False)…"), this,
            [this, strict] {
                QString path =
                    QFileDialog::getOpenFileName(this, tr("Load state dict"), {},
                                                 tr("State dicts (*.safetensors *.pt *.pth "
                                                    "*.pth.tar *.bin *.ckpt);;All files (*)"));
                if (!path.isEmpty()) load_state_dict_from(path, strict);
            });
    model->addAction(tr("Diff with file…"), this, [this] {
        QString path = QFileDialog::getOpenFileName(
            this, tr("Diff with"), {},
            tr("State dicts (*.safetensors *.pt *.pth *.json);;All files (*)"));
        if (!path.isEmpty()) diff_with(path);
    });
    model->addAction(tr("Step inputs from file…"), this, [this] {
        QString path =
            QFileDialog::getOpenFileName(this, tr("Inputs (x [steps, ...], optional y)"), {},
                                         tr("Tensors (*.safetensors *.pt *.pth);;All files (*)"));
        if (!path.isEmpty()) use_inputs_from(path);
    });
    model->addSeparator();
    model->addAction(tr("Watch selected tensor"), QKeySequence(tr("W")), this, [this] {
        if (!m_selected.isEmpty()) watch(m_selected);
    });
    model->addAction(tr("Unwatch selected tensor"), this, [this] { unwatch(m_selected); });
    model->addAction(tr("Export plots as PNG…"), this, [this] {
        QString path =
            QFileDialog::getSaveFileName(this, tr("Export plot"), "plot.png", tr("PNG (*.png)"));
        if (!path.isEmpty() && !m_plots->export_png(path))
            report_error(path + ": cannot write the image");
    });
    model->addAction(tr("Export plots as CSV…"), this, [this] {
        QString path = QFileDialog::getSaveFileName(this, tr("Export plot data"), "plot.csv",
                                                    tr("CSV (*.csv)"));
        if (!path.isEmpty() && !m_plots->export_csv(path))
            report_error(path + ": cannot write the file");
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Expand all"), QKeySequence(tr("Ctrl+Shift+Down")), this, [this] {
        m_tree->expandAll();
        fit_columns();
    });
    view->addAction(tr("Collapse all"), QKeySequence(tr("Ctrl+Shift+Up")), this, [this] {
        m_tree->collapseAll();
        m_tree->expand(m_tree->model()->index(0, 0));
    });
    view->addAction(tr("Fit columns to contents"), this, [this] { fit_columns(); });
    QMenu* columns = view->addMenu(tr("Columns"));
    for (int c = 1; c < ModuleTreeModel::ColumnCount; ++c) {
        QAction* a = columns->addAction(m_model->headerData(c, Qt::Horizontal).toString());
        a->setCheckable(true);
        a->setChecked(true);
        connect(a, &QAction::toggled, this,
                [this, c](bool on) { m_tree->setColumnHidden(c, !on); });
    }
    view->addSeparator();
    for (auto [label, widget] : {std::pair{tr("Plots and inspector"), m_tabs},
                                 std::pair{tr("Lesson and log"), m_bottom_tabs}}) {
        QAction* a = view->addAction(label);
        a->setCheckable(true);
        a->setChecked(true);
        connect(a, &QAction::toggled, widget, &QWidget::setVisible);
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("Keyboard shortcuts"), this, [this] {
        QString text = "<table cellspacing=4>";
        for (QAction* a : findChildren<QAction*>())
            if (!a->shortcut().isEmpty())
                text += "<tr><td><b>" + a->shortcut().toString(QKeySequence::NativeText) +
                        "</b></td><td>" + QString(a->text()).remove('&') + "</td></tr>";
        QMessageBox::information(this, tr("Keyboard shortcuts"), text + "</table>");
    });
    help->addAction(tr("What the kinds mean"), this, [this] {
        QMessageBox::information(
            this, tr("What the kinds mean"),
            tr("<p><b>parameter</b>: registered with register_parameter (or an nn.Parameter "
               "attribute). In state_dict, moved by to(), returned by parameters() and so "
               "updated by an optimizer.</p>"
               "<p><b>buffer</b>: registered with register_buffer. In state_dict, moved by "
               "to(), never returned by parameters(): layers update theirs in forward "
               "(BatchNorm's running statistics).</p>"
               "<p><b>buffer (not in state_dict)</b>: register_buffer(..., persistent=False): "
               "moved by to(), not saved.</p>"
               "<p><b>attribute (not registered)</b>: a plain tensor attribute. Not saved, not "
               "moved by to(): after model.to('cuda') it stays on the CPU.</p>"));
    });
    help->addAction(tr("About nnscope"), this, [this] {
        QMessageBox::about(this, tr("About nnscope"),
                           tr("<b>nnscope</b> %1<br>See inside a PyTorch-style model: parameters, "
                              "buffers and attributes, what a forward pass does to running "
                              "statistics, what moves with a device.")
                               .arg(QApplication::applicationVersion()));
    });

    // An unusable device stays listed, disabled, with its reason in the tooltip and the
    // status bar (menus show tooltips here).
    QMenu* devices = menuBar()->addMenu(tr("&Devices"));
    devices->setToolTipsVisible(true);
    QMenu* one = new QMenu(tr("Move selected tensor to"), devices);
    one->setToolTipsVisible(true);
    for (const auto& d : list_devices()) {
        const QString name = QString::fromStdString(d.name);
        const QString why = name + tr(" is not available: ") + QString::fromStdString(d.reason);
        QString label =
            tr("Move model to %1").arg(name) + (d.simulated ? tr(" (simulated)") : QString());
        if (!d.available) label += tr(" (not available)");
        for (QAction* a :
             {devices->addAction(label, this, [this, name] { move_model_to(name); }),
              one->addAction(name, this, [this, name] { move_tensor_to(m_selected, name); })}) {
            a->setObjectName("device_" + name);
            a->setEnabled(d.available);
            a->setToolTip(d.available ? a->text() : why);
            a->setStatusTip(d.available ? QString() : why);
        }
    }
    devices->addSeparator();
    devices->addMenu(one);
}

} // namespace nnscope::ui
