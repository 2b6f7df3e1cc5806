// test_ui.cpp: the window headless (QT_QPA_PLATFORM=offscreen): the tree model passes
// QAbstractItemModelTester on every example, rows carry the right kinds, the legend
// toggles and the filter box hide what they should, selection fills the inspector, and a
// failed open leaves the model exactly as it was.
#include "../test_support.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QKeyEvent>
#include <QLineEdit>
#include <QMenuBar>
#include <QProgressDialog>
#include <QPushButton>
#include <QStatusBar>
#include <QTreeView>
#include <qcustomplot.h>

#include "autograd.h"
#include "diff_dialog.h"
#include "examples.h"
#include "gpu.h"
#include "plot_panel.h"
#include "random.h"
#include "step_controller.h"
#include "step_engine.h"
#include "step_worker.h"
#include "tensor_table_model.h"
#include "torch_zip.h"

#include "inspector_panel.h"
#include "main_window.h"
#include "module_tree_model.h"
#include <QSettings>
#include <QStandardItemModel>
#include <QStandardPaths>

using namespace nnscope;
using namespace nnscope::ui;

namespace {
// Every visible row's full name, depth first.
QStringList visible_names(QAbstractItemModel* m, const QModelIndex& parent = {}) {
    QStringList out;
    for (int r = 0; r < m->rowCount(parent); ++r) {
        QModelIndex i = m->index(r, 0, parent);
        out << i.data(ModuleTreeModel::FullNameRole).toString();
        out << visible_names(m, i);
    }
    return out;
}

// Every name, dtype, shape and value bit of the state dict (values widen to double
// exactly, so their bytes change with any bit of the tensor's own values).
std::string state_hash(Module& m) {
    std::string h;
    for (const auto& [k, v] : m.state_dict().tensors) {
        h += k + std::string(dtype_name(v.dtype())) + shape_str(v.shape());
        const std::vector<double> values = v.to_doubles();
        h.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
    }
    return h;
}
} // namespace

class TestUi : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() {
        nnscope::gpu::register_devices();
        QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location
        QSettings().clear();
    }

    void diff_inputs_and_recent_files() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        const QString torch_file =
            QString::fromStdString(test::fixtures_dir()) + "/mlp_torch.safetensors";
        DiffDialog* d = w.diff_with(torch_file);
        QVERIFY(d);
        QStringList rows;
        for (int r = 0; r < d->table()->rowCount(); ++r)
            rows << d->table()->item(r, 0)->text() + ": " + d->table()->item(r, 1)->text();
        QVERIFY2(rows.contains("4.weight: only in model"), qPrintable(rows.join("; ")));
        QVERIFY(rows.contains("3.weight: shape differs"));
        QVERIFY(rows.contains("0.weight: values differ"));
        // Steps fed from a file: x [3, 4, 6] and targets y [3, 4, 4].
        QTemporaryDir tmp;
        auto inputs = std::make_shared<Module>("Inputs");
        Generator gen(1);
        inputs->register_buffer("x", randn({3, 4, 6}, gen));
        inputs->register_buffer("y", randn({3, 4, 4}, gen));
        save_state_dict(*inputs, tmp.filePath("in.safetensors").toStdString());
        QVERIFY(w.use_inputs_from(tmp.filePath("in.safetensors")));
        w.set_training_step(true);
        w.step_blocking(5);
        QCOMPARE(w.document().root->child("1")->attr("num_batches_tracked").item_int(), int64_t(5));
        QCOMPARE(w.plots()->loss_points(), size_t(5));
        QVERIFY(w.log_text().contains("inputs: inputs x[3, 4, 6], targets y[3, 4, 4]"));
        QVERIFY(!w.use_inputs_from(torch_file)); // no x: refused, stepping goes on as before
        // Opened files are remembered.
        QVERIFY(w.open_path(torch_file));
        QCOMPARE(w.recent_files().value(0), torch_file);
    }

    void model_passes_qt_model_tester() {
        for (const auto& ex : builtin_examples()) {
            ModuleTreeModel model;
            QAbstractItemModelTester tester(&model,
                                            QAbstractItemModelTester::FailureReportingMode::QtTest);
            model.set_root(open_example(ex.name).root);
            ModuleTreeFilter filter;
            filter.setSourceModel(&model);
            QAbstractItemModelTester tester2(
                &filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
            filter.setFilterFixedString("running");
            filter.set_style_visible(SlotStyle::Parameter, false);
            model.refresh();
        }
    }

    void rows_show_kinds_and_state_dict_membership() {
        ModuleTreeModel model;
        model.set_root(open_example("plain-attribute").root);
        auto cell = [&](const QString& name, int col) {
            return model.index(model.index_of(name).row(), col, model.index_of(name).parent())
                .data()
                .toString();
        };
        QCOMPARE(cell("my_param", ModuleTreeModel::KindCol), QString("parameter"));
        QCOMPARE(cell("my_buffer", ModuleTreeModel::KindCol), QString("buffer"));
        QCOMPARE(cell("my_tensor", ModuleTreeModel::KindCol),
                 QString("attribute (not registered)"));
        QCOMPARE(cell("my_param", ModuleTreeModel::InStateDictCol), QString("yes"));
        QCOMPARE(cell("my_tensor", ModuleTreeModel::InStateDictCol), QString("no"));
        QCOMPARE(cell("my_param", ModuleTreeModel::RequiresGradCol), QString("yes"));
        // Children of the root come in PyTorch's order: parameters, buffers, attributes.
        QCOMPARE(visible_names(&model), QStringList({"", "my_param", "my_buffer", "my_tensor"}));

        // Non-persistent buffers are marked, and cells read the live tensor.
        auto root = std::make_shared<Module>("M");
        root->register_buffer("scratch", zeros({2}), false);
        model.set_root(root);
        QModelIndex i = model.index_of("scratch");
        QCOMPARE(model.index(i.row(), ModuleTreeModel::KindCol, i.parent()).data().toString(),
                 QString("buffer (not in state_dict)"));
        root->set_attr("scratch", zeros({5, 3}));
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.refresh(); // cells show what refresh() copied from the live tensors
        QVERIFY(changed.count() > 0);
        QCOMPARE(model.index(i.row(), ModuleTreeModel::ShapeCol, i.parent()).data().toString(),
                 QString("[5, 3]"));
    }

    void legend_and_filter_hide_rows() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.show();
        QAbstractItemModel* view_model = w.tree_view()->model();
        QCOMPARE(visible_names(view_model).size(), 1 + 7 + 16);
        auto* params =
            w.findChild<QCheckBox*>("legend_" + QString::number(int(SlotStyle::Parameter)));
        QVERIFY(params);
        QTest::mouseClick(params, Qt::LeftButton, {}, QPoint(5, params->height() / 2));
        QVERIFY(!params->isChecked());
        QStringList names = visible_names(view_model);
        QCOMPARE(names.size(), 1 + 7 + 6); // only the six buffers are left
        QVERIFY(names.contains("4.running_var"));
        QVERIFY(!names.contains("0.weight"));
        QTest::mouseClick(params, Qt::LeftButton, {}, QPoint(5, params->height() / 2));
        auto* edit = w.findChild<QLineEdit*>("filter");
        QTest::keyClicks(edit, "num_batches");
        QCOMPARE(visible_names(view_model),
                 QStringList({"", "1", "1.num_batches_tracked", "4", "4.num_batches_tracked"}));
    }

    void selection_fills_inspector() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("parameter-vs-buffer"));
        w.show();
        QModelIndex src = w.tree_model()->index_of("running_var");
        auto* proxy = static_cast<QSortFilterProxyModel*>(w.tree_view()->model());
        w.tree_view()->setCurrentIndex(proxy->mapFromSource(src));
        QString text = w.inspector()->details_text();
        QVERIFY2(text.startsWith("running_var\n"), qPrintable(text));
        QVERIFY(text.contains("tensor([1., 1., 1.])"));
        QVERIFY(text.contains("1 / 1")); // min / max
        QVERIFY(w.status_text().contains("parameters: 2 (12 elements)"));
        QVERIFY(w.status_text().contains("buffers: 2 (6 elements)"));
    }

    // Drive the real window: step, switch modes, train, move devices, load state dicts.
    void stepping_updates_buffers_and_plots() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        QVERIFY(w.can_step());
        QCOMPARE(w.watches(), QStringList({"1.running_mean", "1.running_var", "4.running_mean",
                                           "4.running_var"}));
        auto bn = w.document().root->child("1");
        w.step_blocking(20);
        QCOMPARE(bn->attr("num_batches_tracked").item_int(), int64_t(20));
        QCOMPARE(w.plots()->points(0), size_t(20));
        QCOMPARE(w.plots()->loss_points(), size_t(0)); // forward passes only: no loss
        // eval mode: running statistics freeze; a marker shows the switch.
        std::vector<double> frozen = bn->attr("running_mean").to_doubles();
        w.set_training_mode(false);
        w.step_blocking(10);
        QCOMPARE(bn->attr("running_mean").to_doubles(), frozen);
        QCOMPARE(bn->attr("num_batches_tracked").item_int(), int64_t(20));
        QCOMPARE(w.plots()->mode_markers(), 1);
        QVERIFY(w.log_text().contains("model.eval()"));
        // Training steps: parameters move, the loss is plotted, buffers change only by forward.
        w.set_training_mode(true);
        w.set_training_step(true);
        std::vector<double> weight = w.document().root->child("0")->attr("weight").to_doubles();
        w.step_blocking(15);
        QVERIFY(w.document().root->child("0")->attr("weight").to_doubles() != weight);
        QCOMPARE(w.plots()->loss_points(), size_t(15));
        QVERIFY(w.log_text().contains("optimizer = torch.optim.SGD(model.parameters()"));
        // Running continuously in the background, then pausing.
        w.start_running();
        QTest::qWait(150);
        w.stop_running();
        QVERIFY(!w.is_running());
        QVERIFY(bn->attr("num_batches_tracked").item_int() > 35);
        QVERIFY(w.plots()->frames_drawn() > 0);
        QTemporaryDir tmp;
        QVERIFY(w.plots()->export_csv(tmp.filePath("p.csv")));
        QVERIFY(w.plots()->export_png(tmp.filePath("p.png")));
        QVERIFY(QFileInfo(tmp.filePath("p.png")).size() > 1000);
    }

    // #17, defects 1-3: watching one more tensor keeps the others' history (the new one
    // starts at the next step); the loss plot without a loss stays still and follows the
    // watch plot's steps; a newly opened model starts with clean plots, no filter, no
    // training step, and the mode of its own training flag.
    void plots_keep_history_and_each_model_starts_clean() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.step_blocking(20);
        w.set_training_mode(false);
        w.step_blocking(5);
        QCOMPARE(w.plots()->mode_markers(), 1);
        const QCPRange loss_y = w.plots()->y_range(true);
        for (int i = 0; i < 10; ++i) w.step_blocking(1); // one frame each
        QCOMPARE(w.plots()->y_range(true).lower, loss_y.lower);
        QCOMPARE(w.plots()->y_range(true).upper, loss_y.upper);
        QCOMPARE(w.plots()->x_range(true).upper, w.plots()->x_range(false).upper);
        QVERIFY(w.plots()->x_range(false).upper >= 35);
        w.watch("0.bias");
        QCOMPARE(w.watches().size(), 5);
        QCOMPARE(w.plots()->points(0), size_t(35));
        QCOMPARE(w.plots()->points(4), size_t(0));
        QCOMPARE(w.plots()->mode_markers(), 1);
        w.step_blocking(3);
        QCOMPARE(w.plots()->points(0), size_t(38));
        QCOMPARE(w.plots()->points(4), size_t(3));
        QCOMPARE(w.plots()->steps(4).front(), 36.0);
        w.unwatch("1.running_mean");
        QCOMPARE(w.plots()->points(0), size_t(38)); // 1.running_var, now first
        QCOMPARE(w.watches().first(), QString("1.running_var"));
        // Another model: nothing of the first one's state is left.
        w.set_training_mode(true);
        w.set_training_step(true);
        w.step_blocking(2);
        QVERIFY(w.plots()->loss_points() > 0);
        auto* filter = w.findChild<QLineEdit*>("filter");
        filter->setText("zzz-no-such-name");
        QVERIFY(w.findChild<QLabel*>("no_match")->isVisibleTo(&w));
        QVERIFY(w.open_builtin_example("running-average"));
        QCOMPARE(filter->text(), QString());
        QVERIFY(!w.findChild<QLabel*>("no_match")->isVisibleTo(&w));
        QCOMPARE(w.plots()->mode_markers(), 0);
        QCOMPARE(w.plots()->loss_points(), size_t(0));
        for (int i = 0; i < w.watches().size(); ++i) QCOMPARE(w.plots()->points(i), size_t(0));
        QVERIFY(!w.findChild<QCheckBox*>("training_step")->isChecked());
        QVERIFY(!w.log_text().endsWith("training steps off: forward passes only"));
        w.step_blocking(1);
        QCOMPARE(w.plots()->loss_points(), size_t(0)); // forward only again
    }

    void torchscript_models_step_with_an_input_shape() {
        // A scripted model does not say its input shape: the window guesses one from its
        // first Conv2d ([8, 3, 224, 224]) and takes the user's, remembered per file.
        MainWindow w;
        const QString file =
            QString::fromStdString(test::fixtures_dir()) + "/torchscript/net_scripted.pt";
        QVERIFY(w.open_path(file));
        QVERIFY(w.can_step());
        QVERIFY(w.log_text().contains("inputs: normal values [8, 3, 224, 224]"));
        QVERIFY(!w.set_input_shape("2,3,six"));
        QVERIFY(w.last_error().contains("expected positive sizes separated by commas"));
        QVERIFY(w.set_input_shape("2,3,6,6"));
        auto root = w.document().root;
        w.step_blocking(4);
        QCOMPARE(root->attr("steps").item_int(), int64_t(4)); // the code's own counter
        QCOMPARE(root->child("bn")->attr("num_batches_tracked").item_int(), int64_t(4));
        w.set_training_mode(false);
        std::vector<double> frozen = root->child("bn")->attr("running_mean").to_doubles();
        w.step_blocking(3);
        QCOMPARE(root->child("bn")->attr("running_mean").to_doubles(),
                 frozen);                                     // eval: BatchNorm frozen
        QCOMPARE(root->attr("steps").item_int(), int64_t(7)); // the code counts anyway
        // Script once, load many checkpoints: a state dict saved from it loads back into it,
        // values and all, and a different architecture's is refused with nothing changed.
        QTemporaryDir sd_dir;
        const QString sd = sd_dir.filePath("net.safetensors");
        const std::vector<double> mean_now = root->child("bn")->attr("running_mean").to_doubles();
        QVERIFY(w.save_state_dict_to(sd));
        w.set_training_mode(true);
        w.step_blocking(2);
        QVERIFY(root->child("bn")->attr("running_mean").to_doubles() != mean_now);
        QVERIFY(w.load_state_dict_from(sd, true));
        QCOMPARE(root->child("bn")->attr("running_mean").to_doubles(), mean_now);
        QCOMPARE(root->attr("steps").item_int(), int64_t(7));
        const std::string before_bad = state_hash(*root);
        QVERIFY(!w.load_state_dict_from(
            QString::fromStdString(test::fixtures_dir()) + "/mlp_torch.safetensors", true));
        QCOMPARE(state_hash(*root), before_bad);
        // Reopened, the file keeps its shape; a traced model says that the mode cannot change it.
        QVERIFY(w.open_path(file));
        QVERIFY(w.log_text().contains("inputs: normal values [2, 3, 6, 6]"));
        QVERIFY(w.open_path(QString::fromStdString(test::fixtures_dir()) +
                            "/torchscript/net_traced_eval.pt"));
        w.set_training_mode(true);
        QVERIFY(w.log_text().contains("this traced model's code never reads self.training"));
        // Pause ends a step that would run for a minute, and that step is undone.
        const std::string src = test::fixtures_dir() + "/torchscript/net_scripted.pt";
        torchzip::ZipReader zip(src);
        std::vector<std::string> bodies;
        std::vector<torchzip::WriteEntry> entries;
        bodies.reserve(zip.names().size());
        for (const auto& n : zip.names()) {
            std::string body = zip.read(n, 1 << 24);
            if (n == "net_scripted/code/__torch__.py")
                body.replace(body.find("    steps = self.steps"), 0,
                             "    _9 = torch.add_(self.steps, 1)\n    while True:\n      pass\n");
            bodies.push_back(body);
            entries.push_back({n, bodies.back().data(), bodies.back().size()});
        }
        QTemporaryDir tmp;
        const QString endless = tmp.filePath("endless.pt");
        torchzip::write_archive(endless.toStdString(), entries);
        QVERIFY(w.open_path(endless));
        QVERIFY(w.set_input_shape("2,3,6,6"));
        const int64_t steps_before = w.document().root->attr("steps").item_int();
        QElapsedTimer timer;
        timer.start();
        w.start_running();
        QTest::qWait(300);
        w.stop_running();
        QVERIFY(timer.elapsed() < 5000);
        QVERIFY(!w.is_running());
        QVERIFY2(w.log_text().contains("paused during a step: that step was undone"),
                 qPrintable(w.log_text()));
        QCOMPARE(w.document().root->attr("steps").item_int(), steps_before);
    }

    void devices_and_state_dicts() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("plain-attribute"));
        QVERIFY(w.move_model_to("sim:0"));
        QVERIFY2(w.log_text().contains("model.to('sim:0'): moved 1 parameters and 1 buffers (8 B) "
                                       "to sim:0; attribute my_tensor stayed on cpu"),
                 qPrintable(w.log_text()));
        QModelIndex i = w.tree_model()->index_of("my_param");
        QCOMPARE(w.tree_model()
                     ->index(i.row(), ModuleTreeModel::DeviceCol, i.parent())
                     .data()
                     .toString(),
                 QString("sim:0"));
        QVERIFY(w.status_text().contains("sim:0: 8 B"));
        // The forward pass now fails with PyTorch's words, in the log; the window goes on.
        w.step_blocking(1);
        QVERIFY2(w.log_text().contains("Expected all tensors to be on the same device, but found "
                                       "at least two devices, sim:0 and cpu!"),
                 qPrintable(w.log_text()));
        // Moving the one unregistered tensor too makes the forward pass work.
        QVERIFY(w.move_tensor_to("my_tensor", "sim:0"));
        QVERIFY(w.log_text().contains("model.my_tensor = model.my_tensor.to('sim:0')"));
        const int errors_before = w.log_text().count("error:");
        w.step_blocking(3);
        QCOMPARE(w.log_text().count("error:"), errors_before);
        QModelIndex t = w.tree_model()->index_of("my_tensor");
        QCOMPARE(w.tree_model()
                     ->index(t.row(), ModuleTreeModel::DeviceCol, t.parent())
                     .data()
                     .toString(),
                 QString("sim:0"));
        QVERIFY(w.tree_model()
                    ->index(t.row(), ModuleTreeModel::DeviceCol, t.parent())
                    .data(Qt::BackgroundRole)
                    .isValid()); // badge
        // Opening on a pool thread: the model is replaced when the read finishes.
        w.open_path_async(QString::fromStdString(test::fixtures_dir()) + "/pt/whole_net.pt");
        QTRY_COMPARE(QString::fromStdString(w.document().root->type_name()), QString("Net"));
        // Load a good and a bad state dict into the MLP.
        MainWindow m;
        QVERIFY(m.open_builtin_example("mlp-batchnorm"));
        QTemporaryDir tmp;
        Document other = open_example("mlp-batchnorm");
        {
            NoGradGuard no_grad;
            other.root->child("1")->attr("running_var").fill_(Scalar(3.0));
        }
        save_state_dict(*other.root, tmp.filePath("good.safetensors").toStdString());
        QVERIFY(m.load_state_dict_from(tmp.filePath("good.safetensors"), true));
        QVERIFY(m.log_text().contains(
            "model.load_state_dict(sd, strict=True): <All keys matched successfully>"));
        QCOMPARE(m.document().root->child("1")->attr("running_var").to_doubles()[0], 3.0);
        std::string before = state_hash(*m.document().root);
        QString bad = QString::fromStdString(test::fixtures_dir()) +
                      "/mlp_torch.safetensors"; // a different architecture
        QVERIFY(!m.load_state_dict_from(bad, true));
        QVERIFY(m.log_text().contains("size mismatch for 3.weight"));
        QCOMPARE(state_hash(*m.document().root), before); // nothing changed
        QVERIFY(m.load_state_dict_from(tmp.filePath("good.safetensors"), false));
        QVERIFY(m.save_state_dict_to(tmp.filePath("out.pt")));
        QVERIFY(QFileInfo(tmp.filePath("out.pt")).size() > 0);
        // Inspect-only models say so and cannot step.
        MainWindow c;
        QVERIFY(c.open_builtin_example("parameter-vs-buffer"));
        QVERIFY(!c.can_step());
    }

    void tensor_table_slices_and_exports() {
        TensorTableModel model;
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        Tensor t = arange(24).reshape({2, 3, 4}).to(DType::Float32);
        {
            NoGradGuard no_grad;
            t.select(0, 1).select(0, 2).select(0, 3).fill_(Scalar(NAN));
        }
        model.set_tensor(t);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.columnCount(), 4);
        QCOMPARE(model.index(2, 3).data().toString(), QString("11"));
        model.set_slice({1});
        QCOMPARE(model.index(0, 0).data().toString(), QString("12"));
        QCOMPARE(model.index(2, 3).data().toString(), QString("nan"));
        QVERIFY(model.index(2, 3).data(Qt::BackgroundRole).isValid()); // highlighted
        QCOMPARE(model.slice_tsv().split('\n').first(), QString("12\t13\t14\t15"));
        model.set_tensor(full({}, Scalar(2.5)));
        QCOMPARE(model.index(0, 0).data().toString(), QString("2.5"));
        // .npy: NumPy's header and the raw little-endian data.
        QTemporaryDir tmp;
        QString err;
        QVERIFY(write_npy(arange(6).reshape({2, 3}), tmp.filePath("a.npy"), &err));
        QFile f(tmp.filePath("a.npy"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray bytes = f.readAll();
        QVERIFY(bytes.startsWith(QByteArray("\x93NUMPY\x01\x00", 8)));
        QVERIFY(bytes.contains("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"));
        QCOMPARE(bytes.size() % 64, (6 * 8) % 64); // header padded to 64 bytes
        QVERIFY(write_csv(arange(6).reshape({2, 3}), tmp.filePath("a.csv"), &err));
        QFile c(tmp.filePath("a.csv"));
        QVERIFY(c.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(c.readAll()), QString("0,1,2\n3,4,5\n"));
        // The inspector shows the histogram and the table for a selected tensor.
        MainWindow w;
        QVERIFY(w.open_builtin_example("tinymodel"));
        QModelIndex src = w.tree_model()->index_of("tinymodel.linear1.weight");
        auto* proxy = static_cast<QSortFilterProxyModel*>(w.tree_view()->model());
        w.tree_view()->setCurrentIndex(proxy->mapFromSource(src));
        QCOMPARE(w.inspector()->histogram_bins(), 30);
        QCOMPARE(w.inspector()->table_model()->rowCount(), 200);
        QCOMPARE(w.inspector()->table_model()->columnCount(), 100);
    }

    void bad_numbers_and_empty_tensors_are_shown() {
        // NaN, Inf, an empty tensor, a zero-size dimension, all-NaN, and float64 extremes.
        QTemporaryDir tmp;
        auto m = std::make_shared<Module>();
        m->register_buffer("a", from_doubles({1, NAN, INFINITY, -INFINITY}, {4}));
        m->register_buffer("e", zeros({0}));
        m->register_buffer("z", zeros({3, 0}));
        m->register_buffer("allnan",
                           from_doubles({NAN, NAN, NAN}, {3}, TensorOptions(DType::Float64)));
        m->register_buffer("big",
                           from_doubles({-1.7e308, 1.7e308}, {2}, TensorOptions(DType::Float64)));
        const QString path = tmp.filePath("bad_numbers.safetensors");
        save_state_dict(*m, path.toStdString());
        MainWindow w;
        QVERIFY(w.open_path(path));
        auto* proxy = static_cast<QSortFilterProxyModel*>(w.tree_view()->model());
        auto select = [&](const char* name) {
            QModelIndex src = w.tree_model()->index_of(name);
            QVERIFY(src.isValid());
            w.tree_view()->setCurrentIndex(proxy->mapFromSource(src));
        };
        select("a");
        QVERIFY2(w.inspector()->details_text().contains("1 NaN, 2 Inf"),
                 qPrintable(w.inspector()->details_text()));
        QCOMPARE(w.inspector()->histogram_bins(), 30); // the one finite value
        QVERIFY(w.inspector()->table_model()->index(1, 0).data(Qt::BackgroundRole).isValid());
        QCOMPARE(w.inspector()->table_model()->index(2, 0).data().toString(), QString("inf"));
        select("e");
        QCOMPARE(w.inspector()->histogram_bins(), 0);
        QCOMPARE(w.inspector()->table_model()->columnCount(), 0);
        select("z");
        QCOMPARE(w.inspector()->histogram_bins(), 0);
        QCOMPARE(w.inspector()->table_model()->rowCount(), 0);
        QVERIFY(w.inspector()->details_text().contains("[3, 0]"));
        select("allnan");
        QVERIFY(w.inspector()->details_text().contains("3 NaN, 0 Inf"));
        QCOMPARE(w.inspector()->histogram_bins(), 0);
        select("big");
        QCOMPARE(w.inspector()->histogram_bins(), 30);
        // Plots take NaN, Inf and empty samples and draw.
        StepBatch batch;
        for (int i = 0; i < 50; ++i) {
            StepSample s;
            s.step = i + 1;
            s.loss = i % 3 ? double(i) : NAN;
            s.watches = {{i % 2 ? NAN : 1.0, INFINITY}, {}};
            batch.samples.push_back(s);
        }
        w.plots()->set_watches({"a", "e"}, {false, false});
        w.plots()->add(batch);
        w.plots()->replot_now();
        QVERIFY(w.plots()->export_png(tmp.filePath("nan.png")));
        QCOMPARE(w.plots()->points(0), size_t(50));
        QCOMPARE(w.plots()->points(1), size_t(0));
    }

    void plot_history_is_bounded_and_uniform() {
        // An overnight run: a million samples, in batches as the worker sends them.
        PlotPanel plots;
        plots.set_watches({"w"}, {false});
        for (int64_t step = 1; step <= 1'000'000;) {
            StepBatch batch;
            for (int i = 0; i < 1000; ++i, ++step) {
                StepSample s;
                s.step = step;
                s.loss = 1.0 / double(step);
                s.watches = {{double(step % 97)}};
                batch.samples.push_back(s);
            }
            plots.add(batch);
        }
        const std::vector<double>& xs = plots.steps(0);
        QVERIFY(xs.size() <= PlotPanel::k_max_points);
        QVERIFY(xs.size() >= PlotPanel::k_max_points / 2);
        QVERIFY(plots.loss_points() <= PlotPanel::k_max_points);
        // The whole run stays covered evenly: each tenth of the steps holds about a tenth of
        // the points (halving alone would have left the first half nearly empty).
        for (int tenth = 0; tenth < 10; ++tenth) {
            const auto in_tenth = std::count_if(xs.begin(), xs.end(), [&](double x) {
                return x > tenth * 100'000.0 && x <= (tenth + 1) * 100'000.0;
            });
            QVERIFY2(in_tenth > int64_t(xs.size()) / 20, qPrintable(QString::number(in_tenth)));
        }
    }

    void failing_actions_keep_the_state() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        Module& root = *w.document().root;
        const std::string before = state_hash(root);
        // A device that is not usable: the first the device list says so of (cuda:0 on a
        // machine without a GPU), else one that does not exist.
        std::string absent = "cuda:99";
        for (const auto& d : list_devices())
            if (!d.available) {
                absent = d.name;
                break;
            }
        QVERIFY(!w.move_model_to(QString::fromStdString(absent)));
        QCOMPARE(state_hash(root), before);
        QCOMPARE(QString::fromStdString(root.child("1")->attr("running_mean").device().str()),
                 QString("cpu"));
        // A save to a folder that does not exist.
        QVERIFY(!w.save_state_dict_to("/nonexistent-nnscope-dir/x.safetensors"));
        QCOMPARE(state_hash(root), before);
        // A step that fails half-way: BatchNorm 1 has updated its statistics before layer 3
        // meets a weight on another device. The step is undone.
        QVERIFY(w.move_tensor_to("3.weight", "sim:0"));
        const std::string moved = state_hash(root);
        w.step_blocking(1);
        QVERIFY2(w.log_text().contains("Expected all tensors to be on the same device"),
                 qPrintable(w.log_text()));
        QCOMPARE(state_hash(root), moved);
        QCOMPARE(root.child("1")->attr("num_batches_tracked").item_int(), int64_t(0));
        // And with training steps on.
        w.set_training_step(true);
        w.step_blocking(1);
        QCOMPARE(state_hash(root), moved);
    }

    // #17, defects 4, 8, 10, 12, 13, 14 and 16.
    void rough_edges_of_a_first_session() {
        QTemporaryDir tmp;
        MainWindow w;
        // 4: when an asynchronous open fails, its progress dialog is gone before the error
        // box opens (a deleteLater'd one outlived the box's own event loop and came back).
        QFile text(tmp.filePath("text.pt"));
        QVERIFY(text.open(QIODevice::WriteOnly));
        text.write("just some text, not a model\n");
        text.close();
        int dialogs_at_error = -1;
        connect(&w, &MainWindow::error_reported, this,
                [&] { dialogs_at_error = int(w.findChildren<QProgressDialog*>().size()); });
        w.open_path_async(tmp.filePath("text.pt"));
        QTRY_VERIFY(dialogs_at_error >= 0);
        QCOMPARE(dialogs_at_error, 0);
        QVERIFY(!w.log_text().contains("cancelled"));
        // 10: a long report is summarised; the whole text goes to the box's details.
        const QString longer = "Error(s) in loading state_dict for Sequential:\n" +
                               QString("\tMissing key(s) in state_dict: ")
                                   .append(QString("'layer.weight', ").repeated(200));
        QCOMPARE(error_summary(longer), QString("Error(s) in loading state_dict for Sequential:"));
        const QString one_line = QString("x").repeated(1000);
        QVERIFY(error_summary(one_line).size() < 310);
        QCOMPARE(error_summary("short"), QString("short"));
        // 8: a name typed without an extension gets the chosen filter's.
        QCOMPARE(with_filter_suffix("/tmp/m", "safetensors (*.safetensors)"),
                 QString("/tmp/m.safetensors"));
        QCOMPARE(with_filter_suffix("/tmp/m", "PyTorch state dict (*.pt *.pth)"),
                 QString("/tmp/m.pt"));
        QCOMPARE(with_filter_suffix("/tmp/m.pth", "safetensors (*.safetensors)"),
                 QString("/tmp/m.pth"));
        // 14: the log in PyTorch's words, "opened" before what follows, a separator per model.
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        QVERIFY(w.open_builtin_example("plain-attribute"));
        const QStringList lines = w.log_text().split('\n');
        const int opened = int(lines.indexOf("opened example plain-attribute"));
        QVERIFY(opened > 0);
        QVERIFY(lines[opened - 1].startsWith(QString(40, QChar(0x2500))));
        QVERIFY(lines.indexOf("opened example mlp-batchnorm") <
                lines.indexOf("watching 1.running_mean"));
        QVERIFY(w.save_state_dict_to(tmp.filePath("s.safetensors")));
        QVERIFY(w.log_text().contains("safetensors.torch.save_file(model.state_dict(), '" +
                                      tmp.filePath("s.safetensors") + "')"));
        QVERIFY(w.save_state_dict_to(tmp.filePath("s.pt")));
        // 9: what nnscope saved from a spec reopens as the same runnable model.
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.step_blocking(3);
        QVERIFY(w.save_state_dict_to(tmp.filePath("mlp.safetensors")));
        QVERIFY(w.open_path(tmp.filePath("mlp.safetensors")));
        QVERIFY(w.can_step());
        QCOMPARE(w.document().root->child("1")->attr("num_batches_tracked").item_int(), int64_t(3));
        w.step_blocking(1);
        QCOMPARE(w.document().root->child("1")->attr("num_batches_tracked").item_int(), int64_t(4));
        QVERIFY(w.log_text().contains("torch.save(model.state_dict(), '" + tmp.filePath("s.pt") +
                                      "')"));
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.set_training_step(true);
        QVERIFY2(w.log_text().contains(
                     "optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9): "),
                 qPrintable(w.log_text()));
        // 16: a non-strict load that matches nothing warns.
        auto other = std::make_shared<Module>("Other");
        other->register_buffer("nothing_alike", ones({2}));
        save_state_dict(*other, tmp.filePath("other.safetensors").toStdString());
        QVERIFY(w.load_state_dict_from(tmp.filePath("other.safetensors"), false));
        QVERIFY(w.log_text().contains("warning: no key of " + tmp.filePath("other.safetensors") +
                                      " matched the model: nothing was loaded"));
        // 13: per-device figures are the listed tensors' and add up to the total.
        QVERIFY(w.open_builtin_example("plain-attribute"));
        QVERIFY(w.move_model_to("sim:0"));
        const QString status = w.status_text();
        QVERIFY2(status.contains("· 12 B · cpu: 4 B · sim:0: 8 B"), qPrintable(status));
        // 12: an unusable device says why, in its tooltip and status tip.
        for (const auto& d : list_devices()) {
            if (d.available) continue;
            auto* a = w.findChild<QAction*>(QString::fromStdString("device_" + d.name));
            QVERIFY(a && !a->isEnabled());
            QVERIFY2(a->toolTip().contains(QString::fromStdString(d.reason)),
                     qPrintable(a->toolTip()));
            QVERIFY(a->statusTip().contains(QString::fromStdString(d.reason)));
            QVERIFY(a->text().contains("not available"));
        }
    }

    // #17, defect 5: window shortcuts work with the focus in the filter box (QLineEdit's
    // X11 binding took Ctrl+E as "end of line"; offscreen has no such binding, so the
    // filter's answer to the ShortcutOverride is checked as well as the shortcut itself).
    void shortcuts_work_from_the_text_boxes() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.show();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        auto* filter = w.findChild<QLineEdit*>("filter");
        filter->setFocus();
        QKeyEvent override(QEvent::ShortcutOverride, Qt::Key_E, Qt::ControlModifier);
        QApplication::sendEvent(filter, &override);
        QVERIFY(!override.isAccepted()); // left to the window's shortcut
        QKeyEvent letter(QEvent::ShortcutOverride, Qt::Key_W, Qt::NoModifier, "w");
        QApplication::sendEvent(filter, &letter);
        QVERIFY(letter.isAccepted()); // typing W into the filter types a w
        QVERIFY(w.document().root->is_training());
        QTest::keyClick(filter, Qt::Key_E, Qt::ControlModifier);
        QVERIFY(!w.document().root->is_training());
        QVERIFY(w.log_text().contains("model.eval()"));
    }

    // #17, defect 15: an inspect-only model disables what steps and says why, naming the
    // modules without forward code.
    void inspect_only_models_say_why() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("parameter-vs-buffer"));
        QVERIFY(!w.can_step());
        for (const char* name : {"Step", "Run", "Train mode"}) {
            QAction* a = nullptr;
            for (QAction* x : w.findChildren<QAction*>())
                if (x->text() == name) a = x;
            QVERIFY2(a && !a->isEnabled(), name);
            QCOMPARE(a->toolTip(),
                     QString("Inspect-only: this model cannot run: the model (MyModel): declared "
                             "in the spec without forward code"));
        }
        QVERIFY(!w.findChild<QCheckBox*>("training_step")->isEnabled());
        const QString status = w.statusBar()->currentMessage();
        QVERIFY2(status.startsWith("Inspect-only: this model cannot run: the model (MyModel)"),
                 qPrintable(status));
        // A runnable model enables them again and clears the message.
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        QVERIFY(w.can_step());
        QVERIFY(w.findChild<QCheckBox*>("training_step")->isEnabled());
        QVERIFY(!w.statusBar()->currentMessage().startsWith("Inspect-only"));
    }

    // #17, defect 6: a training step whose loss is not finite pauses the run before the
    // optimizer writes NaN into the parameters, and says so; the inspector shows the
    // selected tensor's own numbers, also when none is finite.
    void non_finite_loss_pauses_and_the_inspector_keeps_up() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.step_blocking(30);
        w.set_training_mode(false); // running statistics: huge inputs stay huge
        w.set_training_step(true);
        w.set_input_distribution(1e30, 0);
        const std::vector<double> before =
            w.document().root->child("0")->attr("weight").to_doubles();
        w.step_blocking(5);
        QVERIFY2(w.log_text().contains(
                     "paused: the loss is inf at step 31: training diverged; the optimizer "
                     "step was skipped"),
                 qPrintable(w.log_text().right(400)));
        QVERIFY(w.statusBar()->currentMessage().startsWith("paused: the loss is inf at step 31"));
        QCOMPARE(w.steps_done(), int64_t(30));
        QCOMPARE(w.document().root->child("0")->attr("weight").to_doubles(), before);
        // All NaN after a count: the histogram is its own, not the last tensor's.
        InspectorPanel* ins = w.inspector();
        ins->show_tensor("1.num_batches_tracked", TensorKind::Buffer, true,
                         full({1}, Scalar(929), TensorOptions(DType::Int64)));
        QCOMPARE(ins->histogram_bins(), 30);
        QVERIFY(ins->histogram_x_range().lower > 900);
        ins->show_tensor("0.weight", TensorKind::Parameter, true,
                         full({16, 6}, Scalar(std::nan(""))));
        QCOMPARE(ins->histogram_bins(), 0);
        QVERIFY(ins->histogram_x_range().upper <= 1);
        const QString details = ins->details_text();
        QVERIFY2(details.contains("96 NaN") && details.contains("over the 0 finite values") &&
                     !details.contains(">0<"),
                 qPrintable(details));
    }

    // #17, defect 7: columns as wide as their header and contents, eliding in the middle
    // ("running…var" would hide which is which), the full text in each cell's tooltip.
    void columns_fit_their_contents() {
        MainWindow w;
        w.resize(1400, 880);
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        QTreeView* tree = w.tree_view();
        QCOMPARE(tree->textElideMode(), Qt::ElideMiddle);
        const QFontMetrics fm(tree->font());
        for (int c = 0; c < ModuleTreeModel::ColumnCount; ++c) {
            const QString header = tree->model()->headerData(c, Qt::Horizontal).toString();
            QVERIFY2(tree->columnWidth(c) >= fm.horizontalAdvance(header), qPrintable(header));
        }
        QVERIFY(tree->columnWidth(ModuleTreeModel::ShapeCol) >= fm.horizontalAdvance("[16, 16]"));
        // Filtering to BatchNorm's buffers shows running_mean and running_var whole.
        w.findChild<QLineEdit*>("filter")->setText("4.running");
        QVERIFY(tree->columnWidth(ModuleTreeModel::NameCol) >=
                fm.horizontalAdvance("running_mean") + 2 * tree->indentation());
        const QModelIndex src = w.tree_model()->index_of("4.running_var");
        const QString tip = w.tree_model()
                                ->index(src.row(), ModuleTreeModel::ShapeCol, src.parent())
                                .data(Qt::ToolTipRole)
                                .toString();
        QVERIFY2(tip.startsWith("4.running_var [16] float32 on cpu — buffer"), qPrintable(tip));
        // torchinfo's summary on module rows: their subtree's tensors, each once.
        const QString bn_tip = w.tree_model()->index_of("1").data(Qt::ToolTipRole).toString();
        QVERIFY2(
            bn_tip.startsWith("2 parameters (32 elements), 3 buffers (33 elements), 264 bytes; "
                              "no forward pass yet\n\nBatchNorm1d(16"),
            qPrintable(bn_tip));
        const QModelIndex root = w.tree_model()->index_of("");
        auto module_cell = [&](const QString& name, int col) {
            const QModelIndex i = w.tree_model()->index_of(name);
            return w.tree_model()->index(i.row(), col, i.parent()).data().toString();
        };
        QCOMPARE(module_cell("", ModuleTreeModel::ElementsCol), QString("582"));
        QVERIFY(
            w.tree_model()
                ->index_of("")
                .data(Qt::ToolTipRole)
                .toString()
                .startsWith("10 parameters (516 elements), 6 buffers (66 elements), 2336 bytes"));
        // After a forward pass, each module's output shape (torchinfo's Output Shape), BatchNorm
        // and the ReLU it runs fused with included; the input is a batch of 32 rows of 6.
        QCOMPARE(module_cell("1", ModuleTreeModel::ShapeCol), QString());
        w.step_blocking(1);
        const QString arrow = QString::fromUtf8("→ ");
        QCOMPARE(module_cell("", ModuleTreeModel::ShapeCol), arrow + "[32, 4]");
        QCOMPARE(module_cell("0", ModuleTreeModel::ShapeCol), arrow + "[32, 16]");
        QCOMPARE(module_cell("1", ModuleTreeModel::ShapeCol), arrow + "[32, 16]");
        QCOMPARE(module_cell("2", ModuleTreeModel::ShapeCol), arrow + "[32, 16]");
        QCOMPARE(module_cell("6", ModuleTreeModel::ShapeCol), arrow + "[32, 4]");
        QVERIFY(w.tree_model()
                    ->index_of("1")
                    .data(Qt::ToolTipRole)
                    .toString()
                    .contains("; output of its last call [32, 16]\n"));
    }

    // #17's expectations: TensorBoard's plot controls, examples by title, View and Help
    // menus, a minimum window size.
    void plot_controls_and_menus() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        w.watch("1.num_batches_tracked"); // a counter: it would flatten the statistics
        w.step_blocking(40);
        QVERIFY(w.plots()->y_range(false).upper >= 39);
        w.plots()->findChild<QCheckBox*>("normalise")->setChecked(true);
        QVERIFY(w.plots()->y_range(false).upper <= 1.1);
        QVERIFY(w.plots()->y_range(false).lower >= -0.1);
        w.plots()->findChild<QCheckBox*>("normalise")->setChecked(false);
        w.plots()->findChild<QCheckBox*>("log_scale")->setChecked(true);
        QVERIFY(w.plots()->y_range(false).lower > 0);
        w.plots()->findChild<QCheckBox*>("log_scale")->setChecked(false);
        w.plots()->findChild<QDoubleSpinBox*>("smoothing")->setValue(0.9);
        QCOMPARE(w.plots()->points(0), size_t(40)); // smoothing changes the drawing, not the data
        w.plots()->findChild<QPushButton*>("unwatch_all")->click();
        QVERIFY(w.watches().isEmpty());
        QVERIFY(w.log_text().contains("unwatched every tensor"));
        // Examples by title, named in the tooltip; the menus a user looks for.
        auto* example = w.findChild<QAction*>("example_mlp-batchnorm");
        QVERIFY(example);
        QCOMPARE(example->text(), QString("MLP with BatchNorm (the default example)"));
        QCOMPARE(example->toolTip(), QString("mlp-batchnorm"));
        QStringList menus;
        for (QAction* a : w.menuBar()->actions()) menus << a->text();
        QCOMPARE(menus, QStringList({"&File", "&Model", "&View", "&Help", "&Devices"}));
        QVERIFY(w.minimumSize().width() >= 640 && w.minimumSize().height() >= 400);
    }

    // The stepping controller works without a window: the same engine, thread and run state
    // the window drives.
    void step_controller_runs_without_a_window() {
        ModelLock lock;
        StepController c(lock);
        Document doc = open_example("mlp-batchnorm");
        QVERIFY(c.rebuild(doc.root, {}, "", 1.0, 0.0));
        int slices = 0, with_outputs = 0;
        int64_t last = 0;
        std::vector<std::pair<std::string, std::vector<Shape>>> outputs;
        connect(&c, &StepController::progressed, this, [&](const std::shared_ptr<StepBatch>& b) {
            ++slices;
            if (!b->samples.empty()) last = b->samples.back().step;
            if (!b->outputs.empty()) ++with_outputs, outputs = b->outputs;
        });
        c.set_watches({"1.running_mean"});
        c.step(25);
        QCOMPARE(c.steps_done(), int64_t(25));
        QCOMPARE(last, int64_t(25));
        QVERIFY(slices >= 1);
        QVERIFY(!c.is_running());
        // The modules' output shapes come once, with the first slice, for the tree to show
        // without the model lock.
        QCOMPARE(with_outputs, 1);
        QCOMPARE(outputs.size(), size_t(8));
        QCOMPARE(outputs[0].first, std::string(""));
        QCOMPARE(outputs[0].second, (std::vector<Shape>{{32, 4}}));
        QCOMPARE(outputs[2].first, std::string("1"));
        QCOMPARE(outputs[2].second, (std::vector<Shape>{{32, 16}}));
        QCOMPARE(doc.root->child("1")->attr("num_batches_tracked").item_int(), int64_t(25));
        // A run goes on until stop(); training steps change parameters.
        c.set_optimizer("sgd:lr=0.01");
        const std::vector<double> before = doc.root->child("0")->attr("weight").to_doubles();
        c.set_rate(0);
        c.start();
        QVERIFY(c.is_running());
        QTRY_VERIFY(c.steps_done() > 30);
        c.stop();
        QVERIFY(!c.is_running());
        QVERIFY(doc.root->child("0")->attr("weight").to_doubles() != before);
        // A model that cannot step: the reason, and step() does nothing.
        Document state = open_document(nnscope::test::fixtures_dir() + "/mlp_torch.safetensors");
        QVERIFY(!c.rebuild(state.root, {}, "", 1.0, 0.0));
        QCOMPARE(c.error(), QString("this model cannot run: its modules' types are unknown"));
        QVERIFY(!c.engine());
        c.step(3);
        QCOMPARE(c.steps_done(), int64_t(0));
    }

    void failed_open_keeps_the_model() {
        MainWindow w;
        QVERIFY(w.open_builtin_example("mlp-batchnorm"));
        std::string before = state_hash(*w.document().root);
        QString bad =
            QString::fromStdString(test::fixtures_dir()) + "/bad/bad_header_too_small.safetensors";
        QVERIFY(!w.open_path(bad));
        QVERIFY(w.last_error().contains("header too small"));
        QCOMPARE(state_hash(*w.document().root), before);
        QCOMPARE(QString::fromStdString(w.document().path), QString("example:mlp-batchnorm"));
        QVERIFY(!w.open_builtin_example("no-such-example"));
        QCOMPARE(state_hash(*w.document().root), before);
        // Opening a real file replaces the model, and the tree follows.
        QVERIFY(
            w.open_path(QString::fromStdString(test::fixtures_dir()) + "/mlp_torch.safetensors"));
        QVERIFY(w.status_text().contains("kinds inferred"));
        QVERIFY(w.tree_model()->index_of("1.running_mean").isValid());
    }
};

QTEST_MAIN(TestUi)
#include "test_ui.moc"
