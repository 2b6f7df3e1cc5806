// random.cpp: Box-Muller normals and uniform fills on top of mt19937_64.
#include "random.h"

#include <cmath>

namespace nnscope {

double Generator::normal() {
    if (m_has_spare) {
        m_has_spare = false;
        return m_spare;
    }
    double u1 = 1.0 - uniform(); // (0, 1]: log stays finite
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    m_spare = r * std::sin(2.0 * M_PI * u2);
    m_has_spare = true;
    return r * std::cos(2.0 * M_PI * u2);
}

Generator& default_generator() {
    static Generator g(0);
    return g;
}

namespace {
thread_local bool t_skip_init = false;

template <class F> Tensor& fill_with(Tensor& t, F&& next) {
    if (t_skip_init) return t;
    std::vector<double> v(size_t(t.numel()));
    for (auto& x : v) x = next();
    t.copy_(from_doubles(v, t.shape(), TensorOptions(DType::Float64)));
    return t;
}
} // namespace

SkipInitGuard::SkipInitGuard() : m_previous(t_skip_init) {
    t_skip_init = true;
}
SkipInitGuard::~SkipInitGuard() {
    t_skip_init = m_previous;
}

Tensor& uniform_(Tensor& t, double lo, double hi, Generator& gen) {
    return fill_with(t, [&] { return gen.uniform(lo, hi); });
}

Tensor& normal_(Tensor& t, double mean, double std, Generator& gen) {
    return fill_with(t, [&] { return mean + std * gen.normal(); });
}

Tensor rand(const Shape& shape, Generator& gen, const TensorOptions& options) {
    Tensor t = empty(shape, TensorOptions(options.dtype).with_device(options.device));
    uniform_(t, 0, 1, gen);
    if (options.requires_grad) t.set_requires_grad(true);
    return t;
}

Tensor randn(const Shape& shape, Generator& gen, const TensorOptions& options) {
    Tensor t = empty(shape, TensorOptions(options.dtype).with_device(options.device));
    normal_(t, 0, 1, gen);
    if (options.requires_grad) t.set_requires_grad(true);
    return t;
}

} // namespace nnscope
