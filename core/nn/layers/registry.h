// registry.h: one table from a PyTorch class name ("Linear", "BatchNorm2d") to the nnscope
// layer that implements it and the hyper-parameters it is built from. A model spec
// (model_spec.cpp) and a whole pickled module (torch_pt.cpp) both build layers through it,
// each reading hyper-parameters through its own LayerArgs.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "module.h"
#include "random.h"

namespace nnscope {

// Where a layer's hyper-parameters come from. A spec applies PyTorch's defaults and fails
// in its own words; a pickled module has every attribute of its class and, when one is
// missing or of another type, is not that layer (it stays inspect-only). `dflt` is the
// default a spec may leave out; without one the value is required.
class LayerArgs {
  public:
    explicit LayerArgs(Generator& gen) : gen(gen) {}
    virtual ~LayerArgs() = default;
    virtual int64_t integer(const char* key, std::optional<int64_t> dflt = std::nullopt) = 0;
    virtual double number(const char* key, double dflt) = 0;
    virtual bool boolean(const char* key, bool dflt) = 0;
    // An int or a pair of ints (kernel_size=3 or (3, 5)).
    virtual std::array<int64_t, 2> pair(const char* key, std::optional<int64_t> dflt) = 0;
    // An int or a sequence of one int (Conv1d's kernel_size=3 or (3,)).
    virtual int64_t single(const char* key, std::optional<int64_t> dflt) = 0;
    // May be None (null): Upsample's align_corners.
    virtual std::optional<bool> optional_boolean(const char* key) = 0;
    // May be None (null): padding_idx, Softmax's dim.
    virtual std::optional<int64_t> optional_integer(const char* key) = 0;
    // May be None (null); `dflt` when left out: BatchNorm's momentum.
    virtual std::optional<double> optional_number(const char* key, std::optional<double> dflt) = 0;
    // An int or a list of ints: LayerNorm's normalized_shape.
    virtual Shape shape(const char* key) = 0;
    virtual std::string text(const char* key, const std::string& dflt) = 0;
    // Whether the layer has a bias: a spec's `bias` flag, a pickle's bias tensor.
    virtual bool has_bias() = 0;
    // The elements a layer will allocate for these sizes; a pickle refuses sizes its
    // storages cannot hold (a hostile Linear(10^6, 10^6)) before anything is allocated.
    virtual void check_size(const std::vector<int64_t>& dims) { (void)dims; }
    // A pickled module brings its children (a Transformer layer's Linear and LayerNorm);
    // a spec's layer creates them from its hyper-parameters.
    virtual bool children_given() const { return false; }
    [[noreturn]] virtual void fail(const std::string& what) = 0;
    Generator& gen; // initial values
};

struct Activation; // activations.h

struct LayerType {
    const char* name;              // PyTorch's class name
    std::vector<const char*> keys; // the hyper-parameters a spec may give
    ModulePtr (*build)(const std::string& name, LayerArgs& args);
    bool torch_nn = true;                   // a torch.nn class (false: the seed documents' modules)
    const Activation* activation = nullptr; // the row an activation's layer is built from

    // The layer from these hyper-parameters: `build`, or the activation's row.
    ModulePtr make(LayerArgs& args) const;
};

// Every layer nnscope implements, in the order the spec format lists them.
const std::vector<LayerType>& layer_types();
// The entry for a class name, or null.
const LayerType* find_layer_type(std::string_view name);

} // namespace nnscope
