// input_generator.h: synthetic inputs for stepping a model: what the window feeds a model
// when no input file is given.
//
// The input's shape follows the model's first layer: (batch, in_features) for Linear,
// (batch, C, 8, 8) for Conv2d, integer indices (batch, 8) for Embedding, one value for the
// seed's RunningAverage, (size) for Accumulator. A model that does not say its input shape
// (a TorchScript archive) gets a guess from its first Conv, Linear, Embedding, RNN or norm
// (guess_input_shape), or the shape a user gives (InputGeneratorOptions::input_shape). Features are
// normal with a per-feature mean that drifts slowly (a sine over steps), so running statistics have
// something to follow. Training targets come from a fixed random "teacher" map of the input, so the
// loss can fall.
#pragma once

#include <optional>
#include <string>

#include "module.h"
#include "random.h"

namespace nnscope {

struct InputGeneratorOptions {
    int64_t batch = 32;
    double mean = 0.0, std = 1.0;
    double drift = 2.0;        // amplitude of the mean's drift
    double drift_period = 500; // steps per full cycle; 0 disables drift
    uint64_t seed = 0;
    // The whole input's shape, batch first ([8, 3, 224, 224]); empty: from the model.
    Shape input_shape;
};

// A plausible input shape for a model built of modules nnscope only knows by their class
// names and tensors (TorchScript): [8, C, 224, 224] for a first Conv2d with C input
// channels, [8, in] for a Linear, [8, 16] indices for an Embedding, [16, 8, in] for an
// RNN. Empty when nothing fits.
Shape guess_input_shape(Module& model);

class InputGenerator {
  public:
    // Throws ValueError when no input shape can be derived from the model.
    InputGenerator(Module& model, InputGeneratorOptions options = {});
    Tensor input(int64_t step);                           // the input of step `step`
    Tensor target(const Tensor& x, const Tensor& output); // a learnable target shaped like output
    // Inputs from a file instead: step i feeds xs[i % steps] (and ys[i % steps] as the target
    // when given), as `nnscope-cli run` does. Throws ValueError on a 0-d or empty xs.
    void use_file_inputs(const Tensor& xs, const Tensor& ys, const std::string& description);
    const std::string& description() const { return m_description; }
    // The generated input's whole shape, batch first.
    Shape shape() const;
    // Changes the generator's distribution from the next step on.
    void set_distribution(double std, double drift, double drift_period) {
        m_options.std = std;
        m_options.drift = drift;
        m_options.drift_period = drift_period;
    }
    const InputGeneratorOptions& options() const { return m_options; }

  private:
    enum class Kind { Features, Images, Indices, Scalar, Vector } m_kind = Kind::Features;
    Shape m_shape; // one sample's shape (without batch for batched kinds)
    int64_t m_vocabulary = 0;
    InputGeneratorOptions m_options;
    Generator m_gen;
    Tensor m_feature_offsets; // per-feature base mean
    Tensor m_teacher;         // (flat input, flat output)
    Tensor m_file_x, m_file_y;
    void from_shape(const Shape& shape, int64_t vocabulary);
    int64_t m_last_step = 0;
    std::string m_description;
};

} // namespace nnscope
