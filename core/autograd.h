// autograd.h: reverse-mode automatic differentiation over nnscope's tensor ops.
//
// When grad mode is on and an op's input requires grad, the op records a Node on its
// output (grad_fn) holding its inputs and a backward function. Tensor::backward() walks
// the graph in reverse topological order and accumulates gradients into the .grad of the
// leaves that require grad, as PyTorch does: parameters, and any other leaf tensor that
// requires grad (a buffer registered with requires_grad=True that forward reads gets a
// .grad too, as in PyTorch). Layers update their buffers under NoGradGuard, so those
// updates are never recorded; and an optimizer sees only parameters().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor.h"

namespace nnscope {

// One recorded op: the inputs it read and how to map its output's gradient to theirs.
struct Node {
    using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;
    std::string name;           // PyTorch's grad_fn name, e.g. "AddBackward0"
    std::vector<Tensor> inputs; // edges; inputs that do not require grad get no gradient
    BackwardFn backward;
};

bool grad_enabled();

// torch.no_grad(): nothing recorded while one is alive (per thread).
class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool m_previous;
};

namespace autograd {

// True when an op on these inputs must be recorded.
bool should_record(std::initializer_list<const Tensor*> inputs);
// Attaches a Node to `out` (which then requires grad). Callers check should_record first.
void record(Tensor& out, std::string name, std::vector<Tensor> inputs, Node::BackwardFn backward);
// Sums a broadcast gradient back to `shape` (the reverse of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);
// Refuses in-place changes PyTorch refuses (a leaf that requires grad, while recording).
void check_inplace(const Tensor& t);
// Runs backward from `root` with `grad` (ones for a scalar root when undefined).
void run_backward(const Tensor& root, const Tensor& grad);

} // namespace autograd
} // namespace nnscope
