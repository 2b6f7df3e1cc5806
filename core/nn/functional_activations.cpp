// functional_activations.cpp: the piecewise activations (LeakyReLU, ELU, Softplus, Mish,
// PReLU) as recorded ops. Each branch is chosen by a mask computed without autograd, so
// the gradient is PyTorch's branch by branch: (x > 0 ? 1 : slope) for LeakyReLU, etc.
#include "functional.h"

#include "autograd.h"
#include "errors.h"

namespace nnscope::F {

namespace {
// 1 where x > threshold, else 0, in x's dtype; never recorded.
Tensor above(const Tensor& x, double threshold) {
    NoGradGuard no_grad;
    return x.detach().sub(Scalar(threshold)).sign().relu();
}
Tensor scalar_like(const Tensor& x, double v) {
    return full({}, Scalar(v), TensorOptions(x.dtype()).with_device(x.device()));
}
} // namespace

Tensor leaky_relu(const Tensor& x, double negative_slope) {
    Tensor pos = above(x, 0.0);
    // pos + (1 - pos) * slope, a constant factor per element.
    Tensor factor = pos.mul(Scalar(1.0 - negative_slope)).add(Scalar(negative_slope));
    return x.mul(factor);
}

Tensor elu(const Tensor& x, double alpha) {
    Tensor pos = above(x, 0.0);
    Tensor neg = pos.neg().add(Scalar(1.0));
    // exp of min(x, 0): no overflow on the branch that is masked out.
    Tensor e = x.minimum(scalar_like(x, 0.0)).exp().sub(Scalar(1.0)).mul(Scalar(alpha));
    return x.mul(pos).add(e.mul(neg));
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
    // PyTorch: x where x * beta > threshold, else log(1 + exp(beta * x)) / beta.
    Tensor linear_part = above(x.mul(Scalar(beta)), threshold);
    Tensor soft = linear_part.neg().add(Scalar(1.0));
    Tensor bx = x.mul(Scalar(beta)).minimum(scalar_like(x, threshold));
    Tensor s = bx.exp().add(Scalar(1.0)).log().div(Scalar(beta));
    return x.mul(linear_part).add(s.mul(soft));
}

Tensor mish(const Tensor& x) {
    return x.mul(softplus(x, 1.0, 20.0).tanh());
}

Tensor prelu(const Tensor& x, const Tensor& weight) {
    // max(0, x) + weight * min(0, x); weight has 1 or C (= x.size(1)) elements.
    Tensor w = weight;
    if (weight.numel() != 1) {
        const int64_t channel_dim = x.dim() >= 2 ? 1 : 0;
        if (x.dim() == 0 || x.size(channel_dim) != weight.numel())
            throw Error(
                "Mismatch of parameter numbers and input channel size. Found parameter numbers = " +
                std::to_string(weight.numel()) + " and channel size = " +
                std::to_string(x.dim() == 0 ? 1 : x.size(channel_dim)) + ".");
        Shape s(size_t(x.dim()), 1);
        s[size_t(channel_dim)] = weight.numel();
        w = weight.reshape(s);
    } else {
        w = weight.reshape({});
    }
    return x.relu().sub(w.mul(x.neg().relu()));
}

} // namespace nnscope::F
