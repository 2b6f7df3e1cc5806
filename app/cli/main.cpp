// main.cpp: nnscope-cli's entry point: picks the command, maps failures to exit codes.
// Every error is one line "error: ..." on stderr; nothing escapes as a crash.
#include <cstdio>
#include <iostream>

#include "common.h"
#include "errors.h"
#include "gpu.h"

namespace {
const char* k_usage =
    "usage: nnscope-cli COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  inspect FILE [--json]        module tree with parameters, buffers and attributes apart\n"
    "  show FILE TENSOR [--json]    one tensor's values (PyTorch's repr, or JSON)\n"
    "  convert IN OUT               rewrite a state dict (output format by extension)\n"
    "  diff A B [--json]            compare two state dicts key by key\n"
    "  examples [--json]            list the built-in examples\n"
    "  devices [--json]             devices, whether usable and why not, CUDA compiled in or not\n"
    "  ops [--json | --markdown]     the operators TorchScript code runs on, and what each runs\n"
    "  bench [--json] [--threads N] [--device D] [--cases small,large]\n"
    "                               median ms of forward passes and training steps\n"
    "  bench --model FILE --input-shape N,C,H,W [--memory] [--roof] [--runs N]\n"
    "                               the same figures for a model file (TorchScript, pickled)\n"
    "  run MODEL --inputs FILE --steps N --mode train|eval [--save SD] [--outputs "
    "OUT.safetensors]\n"
    "      [--load SD] [--input-key x] [--target-key y] [--optimizer sgd:lr=0.05,momentum=0.9 | "
    "adam:lr=1e-3]\n"
    "      [--loss mse|cross_entropy] [--device cpu] [--seed S] [--trace OUT.csv] [--step-timeout "
    "S]\n"
    "      [--save-model OUT.pt]  (TorchScript: the same code with the new tensors, for "
    "torch.jit.load)\n"
    "                               forward passes, or training steps with an optimizer; MODEL is\n"
    "                               a spec, a TorchScript archive or a whole pickled module\n"
    "\n"
    "FILE is a model spec (.json), a .safetensors file, a .safetensors.index.json or a\n"
    "PyTorch .pt/.pth file (--entry NAME picks a checkpoint dict's entry) or a TorchScript\n"
    "archive (torch.jit.save);\n"
    "--example NAME stands for a built-in example wherever a FILE goes.\n"
    "exit codes: 0 success, 1 usage error, 2 bad input or failed operation\n";
}

int main(int argc, char** argv) {
    using namespace nnscope::cli;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::fputs(k_usage, args.empty() ? stderr : stdout);
        return args.empty() ? k_exit_usage : k_exit_ok;
    }
    const std::string cmd = args[0];
    args.erase(args.begin());
    // Only commands that can use a device load the GPU backends (inspect stays light).
    if (cmd == "run" || cmd == "devices" || cmd == "bench") nnscope::gpu::register_devices();
    try {
        if (cmd == "inspect") return cmd_inspect(Args::parse(args));
        if (cmd == "show") return cmd_show(Args::parse(args));
        if (cmd == "convert") return cmd_convert(Args::parse(args, false));
        if (cmd == "diff") return cmd_diff(Args::parse(args));
        if (cmd == "examples") return cmd_examples(Args::parse(args));
        if (cmd == "run") return cmd_run(args);
        if (cmd == "devices") return cmd_devices(Args::parse(args));
        if (cmd == "bench") return cmd_bench(args);
        if (cmd == "ops") {
            const bool markdown = std::erase(args, std::string("--markdown")) > 0;
            return cmd_ops(Args::parse(args), markdown);
        }
        throw UsageError("unknown command '" + cmd + "'");
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n(run 'nnscope-cli --help' for usage)\n";
        return k_exit_usage;
    } catch (const std::bad_alloc&) {
        std::cerr << "error: out of memory\n";
        return k_exit_failed;
    } catch (const std::exception& e) {
        std::string msg = e.what();
        // One line: PyTorch-style multi-line messages are folded.
        for (auto& c : msg)
            if (c == '\n' || c == '\t') c = ' ';
        std::cerr << "error: " << msg << "\n";
        return k_exit_failed;
    }
}
