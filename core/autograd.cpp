// autograd.cpp: grad mode, recording, and the backward engine (reverse topological order,
// gradients summed per node before it runs, leaves accumulate into .grad).
#include "autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "errors.h"

namespace nnscope {

namespace {
thread_local bool t_grad_enabled = true;
} // namespace

bool grad_enabled() {
    return t_grad_enabled;
}

NoGradGuard::NoGradGuard() : m_previous(t_grad_enabled) {
    t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
    t_grad_enabled = m_previous;
}

namespace autograd {

bool should_record(std::initializer_list<const Tensor*> inputs) {
    if (!t_grad_enabled) return false;
    for (const Tensor* t : inputs)
        if (t && t->defined() && t->requires_grad()) return true;
    return false;
}

void record(Tensor& out, std::string name, std::vector<Tensor> inputs, Node::BackwardFn backward) {
    auto node = std::make_shared<Node>();
    node->name = std::move(name);
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    out.impl()->grad_fn = std::move(node);
    out.impl()->requires_grad = true;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
    if (grad.shape() == shape) return grad;
    const int64_t lead = grad.dim() - int64_t(shape.size());
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < grad.dim(); ++d)
        if (d < lead || (shape[size_t(d - lead)] == 1 && grad.size(d) != 1)) dims.push_back(d);
    Tensor s = dims.empty() ? grad : grad.sum(dims, true);
    return s.reshape(shape);
}

void check_inplace(const Tensor& t) {
    if (!t_grad_enabled || !t.requires_grad()) return;
    if (!t.impl()->grad_fn)
        throw Error("a leaf Variable that requires grad is being used in an in-place operation.");
    throw Error(
        "in-place operations on tensors that are part of an autograd graph are not supported");
}

void run_backward(const Tensor& root, const Tensor& grad_in) {
    if (!root.requires_grad())
        throw Error("element 0 of tensors does not require grad and does not have a grad_fn");
    Tensor grad = grad_in;
    if (!grad.defined()) {
        if (root.numel() != 1)
            throw Error("grad can be implicitly created only for scalar outputs");
        grad = ones(root.shape(), TensorOptions(root.dtype()).with_device(root.device()));
    }
    NoGradGuard no_grad; // the backward pass itself is not recorded
    auto accumulate_leaf = [](const Tensor& leaf, Tensor g) {
        Tensor gg = g.dtype() == leaf.dtype() ? std::move(g) : g.to(leaf.dtype());
        if (!leaf.impl()->grad) {
            // A gradient nothing else holds (a backward's fresh result) becomes .grad as it
            // is; anything shared (an incoming gradient passed through, a view) is copied.
            const bool sole = gg.impl_ptr().use_count() == 1 &&
                              gg.impl()->storage.use_count() == 1 && gg.is_contiguous() &&
                              gg.shape() == leaf.shape() && !gg.impl()->grad_fn;
            leaf.impl()->grad = sole ? gg.impl_ptr() : gg.contiguous().clone().impl_ptr();
        } else
            Tensor(leaf.impl()->grad).add_(gg);
    };
    Node* root_fn = root.impl()->grad_fn.get();
    if (!root_fn) { // backward on a leaf
        accumulate_leaf(root, grad);
        return;
    }
    // Topological order by iterative DFS (post-order), then run in reverse.
    std::vector<Node*> order;
    std::unordered_set<Node*> seen{root_fn};
    std::vector<std::pair<Node*, size_t>> stack{{root_fn, 0}};
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            const Tensor& in = node->inputs[next++];
            Node* child = in.defined() ? in.impl()->grad_fn.get() : nullptr;
            if (child && seen.insert(child).second) stack.push_back({child, 0});
        } else {
            order.push_back(node);
            stack.pop_back();
        }
    }
    std::unordered_map<Node*, Tensor> grads{{root_fn, grad}};
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node* node = *it;
        auto found = grads.find(node);
        if (found == grads.end()) continue; // no gradient flows here
        Tensor g = found->second;
        grads.erase(found);
        std::vector<Tensor> input_grads = node->backward(g);
        for (size_t i = 0; i < node->inputs.size() && i < input_grads.size(); ++i) {
            const Tensor& in = node->inputs[i];
            Tensor gi = std::move(input_grads[i]);
            if (!gi.defined() || !in.defined() || !in.requires_grad()) continue;
            if (Node* fn = in.impl()->grad_fn.get()) {
                auto [pos, inserted] = grads.emplace(fn, gi);
                if (!inserted) pos->second = pos->second.add(gi);
            } else {
                accumulate_leaf(in, std::move(gi));
            }
        }
    }
}

} // namespace autograd
} // namespace nnscope
