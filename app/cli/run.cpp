// run.cpp: `nnscope-cli run`: forward passes or training steps on a model spec, fed step by
// step from an input file, with the resulting state dict saved and an optional CSV trace
// (loss and every buffer's values per step) for plots.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "autograd.h"
#include "common.h"
#include "errors.h"
#include "examples.h"
#include "functional.h"
#include "model_facts.h"
#include "model_spec.h"
#include "optim/optimizer.h"
#include "program.h"
#include "safetensors.h"
#include "torchscript.h"

namespace nnscope::cli {

namespace {

struct RunOptions {
    std::string spec, load, entry, inputs, input_key = "x", target_key = "y", mode, optimizer,
                                           loss = "mse", device = "cpu", save, trace, outputs,
                                           save_model;
    std::optional<uint64_t> seed;
    double step_timeout = 60;
    int64_t steps = -1;
};

RunOptions parse_run(const std::vector<std::string>& argv) {
    RunOptions o;
    auto value = [&](size_t& i) -> std::string {
        if (i + 1 >= argv.size()) throw UsageError(argv[i] + " needs a value");
        return argv[++i];
    };
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--load")
            o.load = value(i);
        else if (a == "--entry")
            o.entry = value(i);
        else if (a == "--inputs")
            o.inputs = value(i);
        else if (a == "--input-key")
            o.input_key = value(i);
        else if (a == "--target-key")
            o.target_key = value(i);
        else if (a == "--steps") {
            std::string v = value(i);
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos ||
                v.size() > 12)
                throw UsageError("--steps needs a non-negative integer, got '" + v + "'");
            o.steps = std::stoll(v);
        } else if (a == "--mode")
            o.mode = value(i);
        else if (a == "--optimizer")
            o.optimizer = value(i);
        else if (a == "--loss")
            o.loss = value(i);
        else if (a == "--device")
            o.device = value(i);
        else if (a == "--seed") {
            std::string v = value(i);
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos ||
                v.size() > 19)
                throw UsageError("--seed needs a non-negative integer, got '" + v + "'");
            o.seed = std::stoull(v);
        } else if (a == "--save")
            o.save = value(i);
        else if (a == "--trace")
            o.trace = value(i);
        else if (a == "--outputs")
            o.outputs = value(i);
        else if (a == "--save-model")
            o.save_model = value(i);
        else if (a == "--step-timeout") {
            std::string v = value(i);
            char* end = nullptr;
            o.step_timeout = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || !(o.step_timeout > 0) || o.step_timeout > 1e6)
                throw UsageError("--step-timeout needs a number of seconds, got '" + v + "'");
        } else if (a == "--example")
            o.spec = "example:" + value(i);
        else if (a.size() > 1 && a[0] == '-')
            throw UsageError("unknown option '" + a + "'");
        else if (o.spec.empty())
            o.spec = a;
        else
            throw UsageError("run takes one MODEL");
    }
    if (o.spec.empty())
        throw UsageError("missing MODEL (a model spec .json, a TorchScript or whole-module .pt, or "
                         "--example NAME)");
    if (o.inputs.empty()) throw UsageError("missing --inputs FILE");
    if (o.steps < 0) throw UsageError("missing --steps N");
    if (o.mode != "train" && o.mode != "eval") throw UsageError("--mode must be train or eval");
    if (o.save.empty() && o.outputs.empty() && o.trace.empty() && o.save_model.empty())
        throw UsageError(
            "nothing to write: give --save OUT, --outputs OUT, --save-model OUT or --trace OUT");
    if (o.loss != "mse" && o.loss != "cross_entropy")
        throw UsageError("--loss must be mse or cross_entropy");
    return o;
}

ModulePtr build_model(const RunOptions& o) {
    if (o.spec.starts_with("example:")) {
        for (const auto& ex : builtin_examples())
            if ("example:" + ex.name == o.spec)
                return parse_model_spec(ex.json, o.spec, o.seed).root;
        throw FormatError(o.spec, "no such example (see: nnscope-cli examples)");
    }
    if (o.spec.ends_with(".json")) return load_model_spec(o.spec, o.seed).root;
    // Anything else that opens as a model: a TorchScript archive, a whole pickled module.
    Document doc = open_document(o.spec, o.entry);
    if (!doc.root->runnable())
        throw FormatError(o.spec, doc.format == "torchscript" && !doc.note.empty()
                                      ? doc.note
                                      : "the model is not runnable: " +
                                            not_runnable_summary(not_runnable_modules(doc)));
    return doc.root;
}

// One model output as safetensors entries: a tensor under `name`, tuples and lists as
// name.0, name.1.0, ...; None and numbers are left out.
void flatten_output(const script::Value& v, const std::string& name,
                    std::vector<std::pair<std::string, Tensor>>& out) {
    if (v.kind == script::Value::Kind::Tensor) {
        out.emplace_back(name, v.t.to(Device::cpu()).contiguous());
    } else if (v.is_sequence()) {
        for (size_t k = 0; k < v.list->size(); ++k)
            flatten_output((*v.list)[k], name + "." + std::to_string(k), out);
    } else if (v.kind == script::Value::Kind::Dict) {
        for (const auto& [key, x] : v.dict->items)
            flatten_output(x, name + "." + script::str(key), out);
    }
}

void write_outputs(const std::string& path,
                   const std::vector<std::pair<std::string, Tensor>>& tensors) {
    std::vector<safetensors::WriteEntry> entries;
    for (const auto& [name, t] : tensors)
        entries.push_back(
            {name, t.dtype(), t.shape(), t.numel() ? t.data_ptr() : nullptr, t.nbytes()});
    safetensors::write_file(path, {{"format", "pt"}}, entries);
}

Tensor entry(const Document& doc, const std::string& key) {
    for (const auto& e : doc.root->tensor_entries())
        if (e.name == key) return e.tensor;
    throw FormatError(doc.path, "no tensor named '" + key + "' (use --input-key / --target-key)");
}

std::string csv_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

} // namespace

int cmd_run(const std::vector<std::string>& argv) {
    RunOptions o = parse_run(argv);
    ModulePtr model = build_model(o);
    auto* script_model = dynamic_cast<script::ScriptModule*>(model.get());
    if (script_model) script_model->program()->limits.timeout_s = o.step_timeout;
    if (!o.save_model.empty() && !script_model)
        throw UsageError("--save-model writes TorchScript archives: MODEL must be one");
    if (!model->runnable())
        throw FormatError(o.spec, "the model is not runnable: " + why_not_runnable(*model));
    if (!o.load.empty()) {
        Document sd = open_document(o.load, o.entry);
        model->load_state_dict(sd.root->state_dict());
    }
    const Device device = Device::parse(o.device);
    model->to(device);
    Document inputs = open_document(o.inputs);
    Tensor xs = entry(inputs, o.input_key);
    if (xs.dim() < 1 || xs.size(0) < o.steps)
        throw FormatError(o.inputs, "'" + o.input_key + "' has shape " + shape_str(xs.shape()) +
                                        ": need [steps, ...] with at least " +
                                        std::to_string(o.steps) + " steps");
    std::unique_ptr<Optimizer> optimizer;
    Tensor ys;
    if (!o.optimizer.empty()) {
        optimizer = make_optimizer(o.optimizer, model->named_parameters());
        ys = entry(inputs, o.target_key);
        if (ys.dim() < 1 || ys.size(0) < o.steps)
            throw FormatError(o.inputs, "'" + o.target_key + "' has shape " +
                                            shape_str(ys.shape()) +
                                            ": need [steps, ...] with at least " +
                                            std::to_string(o.steps) + " steps");
    }
    model->train(o.mode == "train");

    std::ofstream trace;
    NamedTensors buffers = model->named_buffers();
    if (!o.trace.empty()) {
        trace.open(o.trace + ".partial");
        if (!trace)
            throw FormatError(o.trace, "cannot write: " + std::string(std::strerror(errno)));
        trace << "step,loss";
        for (const auto& [name, b] : buffers) {
            if (b.numel() == 1)
                trace << "," << name;
            else
                for (int64_t i = 0; i < b.numel(); ++i) trace << "," << name << "[" << i << "]";
        }
        trace << "\n";
    }
    double first_loss = NAN, last_loss = NAN;
    std::vector<std::pair<std::string, Tensor>> last_output;
    for (int64_t step = 0; step < o.steps; ++step) {
        Tensor x = xs.select(0, step).to(device);
        double loss_value = NAN;
        if (script_model && !optimizer) {
            // The whole output (tuples included), for --outputs.
            NoGradGuard no_grad;
            script::Value y = script_model->call("forward", {script::Value::tensor(x)});
            if (!o.outputs.empty() && step + 1 == o.steps) {
                last_output.clear();
                flatten_output(y, "output", last_output);
            }
        } else if (optimizer) {
            optimizer->zero_grad();
            Tensor y = (*model)(x);
            Tensor target = ys.select(0, step).to(device);
            Tensor loss = o.loss == "mse" ? F::mse_loss(y, target) : F::cross_entropy(y, target);
            loss.backward();
            optimizer->step();
            loss_value = loss.item();
            if (!o.outputs.empty() && step + 1 == o.steps)
                last_output = {{"output", y.detach().to(Device::cpu()).contiguous()}};
        } else {
            NoGradGuard no_grad;
            Tensor y = (*model)(x);
            if (!o.outputs.empty() && step + 1 == o.steps)
                last_output = {{"output", y.to(Device::cpu()).contiguous()}};
        }
        if (step == 0) first_loss = loss_value;
        last_loss = loss_value;
        if (trace.is_open()) {
            trace << step + 1 << "," << (optimizer ? csv_number(loss_value) : "");
            for (const auto& [name, b] : model->named_buffers())
                for (double v : b.to_doubles()) trace << "," << csv_number(v);
            trace << "\n";
        }
    }
    if (!o.save.empty()) save_state_dict(*model, o.save);
    if (!o.outputs.empty()) write_outputs(o.outputs, last_output);
    if (!o.save_model.empty()) torchscript::save_torchscript(*model, o.save_model);
    if (trace.is_open()) {
        trace.close();
        if (!trace || std::rename((o.trace + ".partial").c_str(), o.trace.c_str()) != 0)
            throw FormatError(o.trace, "cannot write the trace");
    }
    std::cerr << "ran " << o.steps
              << (optimizer ? " training steps (" + optimizer->name() + ", " + o.loss + " loss)"
                            : " forward passes")
              << " in " << o.mode << " mode";
    if (optimizer && o.steps > 0)
        std::cerr << "; loss " << csv_number(first_loss) << " -> " << csv_number(last_loss);
    if (!o.save.empty()) std::cerr << "; saved " << o.save;
    if (!o.outputs.empty()) std::cerr << "; outputs in " << o.outputs;
    if (!o.save_model.empty()) std::cerr << "; model in " << o.save_model;
    std::cerr << "\n";
    return k_exit_ok;
}

} // namespace nnscope::cli
