// plot_panel.cpp: series storage, graph setup, coalesced redraws and exports.
#include "plot_panel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTextStream>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace nnscope::ui {

namespace {
const QColor k_palette[] = {QColor(31, 119, 180),  QColor(255, 127, 14),  QColor(44, 160, 44),
                            QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                            QColor(227, 119, 194), QColor(127, 127, 127)};
}

PlotPanel::PlotPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    // TensorBoard's controls: how the lines are drawn (the stored samples stay as they are).
    auto* controls = new QHBoxLayout;
    controls->setContentsMargins(4, 2, 4, 0);
    m_normalise = new QCheckBox(tr("Normalise"), this);
    m_normalise->setObjectName("normalise");
    m_normalise->setToolTip(
        tr("each watch on its own scale: its min to max over the history drawn as 0 to 1 "
           "(a counter like num_batches_tracked no longer flattens the rest)"));
    m_log_scale = new QCheckBox(tr("Log scale"), this);
    m_log_scale->setObjectName("log_scale");
    m_log_scale->setToolTip(tr("logarithmic y axes (values at or below zero are not drawn)"));
    m_smoothing = new QDoubleSpinBox(this);
    m_smoothing->setObjectName("smoothing");
    m_smoothing->setRange(0, 0.99);
    m_smoothing->setSingleStep(0.1);
    m_smoothing->setToolTip(
        tr("exponential moving average of the drawn lines, as TensorBoard's smoothing"));
    auto* clear_button = new QPushButton(tr("Clear plots"), this);
    auto* unwatch_button = new QPushButton(tr("Unwatch all"), this);
    unwatch_button->setObjectName("unwatch_all");
    controls->addWidget(m_normalise);
    controls->addWidget(m_log_scale);
    controls->addWidget(new QLabel(tr("smoothing"), this));
    controls->addWidget(m_smoothing);
    controls->addStretch(1);
    controls->addWidget(clear_button);
    controls->addWidget(unwatch_button);
    layout->addLayout(controls);
    connect(m_normalise, &QCheckBox::toggled, this, [this] {
        m_dirty_graphs = true;
        replot_now();
    });
    connect(m_log_scale, &QCheckBox::toggled, this, [this](bool log) {
        for (QCustomPlot* p : {m_plot, m_loss_plot}) {
            p->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
            p->yAxis->setTicker(log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                    : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        }
        replot_now();
    });
    connect(m_smoothing, &QDoubleSpinBox::valueChanged, this, [this] { replot_now(); });
    connect(clear_button, &QPushButton::clicked, this, &PlotPanel::clear);
    connect(unwatch_button, &QPushButton::clicked, this, &PlotPanel::unwatch_all_requested);
    m_plot = new QCustomPlot(this);
    m_loss_plot = new QCustomPlot(this);
    for (QCustomPlot* p : {m_plot, m_loss_plot}) {
        p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
        p->xAxis->setLabel("step");
        p->legend->setVisible(true);
        QFont f = p->legend->font();
        f.setPointSizeF(f.pointSizeF() * 0.8);
        p->legend->setFont(f);
        // The legend below the axes, in rows, never over the data.
        p->axisRect()->insetLayout()->take(p->legend); // placed below by rebuild_graphs()
        p->legend->setFillOrder(QCPLegend::foColumnsFirst);
        p->legend->setWrap(1);
        p->legend->setBorderPen(Qt::NoPen);
        p->setNoAntialiasingOnDrag(true);
        p->setNotAntialiasedElements(QCP::aeFills); // band fills are the costliest part of a frame
        p->setPlottingHint(QCP::phFastPolylines, true);
    }
    m_plot->yAxis->setLabel("watched values");
    m_loss_plot->yAxis->setLabel("loss");
    layout->addWidget(m_plot, 3);
    layout->addWidget(m_loss_plot, 1);
    m_replot_timer.setSingleShot(true);
    m_replot_timer.setInterval(33); // coalesced: at most ~30 frames per second
    connect(&m_replot_timer, &QTimer::timeout, this, &PlotPanel::replot_now);
}

void PlotPanel::set_watches(const QStringList& names, const std::vector<bool>& band) {
    // A watch that stays keeps its history; a new one starts empty, at the next step.
    std::vector<Series> series(size_t(names.size()));
    for (int i = 0; i < names.size(); ++i) {
        const int old = m_names.indexOf(names[i]);
        if (old >= 0)
            series[size_t(i)] = std::move(m_series[size_t(old)]);
        else if (size_t(i) < band.size())
            series[size_t(i)].band = band[size_t(i)];
    }
    m_names = names;
    m_series = std::move(series);
    m_dirty_graphs = true;
    m_replot_timer.start();
}

void PlotPanel::clear() {
    for (auto& s : m_series) {
        const bool band = s.band;
        s = Series{};
        s.band = band;
    }
    m_loss = Series{};
    m_markers.clear();
    m_have_mode = false;
    m_dirty_graphs = true;
    m_replot_timer.start();
}

QCPRange PlotPanel::x_range(bool loss) const {
    return (loss ? m_loss_plot : m_plot)->xAxis->range();
}
QCPRange PlotPanel::y_range(bool loss) const {
    return (loss ? m_loss_plot : m_plot)->yAxis->range();
}

size_t PlotPanel::points(int watch) const {
    return watch < int(m_series.size()) ? m_series[size_t(watch)].x.size() : 0;
}

void PlotPanel::decimate(Series& s) {
    // Keep every other point: the history stays bounded however long a run goes.
    size_t out = 0;
    for (size_t i = 0; i < s.x.size(); i += 2, ++out) {
        s.x[out] = s.x[i];
        for (auto& col : s.y) col[out] = col[i];
    }
    s.x.resize(out);
    for (auto& col : s.y) col.resize(out);
    s.stride *= 2;
}

void PlotPanel::add(const StepBatch& batch) {
    for (const auto& sample : batch.samples) {
        const double x = double(sample.step);
        if (m_have_mode && sample.training != m_last_training) {
            m_markers.emplace_back(x - 0.5, sample.training);
            // Bounded like the traces: a run that switches modes all night keeps the
            // latest k_max_markers switches.
            if (m_markers.size() > k_max_markers)
                m_markers.erase(m_markers.begin(),
                                m_markers.begin() + ptrdiff_t(m_markers.size() - k_max_markers));
            m_dirty_graphs = true;
        }
        m_last_training = sample.training;
        m_have_mode = true;
        for (size_t w = 0; w < m_series.size() && w < sample.watches.size(); ++w) {
            Series& s = m_series[w];
            const auto& v = sample.watches[w];
            if (v.empty()) continue;
            if (s.y.empty()) {
                s.y.assign(v.size(), {});
                m_dirty_graphs = true;
            }
            if (s.y.size() != v.size()) continue; // the tensor changed shape: keep the first layout
            if (!s.take()) continue;
            s.x.push_back(x);
            for (size_t k = 0; k < v.size(); ++k) s.y[k].push_back(v[k]);
            if (s.x.size() > k_max_points) decimate(s);
        }
        if (!std::isnan(sample.loss)) {
            if (m_loss.y.empty()) m_loss.y.assign(1, {});
            if (!m_loss.take()) continue;
            m_loss.x.push_back(x);
            m_loss.y[0].push_back(sample.loss);
            if (m_loss.x.size() > k_max_points) decimate(m_loss);
        }
    }
    if (!m_replot_timer.isActive()) m_replot_timer.start();
}

void PlotPanel::rebuild_graphs() {
    m_plot->clearGraphs();
    m_plot->clearItems();
    m_loss_plot->clearGraphs();
    m_loss_plot->clearItems();
    for (size_t w = 0; w < m_series.size(); ++w) {
        const Series& s = m_series[w];
        const QColor color = k_palette[w % 8];
        const QString name = m_names[int(w)];
        if (s.band && s.y.size() == 3) {
            // mean as a line, min and max as the edges of a translucent band
            QCPGraph* mean = m_plot->addGraph();
            mean->setPen(QPen(color, 1.8));
            mean->setName(name + " (mean, min-max band)" +
                          (m_normalise->isChecked() ? " [0-1]" : ""));
            QCPGraph* lo = m_plot->addGraph();
            QCPGraph* hi = m_plot->addGraph();
            QColor edge = color;
            edge.setAlpha(90);
            QColor fill = color;
            fill.setAlpha(40);
            for (QCPGraph* g : {lo, hi}) {
                g->setPen(QPen(edge, 1));
                g->removeFromLegend(); // the band's edges are named by its mean line
            }
            hi->setBrush(fill);
            hi->setChannelFillGraph(lo);
            continue;
        }
        for (size_t k = 0; k < s.y.size(); ++k) {
            QCPGraph* g = m_plot->addGraph();
            QColor c = s.y.size() == 1 ? color : k_palette[(w + k) % 8];
            g->setPen(QPen(c, 1.5));
            g->setName((s.y.size() == 1 ? name : name + "[" + QString::number(k) + "]") +
                       (m_normalise->isChecked() ? " [0-1]" : ""));
        }
    }
    QCPGraph* loss = m_loss_plot->addGraph();
    loss->setPen(QPen(QColor(214, 39, 40), 1.5));
    loss->setName("loss");
    if (m_loss.x.empty()) loss->removeFromLegend(); // the hint below says why there is none
    // A legend below the axes only while it has something to name: an empty one (hidden or
    // not) squeezed the axes to a sliver in QCustomPlot's layout.
    for (QCustomPlot* p : {m_plot, m_loss_plot}) {
        const bool want = p->legend->itemCount() > 0;
        QCPLayoutGrid* layout = p->plotLayout();
        if (want && !layout->hasElement(1, 0)) {
            layout->addElement(1, 0, p->legend);
            layout->setRowStretchFactor(1, 0.001);
        } else if (!want && layout->hasElement(1, 0)) {
            layout->take(p->legend);
            layout->simplify();
        }
        p->legend->setVisible(want);
    }
    if (m_loss.x.empty()) {
        auto* text = new QCPItemText(m_loss_plot);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.5, 0.5);
        text->setText(tr("no loss: forward passes only (tick Training step to train)"));
        text->setColor(QColor(128, 128, 128));
    }
    for (const auto& [x, training] : m_markers)
        for (QCustomPlot* p : {m_plot, m_loss_plot}) {
            auto* line = new QCPItemStraightLine(p);
            line->point1->setCoords(x, 0);
            line->point2->setCoords(x, 1);
            line->setPen(
                QPen(training ? QColor(44, 160, 44) : QColor(120, 120, 120), 1, Qt::DashLine));
            auto* label = new QCPItemText(p);
            label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            label->position->setCoords(x, 0.01); // at the top, above the bands' usual range
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            label->setText(training ? " train" : " eval");
            label->setColor(training ? QColor(44, 160, 44) : QColor(100, 100, 100));
        }
    m_dirty_graphs = false;
    fit_legends();
}

void PlotPanel::fit_legends() {
    // As many legend columns as the widest name allows in the plot's width: never wider
    // than the plot (a wider legend squeezed the axes to a sliver).
    for (QCustomPlot* p : {m_plot, m_loss_plot}) {
        const QFontMetrics fm(p->legend->font());
        int widest = 0;
        for (int i = 0; i < p->legend->itemCount(); ++i)
            if (auto* item = qobject_cast<QCPPlottableLegendItem*>(p->legend->item(i)))
                widest = std::max(widest, fm.horizontalAdvance(item->plottable()->name()));
        if (widest == 0)
            continue; // nothing to lay out (re-wrapping an empty legend broke the axes' layout)
        const int columns = std::clamp((p->width() - 20) / (widest + 40), 1, 4);
        if (p->legend->wrap() != columns) {
            p->legend->setWrap(columns);
            p->legend->setFillOrder(QCPLegend::foColumnsFirst, true);
        }
    }
}

void PlotPanel::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fit_legends();
    m_replot_timer.start();
}

void PlotPanel::replot_now() {
    if (m_dirty_graphs) rebuild_graphs();
    // Drawing cost is bounded too: at most m_display_points per line (every k-th point of
    // the stored history, the newest always included), adapted to what the last frame cost.
    // A fixed 800 let a 3-second run's frames grow from 3 to 80 ms as the lines got noisier.
    const double last_ms = m_plot->replotTime() + m_loss_plot->replotTime();
    if (last_ms > k_frame_budget_ms)
        m_display_points = std::max(k_min_display_points, m_display_points * 3 / 4);
    else if (last_ms < k_frame_budget_ms / 3)
        m_display_points = std::min(k_display_points, m_display_points * 5 / 4);
    const size_t budget = m_display_points;
    auto thin = [budget](const std::vector<double>& xs, const std::vector<double>& ys,
                         QVector<double>& ox, QVector<double>& oy) {
        const size_t n = xs.size(), stride = n > budget ? (n + budget - 1) / budget : 1;
        ox.clear();
        oy.clear();
        ox.reserve(int(n / stride + 2));
        oy.reserve(int(n / stride + 2));
        for (size_t i = 0; i < n; i += stride) {
            ox.push_back(xs[i]);
            oy.push_back(ys[i]);
        }
        if (n && (n - 1) % stride) {
            ox.push_back(xs[n - 1]);
            oy.push_back(ys[n - 1]);
        }
    };
    // What is drawn: smoothed (an exponential moving average, as TensorBoard's), and with
    // Normalise each watch mapped from its own min..max to 0..1.
    const double smooth = m_smoothing->value();
    auto display = [&](QVector<double>& ys, bool normalise, double lo, double hi) {
        double ema = ys.isEmpty() ? 0 : ys[0];
        for (double& y : ys) {
            if (smooth > 0 && std::isfinite(y)) y = ema = smooth * ema + (1 - smooth) * y;
            if (normalise) y = hi > lo ? (y - lo) / (hi - lo) : 0.5;
        }
    };
    QVector<double> xs, ys;
    int g = 0;
    for (size_t w = 0; w < m_series.size(); ++w) {
        const Series& s = m_series[w];
        double lo = INFINITY, hi = -INFINITY; // over every column of the watch
        for (const auto& col : s.y)
            for (double v : col)
                if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        for (size_t k = 0; k < s.y.size(); ++k, ++g) {
            thin(s.x, s.y[k], xs, ys);
            display(ys, m_normalise->isChecked(), lo, hi);
            m_plot->graph(g)->setData(xs, ys, true);
        }
    }
    if (!m_loss.y.empty()) {
        if (m_loss_plot->graph(0)->dataCount() == 0) m_dirty_graphs = true; // drop the hint
        thin(m_loss.x, m_loss.y[0], xs, ys);
        display(ys, false, 0, 0); // the loss is smoothed, never normalised
        m_loss_plot->graph(0)->setData(xs, ys, true);
    }
    const bool log = m_log_scale->isChecked();
    // Each plot fits its own data, once per frame from the data's range (never from the
    // axis's previous range, which grew without end when there was nothing to fit); the
    // loss plot's steps follow the watch plot's.
    for (QCustomPlot* p : {m_plot, m_loss_plot}) {
        bool found = false;
        QCPRange y;
        for (int i = 0; i < p->graphCount(); ++i) {
            bool ok = false;
            const QCPRange r = p->graph(i)->getValueRange(ok, log ? QCP::sdPositive : QCP::sdBoth);
            if (!ok) continue;
            y = found ? QCPRange(std::min(y.lower, r.lower), std::max(y.upper, r.upper)) : r;
            found = true;
        }
        if (!found || !std::isfinite(y.lower) || !std::isfinite(y.upper))
            y = QCPRange(log ? 0.1 : 0, 1);
        if (log)
            p->yAxis->setRange(y.lower / 1.2, y.upper * 1.2);
        else if (y.size() < 1e-9)
            p->yAxis->setRange(y.lower - 1, y.upper + 1);
        else
            p->yAxis->setRange(y.lower - 0.05 * y.size(), y.upper + 0.05 * y.size());
    }
    m_plot->xAxis->rescale();
    if (m_plot->graphCount() == 0 || m_plot->xAxis->range().size() <= 0) {
        bool ok = false;
        const QCPRange r = m_loss_plot->graph(0)->getKeyRange(ok);
        m_plot->xAxis->setRange(ok ? r : QCPRange(0, 1));
    }
    m_loss_plot->xAxis->setRange(m_plot->xAxis->range());
    for (QCustomPlot* p : {m_plot, m_loss_plot}) p->replot(QCustomPlot::rpQueuedReplot);
    ++m_frames;
}

void PlotPanel::set_dark(bool dark) {
    const QColor bg = dark ? QColor(37, 37, 38) : Qt::white,
                 fg = dark ? QColor(210, 210, 210) : Qt::black;
    for (QCustomPlot* p : {m_plot, m_loss_plot}) {
        p->setBackground(bg);
        p->legend->setBrush(bg);
        p->legend->setTextColor(fg);
        for (QCPAxis* a : {p->xAxis, p->yAxis}) {
            a->setBasePen(QPen(fg));
            a->setTickPen(QPen(fg));
            a->setSubTickPen(QPen(fg));
            a->setTickLabelColor(fg);
            a->setLabelColor(fg);
        }
    }
    m_replot_timer.start();
}

bool PlotPanel::export_png(const QString& path, int width, int height) {
    replot_now();
    return m_plot->savePng(path, width, height);
}

bool PlotPanel::export_csv(const QString& path) const {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
    QTextStream out(&f);
    out << "watch,step,values\n";
    for (size_t w = 0; w < m_series.size(); ++w)
        for (size_t i = 0; i < m_series[w].x.size(); ++i) {
            out << m_names[int(w)] << "," << m_series[w].x[i];
            for (const auto& col : m_series[w].y) out << "," << col[i];
            out << "\n";
        }
    for (size_t i = 0; i < m_loss.x.size(); ++i)
        out << "loss," << m_loss.x[i] << "," << m_loss.y[0][i] << "\n";
    return out.status() == QTextStream::Ok;
}

} // namespace nnscope::ui
