// random.h: a seedable random generator for tensor initialisation and input generators.
//
// Reproducible across platforms (own Box-Muller, no std::*_distribution, whose output
// differs between standard libraries). It does not reproduce torch.manual_seed's stream:
// nnscope's random initial values have PyTorch's distributions, not its exact numbers.
#pragma once

#include <cstdint>
#include <random>

#include "tensor.h"

namespace nnscope {

class Generator {
  public:
    explicit Generator(uint64_t seed = 0) : m_engine(seed) {}
    void manual_seed(uint64_t seed) {
        m_engine.seed(seed);
        m_has_spare = false;
    }
    double uniform() { return double(m_engine() >> 11) * 0x1.0p-53; } // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    double normal();

  private:
    std::mt19937_64 m_engine;
    bool m_has_spare = false;
    double m_spare = 0;
};

// The generator used when none is passed, like PyTorch's default CPU generator.
Generator& default_generator();

Tensor rand(const Shape& shape, Generator& gen, const TensorOptions& options = {});
Tensor randn(const Shape& shape, Generator& gen, const TensorOptions& options = {});
// While one is alive, uniform_ and normal_ leave tensors as they are on this thread, like
// torch.nn.utils.skip_init: for layers whose values are about to be replaced (a module
// rebuilt from a file), so no time goes into random numbers nobody sees.
class SkipInitGuard {
  public:
    SkipInitGuard();
    ~SkipInitGuard();
    SkipInitGuard(const SkipInitGuard&) = delete;
    SkipInitGuard& operator=(const SkipInitGuard&) = delete;

  private:
    bool m_previous;
};

// In place, as torch.nn.init: uniform_(a, b), normal_(mean, std).
Tensor& uniform_(Tensor& t, double lo, double hi, Generator& gen);
Tensor& normal_(Tensor& t, double mean, double std, Generator& gen);

} // namespace nnscope
