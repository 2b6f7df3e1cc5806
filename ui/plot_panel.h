// plot_panel.h: live plots of watched tensors and the loss against the step (QCustomPlot).
//
// A tensor of at most 8 elements gets one line per element; a larger one a mean line in a
// min-max band. Controls above the plots, as TensorBoard's: each watch normalised to its
// own range (so a counter does not flatten the rest), log scale, smoothing, clear, unwatch
// all. The legends sit below the axes, never over the data. Vertical markers show where the mode
// switched between train and eval, so running statistics visibly freeze in eval. Samples arrive in
// batches from the step worker; redraws are coalesced by a single-shot timer (at most ~30 per
// second), and the history is bounded: past a limit every other point is dropped (older data
// decimated).
#pragma once

#include <QTimer>
#include <QWidget>
#include <memory>
#include <vector>

#include "step_worker.h"

class QCheckBox;
class QCustomPlot;
class QDoubleSpinBox;
class QCPRange;

namespace nnscope::ui {

class PlotPanel : public QWidget {
    Q_OBJECT
  public:
    explicit PlotPanel(QWidget* parent = nullptr);

    // `band[i]`: watch i is a large tensor sampled as mean, min, max (drawn as a band).
    void set_watches(const QStringList& names, const std::vector<bool>& band);
    const QStringList& watches() const { return m_names; }
    void clear();
    void add(const StepBatch& batch);

    bool export_png(const QString& path, int width = 1000, int height = 700);
    bool export_csv(const QString& path) const;

    // For tests and the benchmark.
    int frames_drawn() const { return m_frames; }
    size_t points(int watch) const;
    // The steps of the stored samples of one watch (tests, exports).
    const std::vector<double>& steps(int watch) const { return m_series[size_t(watch)].x; }
    size_t loss_points() const { return m_loss.x.size(); }
    int mode_markers() const { return int(m_markers.size()); }
    // The axes' ranges now: the watch plot's, or the loss plot's.
    QCPRange x_range(bool loss) const;
    QCPRange y_range(bool loss) const;
    void replot_now();
    void set_dark(bool dark);

  signals:
    // The "Unwatch all" button: the window owns the watch list.
    void unwatch_all_requested();

  public:
    static constexpr size_t k_max_points = 20000;   // stored per series
    static constexpr size_t k_display_points = 800; // drawn per line, at most
    static constexpr size_t k_min_display_points = 100;
    static constexpr double k_frame_budget_ms = 12; // drawing both plots, software raster
    static constexpr size_t k_max_markers = 2000;   // train/eval switches kept

  private:
    struct Series {
        std::vector<double> x;
        std::vector<std::vector<double>> y; // one column per element, or mean/min/max
        bool band = false;                  // mean with a min-max band
        // Uniform thinning: every `stride`-th sample is stored; each decimation halves
        // the stored points and doubles the stride, so old and new history keep the same
        // density (halving alone would thin the oldest points away entirely).
        size_t stride = 1, seen = 0;
        bool take() { return seen++ % stride == 0; }
    };
    void rebuild_graphs();
    void fit_legends();
    void resizeEvent(QResizeEvent* event) override;
    void decimate(Series& s);

    QCheckBox* m_normalise;
    QCheckBox* m_log_scale;
    QDoubleSpinBox* m_smoothing;
    QCustomPlot* m_plot;
    QCustomPlot* m_loss_plot;
    QStringList m_names;
    std::vector<Series> m_series;
    Series m_loss;
    std::vector<std::pair<double, bool>> m_markers; // step, new mode is training
    bool m_last_training = true;
    bool m_have_mode = false;
    QTimer m_replot_timer;
    int m_frames = 0;
    // Points drawn per line now: shrinks when a frame took longer than the budget (noisy
    // lines over a long history make jagged, costly band polygons), grows back when cheap.
    size_t m_display_points = k_display_points;
    bool m_dirty_graphs = true;
};

} // namespace nnscope::ui
