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

// Where one input's gradient goes, fixed when the op is recorded (as PyTorch's Edge): the
// node that made the input then, or the leaf that accumulates it; neither when the input
// did not require grad. An in-place op later gives the input a new grad_fn; this edge
// still leads to the history the op actually read.
struct Edge {
    std::shared_ptr<Node> fn;
    std::shared_ptr<TensorImpl> leaf;
};

// A tensor a backward function reads, with the version its storage had when saved.
// Backward refuses to run if the storage was written in place since (PyTorch's
// SavedVariable check).
struct SavedVersion {
    std::shared_ptr<Storage> storage;
    uint32_t version = 0;
    Shape shape;
    DType dtype = DType::Float32;
    bool is_output = false;           // the op's own result
    std::weak_ptr<TensorImpl> source; // an input: its grad_fn names it in the error
};

// One recorded op: where its inputs' gradients go and how to compute them from its
// output's gradient.
struct Node {
    using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;
    std::string name;        // PyTorch's grad_fn name, e.g. "AddBackward0"
    std::vector<Edge> edges; // one per input, in the backward function's order
    std::vector<SavedVersion> saved;
    BackwardFn backward;
    // A view op's node: the storage version when the view was taken. A view whose base was
    // written in place since no longer matches this history (autograd.cpp refuses it).
    bool is_view = false;
    uint32_t view_version = 0;
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

// What a backward function reads, for the version check: inputs, and/or the output.
struct Saves {
    std::vector<Tensor> inputs;
    bool output = false;
};

// True when an op on these inputs must be recorded.
bool should_record(std::initializer_list<const Tensor*> inputs);
// Attaches a Node to `out` (which then requires grad). Callers check should_record first.
// The edges are taken from the inputs as they are now, so an in-place op records onto its
// own `out` with itself among the inputs (PyTorch's rebase_history).
void record(Tensor& out, std::string name, const std::vector<Tensor>& inputs,
            Node::BackwardFn backward, const Saves& saves = Saves());
// Sums a broadcast gradient back to `shape` (the reverse of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);
// Before an in-place write to `t`: refuses what PyTorch refuses (a leaf that requires
// grad, while recording) and, when the write will be recorded, a view (nnscope does not
// rebase a view's base, PyTorch's CopySlices). Call with recording = should_record(...).
void check_inplace(const Tensor& t, bool recording = false);
// After an in-place write: one more version of `t`'s storage.
void bump_version(const Tensor& t);
// Runs backward from `root` with `grad` (ones for a scalar root when undefined).
void run_backward(const Tensor& root, const Tensor& grad);

} // namespace autograd
} // namespace nnscope
