// autograd.cpp: grad mode, recording, and the backward engine (reverse topological order,
// gradients summed per node before it runs, leaves accumulate into .grad).
#include "autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "dtype.h"
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

namespace {

// The edge an op's input gives: its node or its leaf, as they are now.
Edge edge_of(const Tensor& in) {
    if (!in.defined() || !in.requires_grad()) return {};
    const auto& fn = in.impl()->grad_fn;
    if (!fn) return {nullptr, in.impl_ptr()};
    if (fn->is_view && in.impl()->storage && in.impl()->storage->version != fn->view_version)
        throw Error("a view (output of " + fn->name +
                    ") of a tensor modified in place after the view was taken is used in an "
                    "autograd graph: nnscope does not support this yet; take the view after "
                    "the in-place operation");
    return {fn, nullptr};
}

SavedVersion saved_version(const Tensor& t, bool is_output) {
    SavedVersion s;
    s.storage = t.impl()->storage;
    s.version = s.storage ? s.storage->version : 0;
    s.shape = t.shape();
    s.dtype = t.dtype();
    s.is_output = is_output;
    if (!is_output) s.source = t.impl_ptr();
    return s;
}

// PyTorch's SavedVariable::unpack check, with its words.
void check_saved(const Node& node) {
    for (const SavedVersion& s : node.saved) {
        if (!s.storage || s.storage->version == s.version) continue;
        std::string which;
        if (s.is_output) {
            which = ", which is output 0 of " + node.name;
        } else if (auto src = s.source.lock(); src && src->grad_fn) {
            which = ", which is output 0 of " + src->grad_fn->name;
        }
        throw Error("one of the variables needed for gradient computation has been modified by "
                    "an inplace operation: [" +
                    dtype_legacy_type_name(s.dtype, s.storage->device.kind == DeviceKind::CUDA) +
                    " " + shape_str(s.shape) + "]" + which + (which.empty() ? "" : ",") +
                    " is at version " + std::to_string(s.storage->version) + "; expected version " +
                    std::to_string(s.version) +
                    " instead. Hint: enable anomaly detection to find the operation that failed "
                    "to compute its gradient, with torch.autograd.set_detect_anomaly(True).");
    }
}

} // namespace

void record(Tensor& out, std::string name, const std::vector<Tensor>& inputs,
            Node::BackwardFn backward, const Saves& saves) {
    auto node = std::make_shared<Node>();
    node->name = std::move(name);
    node->edges.reserve(inputs.size());
    for (const Tensor& in : inputs) node->edges.push_back(edge_of(in));
    for (const Tensor& in : saves.inputs)
        if (in.defined()) node->saved.push_back(saved_version(in, false));
    if (saves.output) node->saved.push_back(saved_version(out, true));
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

void check_inplace(const Tensor& t, bool recording) {
    if (!t_grad_enabled) return;
    if (t.requires_grad() && !t.impl()->grad_fn)
        throw Error("a leaf Variable that requires grad is being used in an in-place operation.");
    if (recording && t.impl()->is_view)
        throw Error(
            "in-place operation on a view" +
            (t.impl()->grad_fn ? " (output of " + t.impl()->grad_fn->name + ")" : std::string()) +
            " that autograd must record: nnscope does not support this yet (PyTorch "
            "records it as CopySlices on the view's base); compute it out of place");
}

void bump_version(const Tensor& t) {
    if (t.impl()->storage) ++t.impl()->storage->version;
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
        if (next < node->edges.size()) {
            Node* child = node->edges[next++].fn.get();
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
        check_saved(*node);
        std::vector<Tensor> input_grads = node->backward(g);
        for (size_t i = 0; i < node->edges.size() && i < input_grads.size(); ++i) {
            const Edge& edge = node->edges[i];
            Tensor gi = std::move(input_grads[i]);
            if (!gi.defined()) continue;
            if (Node* fn = edge.fn.get()) {
                auto [pos, inserted] = grads.emplace(fn, gi);
                if (!inserted) pos->second = pos->second.add(gi);
            } else if (edge.leaf && edge.leaf->requires_grad) {
                accumulate_leaf(Tensor(edge.leaf), std::move(gi));
            }
        }
    }
}

} // namespace autograd
} // namespace nnscope
