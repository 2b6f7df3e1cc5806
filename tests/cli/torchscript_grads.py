#!/usr/bin/env python3
# torchscript_grads.py: autograd through each TorchScript operator, against PyTorch. Every
# case is a small module whose forward scales its input by a parameter `w` and applies one
# operator (with its own parameters where it has them); it is scripted here, saved with
# torch.jit.save, and given one SGD step (lr=1, mse against random targets) by PyTorch and by
# `nnscope-cli run`. A parameter after the step is the parameter minus its gradient, so
# every parameter gradient, `w`'s included (the gradient the operator passes back to its
# input), is compared: 1e-4 of the tensor's scale in float32, 1e-8 in float64 (ATen's
# hardsigmoid backward multiplies by a float 1/6, 2e-9 off), on cpu and sim:0. Buffers (BatchNorm's running statistics) are compared too.
# Usage: torchscript_grads.py NNSCOPE_CLI. Exit 77 without python3-torch.
import importlib.util
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("python3-torch is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import st  # noqa: E402

cli = sys.argv[1]

# name: (input shape, extra __init__ lines, forward expression of x = input * w)
CASES = {
    "conv2d stride padding dilation groups": ((2, 4, 9, 10), ["self.k = nn.Parameter(torch.randn(6, 2, 3, 3) * 0.3)",
                                                             "self.b = nn.Parameter(torch.randn(6))"],
                                              "F.conv2d(x, self.k, self.b, [2, 1], [1, 2], [1, 2], 2)"),
    "conv1d": ((2, 3, 11), ["self.k = nn.Parameter(torch.randn(4, 3, 3) * 0.3)"], "F.conv1d(x, self.k, None, 2, 1)"),
    "conv_transpose2d": ((2, 4, 5, 5), ["self.k = nn.Parameter(torch.randn(4, 3, 3, 3) * 0.3)",
                                        "self.b = nn.Parameter(torch.randn(3))"],
                         "F.conv_transpose2d(x, self.k, self.b, 2, 1, 1)"),
    "batch_norm train": ((4, 3, 5, 5), ["self.bn = nn.BatchNorm2d(3)"], "self.bn(x)"),
    "batch_norm eval": ((4, 3, 5, 5), ["self.bn = nn.BatchNorm2d(3)", "self.bn.eval()",
                                       "self.bn.running_mean.normal_()", "self.bn.running_var.uniform_(0.5, 2)"],
                        "self.bn(x)"),
    "max_pool2d": ((2, 3, 9, 9), [], "F.max_pool2d(x, 3, 2, 1, 1, True)"),
    "max_pool2d_with_indices": ((2, 3, 8, 8), [], "F.max_pool2d_with_indices(x, 2)[0]"),
    "avg_pool2d": ((2, 3, 9, 9), [], "F.avg_pool2d(x, 3, 2, 1, True, False)"),
    "adaptive_avg_pool2d": ((2, 3, 9, 7), [], "F.adaptive_avg_pool2d(x, [4, 3])"),
    "adaptive_max_pool2d": ((2, 3, 9, 7), [], "F.adaptive_max_pool2d(x, [4, 3])"),
    "relu": ((3, 8), [], "F.relu(x)"),
    "relu_ in place": ((3, 8), [], "torch.relu_(x * 1.5)"),
    "relu6": ((3, 8), [], "F.relu6(x * 4)"),
    "hardtanh": ((3, 8), [], "F.hardtanh(x, -0.5, 0.8)"),
    "hardtanh_ leaky_relu_ in place": ((3, 8), [], "F.hardtanh(x * 3, -0.5, 0.8, True) + F.leaky_relu(x * 2, 0.2, True)"),
    "hardswish": ((3, 8), [], "F.hardswish(x * 4)"),
    "hardsigmoid": ((3, 8), [], "F.hardsigmoid(x * 4)"),
    "silu": ((3, 8), [], "F.silu(x)"),
    "gelu": ((3, 8), [], "F.gelu(x)"),
    "sigmoid": ((3, 8), [], "torch.sigmoid(x)"),
    "tanh": ((3, 8), [], "torch.tanh(x)"),
    "leaky_relu": ((3, 8), [], "F.leaky_relu(x, 0.2)"),
    "elu": ((3, 8), [], "F.elu(x, 0.7)"),
    "softplus": ((3, 8), [], "F.softplus(x, 2.0)"),
    "add mul sub div broadcast": ((3, 4, 5), ["self.q = nn.Parameter(torch.rand(4, 1) + 0.5)"],
                                  "(x + self.q) * self.q - x / (self.q + 3)"),
    "add_ mul_ in place": ((3, 4, 5), ["self.q = nn.Parameter(torch.rand(4, 1) + 0.5)"],
                           "(x * 2).add_(self.q).mul_(self.q)"),
    "cat": ((2, 3, 4), [], "torch.cat([x, x * x], 1)"),
    "chunk": ((2, 4, 3), [], "torch.chunk(x, 2, 1)[0] * torch.chunk(x, 2, 1)[1]"),
    "split": ((2, 4, 3), [], "torch.split(x, [1, 3], 1)[0] + torch.split(x, [1, 3], 1)[1]"),
    "stack": ((2, 3), [], "torch.stack([x, x * x], 0)"),
    "view reshape flatten": ((2, 3, 4), [], "torch.flatten(x.view(2, 12).reshape(6, 4) * 2, 0)"),
    "permute transpose contiguous": ((2, 3, 4), [], "x.permute(2, 0, 1).transpose(0, 1).contiguous() * 3"),
    "slice select": ((4, 5, 3), [], "x[1:3, ::2] * x.select(2, 1)[1:3, ::2].unsqueeze(2)"),
    "linear": ((3, 5), ["self.l = nn.Linear(5, 4)"], "self.l(x)"),
    "matmul 3-D by 2-D": ((2, 3, 5), ["self.m = nn.Parameter(torch.randn(5, 4))"], "torch.matmul(x, self.m)"),
    "bmm": ((2, 3, 5), ["self.m = nn.Parameter(torch.randn(2, 5, 4))"], "torch.bmm(x, self.m)"),
    "softmax": ((3, 6), [], "F.softmax(x, 1)"),
    "log_softmax": ((3, 6), [], "F.log_softmax(x, -1)"),
    "layer_norm": ((3, 4, 6), ["self.ln = nn.LayerNorm(6)"], "self.ln(x)"),
    "group_norm": ((2, 6, 5), ["self.gn = nn.GroupNorm(3, 6)"], "self.gn(x)"),
    "mean sum var": ((3, 4, 5), [], "x.mean(1) + x.sum(2, True).sum(1) * 0.1 + x.var(1)"),
    "lstm cell": ((3, 5), ["self.cell = nn.LSTMCell(5, 4)"], "self.cell(x)[0]"),
    "gru cell": ((3, 5), ["self.cell = nn.GRUCell(5, 4)"], "self.cell(x)"),
    "gru": ((3, 4, 5), ["self.rnn = nn.GRU(5, 4, batch_first=True)"], "self.rnn(x)[0]"),
    "lstm bidirectional": ((4, 3, 5), ["self.rnn = nn.LSTM(5, 4, bidirectional=True)"], "self.rnn(x)[0]"),
    "multi-head attention": ((5, 2, 8), ["self.att = nn.MultiheadAttention(8, 2)"], "self.att(x, x, x)[0]"),
}

TEMPLATE = '''
class Case_{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn({shape}) * 0.5 + 1.0)
{init}
    def forward(self, x):
        x = x * self.w
        return {expr}
'''


def load_cases(tmp):
    """The cases as a module file: torch.jit.script reads each class's source."""
    src = ["import torch", "import torch.nn as nn", "import torch.nn.functional as F"]
    for i, (name, (shape, init, expr)) in enumerate(CASES.items()):
        lines = "\n".join("        " + line for line in init)
        src.append(TEMPLATE.format(i=i, shape=", ".join(map(str, shape)), init=lines, expr=expr))
    path = os.path.join(tmp, "cases.py")
    open(path, "w").write("\n".join(src))
    spec = importlib.util.spec_from_file_location("cases", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def torch_step(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    return model.state_dict()


failures, passed = [], 0
with tempfile.TemporaryDirectory() as tmp:
    mod = load_cases(tmp)
    for i, (name, (shape, _, _)) in enumerate(CASES.items()):
        for dtype, tol in ((torch.float32, 1e-4), (torch.float64, 1e-8)):
            for device in ("cpu", "sim:0"):
                label = "%s (%s, %s)" % (name, str(dtype)[6:], device)
                torch.manual_seed(i)
                model = getattr(mod, "Case_%d" % i)().to(dtype)
                eval_mode = name.endswith(" eval")
                model.train(not eval_mode)
                x = torch.randn(shape, dtype=dtype)
                with torch.no_grad():
                    out = model(x)
                y = torch.randn(out.shape, dtype=dtype)
                model_path = os.path.join(tmp, "model.pt")
                torch.jit.script(model).save(model_path)
                st.write(os.path.join(tmp, "in.safetensors"), {"x": x.unsqueeze(0), "y": y.unsqueeze(0)})
                r = subprocess.run([cli, "run", model_path, "--inputs", os.path.join(tmp, "in.safetensors"),
                                    "--steps", "1", "--mode", "eval" if eval_mode else "train",
                                    "--optimizer", "sgd:lr=1.0", "--loss", "mse", "--device", device,
                                    "--save", os.path.join(tmp, "out.safetensors")],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append("%s: nnscope-cli run failed: %s" % (label, r.stderr.strip()))
                    continue
                got, _ = st.read(os.path.join(tmp, "out.safetensors"))
                want = torch_step(torch.jit.load(model_path), x, y)
                bad = []
                for k, w in want.items():
                    g = got.get(k)
                    if g is None or g.shape != w.shape or g.dtype != w.dtype:
                        bad.append("%s: %s" % (k, "missing" if g is None else "%s %s" % (g.dtype, list(g.shape))))
                        continue
                    if not w.is_floating_point():
                        if not torch.equal(g, w):
                            bad.append(k + " differs")
                        continue
                    scale = w.double().abs().max().item() + 1e-12
                    err = (g.double() - w.double()).abs().max().item() / scale
                    if err > tol:
                        bad.append("%s: %.3g of its scale" % (k, err))
                if bad:
                    failures.append(label + ": " + "; ".join(bad[:4]))
                else:
                    passed += 1

for f in failures:
    print("FAIL:", f)
print("operator gradients: %d matched, %d failed" % (passed, len(failures)))
sys.exit(1 if failures else 0)
