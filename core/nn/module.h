// module.h: nnscope's nn.Module, with PyTorch's rules for parameters, buffers and children.
//
// A module holds, in registration order: parameters, buffers (each persistent or not),
// child modules, and plain tensor attributes, which it keeps but does not register (not
// in state_dict, not moved by to()). Undefined tensors and null children are PyTorch's
// None: allowed, kept in place, skipped by every listing. Every named_* listing and the
// state dict come from one recursive walk over these maps; nothing is cached.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ordered_dict.h"
#include "tensor.h"

namespace nnscope {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// state_dict(): an ordered name -> tensor map plus, per module prefix, the module's
// state-dict version (PyTorch's `_metadata`, which .pt files carry).
struct StateDict {
    OrderedDict<Tensor> tensors;
    OrderedDict<int> versions; // "" for the root, "0", "0.sub", ...
};

struct LoadResult {
    std::vector<std::string> missing_keys;
    std::vector<std::string> unexpected_keys;
};

enum class TensorKind { Parameter, Buffer, Attribute };
const char* tensor_kind_name(TensorKind kind); // "parameter", "buffer", "attribute"

// One tensor slot of the tree, for the views and the CLI: every registered or plain
// tensor with where it lives.
struct TensorEntry {
    std::string name; // dotted
    TensorKind kind;
    bool persistent; // false for non-persistent buffers and attributes
    Tensor tensor;
    Module* owner;
    std::string local_name;
};

class Module : public std::enable_shared_from_this<Module> {
  public:
    // `type_name` is the class name PyTorch prints ("Linear", "MyModel"); empty when the
    // type is unknown (a tree inferred from a bare state dict).
    explicit Module(std::string type_name = "Module");
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    const std::string& type_name() const { return m_type_name; }
    void set_type_name(std::string name) { m_type_name = std::move(name); }
    // Off for trees rebuilt from files: nn.Module's own attribute names ("forward",
    // "float") are then accepted as tensor and child names.
    void set_strict_names(bool strict) { m_strict_names = strict; }

    // --- registration, with PyTorch's checks and messages (KeyError / TypeError)
    // An undefined `param` registers None. A defined one becomes an nn.Parameter sharing
    // the tensor's storage.
    Tensor register_parameter(const std::string& name, const Tensor& param,
                              bool requires_grad = true);
    Tensor register_buffer(const std::string& name, const Tensor& tensor, bool persistent = true);
    ModulePtr register_module(const std::string& name, ModulePtr module);

    // Python's `self.name = value` for a tensor value (Module.__setattr__): a Parameter
    // registers a parameter (leaving any buffer of that name); a plain tensor replaces a
    // buffer of that name (keeping its persistence), is refused for a parameter's name,
    // and otherwise becomes a plain attribute.
    void set_attr(const std::string& name, const Tensor& value);
    // `self.name = module`.
    void set_attr(const std::string& name, ModulePtr module);
    // `self.name` for a tensor: parameter, buffer or plain attribute. Throws
    // "'Model' object has no attribute 'x'" (AttributeError, as a KeyError) otherwise.
    Tensor attr(const std::string& name) const;
    ModulePtr child(const std::string& name) const;
    // True when `name` is taken: a registered name, a plain attribute, a module method
    // or attribute of nn.Module itself ("forward", "training", ...).
    bool has_attr(const std::string& name) const;
    // Python's `del self.name`.
    void del_attr(const std::string& name);

    const OrderedDict<Tensor>& own_parameters() const { return m_parameters; }
    const OrderedDict<Tensor>& own_buffers() const { return m_buffers; }
    const OrderedDict<Tensor>& own_attributes() const { return m_attributes; }
    const OrderedDict<ModulePtr>& own_children() const { return m_children; }
    bool is_persistent_buffer(const std::string& name) const {
        return !m_non_persistent.contains(name);
    }

    // --- queries, PyTorch's order and de-duplication (by tensor / module identity)
    NamedTensors named_parameters(const std::string& prefix = "", bool recurse = true,
                                  bool remove_duplicate = true) const;
    NamedTensors named_buffers(const std::string& prefix = "", bool recurse = true,
                               bool remove_duplicate = true) const;
    std::vector<std::pair<std::string, ModulePtr>> named_modules(const std::string& prefix = "",
                                                                 bool remove_duplicate = true);
    std::vector<std::pair<std::string, ModulePtr>> named_children() const;
    std::vector<Tensor> parameters(bool recurse = true) const;
    std::vector<Tensor> buffers(bool recurse = true) const;
    // Every tensor slot: state-dict entries in state-dict order, then non-persistent
    // buffers and plain attributes (module by module).
    std::vector<TensorEntry> tensor_entries();

    // --- state
    StateDict state_dict(const std::string& prefix = "") const;
    // Validates every entry first and copies only when all is well: a failed load
    // changes nothing. Message texts are PyTorch's.
    LoadResult load_state_dict(const StateDict& state_dict, bool strict = true);

    void train(bool mode = true);
    void eval() { train(false); }
    bool is_training() const { return m_training; }

    // Moves parameters and buffers (integer ones too); plain attributes stay.
    void to(const Device& device);
    // Casts floating-point parameters and buffers only ("nn.Module.to only accepts
    // floating point or complex dtypes" otherwise).
    void to(DType dtype);

    // --- running
    // The forward pass. Modules without one (custom modules declared in a spec, trees
    // rebuilt from bare state dicts) are inspect-only: forward() raises PyTorch's
    // NotImplementedError text.
    virtual bool has_forward() const { return false; }
    virtual Tensor forward(const Tensor& x);
    // Every tensor forward returns, a tuple's in order (nn.LSTM: output, h_n, c_n);
    // forward() returns the first. A module with a tuple output overrides both.
    virtual std::vector<Tensor> forward_all(const Tensor& x) { return {forward(x)}; }
    // model(x), as nn.Module.__call__: runs forward() and records the output's shape
    // (torchinfo's "Output Shape"). Containers call their children this way, and the
    // TorchScript interpreter records the submodules whose forward it calls.
    Tensor operator()(const Tensor& x);
    // The shapes of the tensors the last call returned (several for a tuple output);
    // empty before the first call.
    const std::vector<Shape>& output_shapes() const { return m_output_shapes; }
    void set_output_shapes(std::vector<Shape> shapes) {
        m_output_shapes = std::move(shapes);
        ++m_outputs_set;
    }
    // One output: the shape copied into what the last call left (no allocation per step).
    void record_output(const Tensor& y) {
        m_output_shapes.resize(1);
        m_output_shapes[0] = y.shape();
        ++m_outputs_set;
    }
    // The inputs forward takes (TransformerDecoderLayer: tgt and memory). A model runs on
    // one input, so a root that needs more is not runnable on its own.
    virtual int input_count() const { return 1; }
    // True when forward() can run: this module and every module it calls have one.
    virtual bool runnable() const { return has_forward(); }

    // State-dict version of this module type (BatchNorm: 2), PyTorch's `_version`.
    virtual int version() const { return 1; }
    // "in_features=6, out_features=16, bias=True"
    virtual std::string extra_repr() const { return {}; }
    // print(model)
    std::string repr() const;

  protected:
    // Hook before loading this module's own entries, e.g. BatchNorm fills a missing
    // num_batches_tracked from an old checkpoint. `sd` is the loader's private copy.
    virtual void before_load(StateDict& sd, const std::string& prefix) const {
        (void)sd;
        (void)prefix;
    }
    void set_training_flag(bool mode) { m_training = mode; }

  private:
    void check_new_name(const std::string& name, const char* what, bool in_own_map) const;
    void collect_state(StateDict& sd, const std::string& prefix) const;
    void collect_load(StateDict& sd, const std::string& prefix, LoadResult& result,
                      std::vector<std::string>& errors,
                      std::vector<std::pair<Tensor, Tensor>>& copies) const;

    std::string m_type_name;
    bool m_training = true;
    std::vector<Shape> m_output_shapes;
    uint64_t m_outputs_set = 0; // bumped by each record: operator() sees whether forward did
    bool m_strict_names = true;
    OrderedDict<Tensor> m_parameters;
    OrderedDict<Tensor> m_buffers;
    OrderedDict<bool> m_non_persistent; // used as an ordered set
    OrderedDict<ModulePtr> m_children;
    OrderedDict<Tensor> m_attributes;
};

// The type name torch.typename() gives a tensor ("torch.FloatTensor").
std::string tensor_type_name(const Tensor& t);

} // namespace nnscope
