#!/usr/bin/env python3
# torchscript_models.py: real models through nnscope's TorchScript interpreter, against
# PyTorch's own runtime on the same file. Each case is scripted or traced here with the
# installed PyTorch (and torchvision, when present), saved with torch.jit.save, and run
# N steps by torch.jit.load and by `nnscope-cli run`:
#   - train mode: every parameter and buffer after the steps (running statistics,
#     num_batches_tracked, a user's own counter) to 1e-4 of the tensor's scale;
#   - eval mode: the last step's outputs to 1e-4 and no buffer changed;
#   - one case again on the simulated device (sim:0).
# Dropout and stochastic depth draw from nnscope's own generator, so outputs are compared
# in eval mode only, and a model with stochastic depth (EfficientNet) in eval mode only. Usage: torchscript_models.py NNSCOPE_CLI. Exit 77 without python3-torch.
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("python3-torch is not installed: skipped")
    sys.exit(77)
try:
    import torchvision
except ImportError:
    torchvision = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import st  # noqa: E402

cli = sys.argv[1]
STEPS = 3
OPS = set(op["name"] for op in __import__("json").loads(
    subprocess.run([cli, "ops", "--json"], capture_output=True, text=True, check=True).stdout))
graph_ops = {}  # every aten:: operator in the scripted models' inlined graphs -> the models
failures = []
passed = 0


class UserNet(nn.Module):
    """A user's model: a buffer counted up in forward, a plain tensor attribute, a loop,
    a conditional on self.training and Python arithmetic on sizes."""

    def __init__(self, plain=True):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6, momentum=None)
        self.blocks = nn.ModuleList([nn.Conv2d(6, 6, 3, padding=1, groups=2) for _ in range(2)])
        self.fc = nn.Linear(6, 4)
        self.register_buffer("steps", torch.tensor(0))
        if plain:
            self.scale = torch.ones(4)  # a plain attribute: it stays behind on a device move
        else:
            self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        self.steps += 1
        x = torch.relu(self.bn(self.conv(x)))
        for block in self.blocks:
            x = x + torch.nn.functional.hardtanh(block(x), -2.0, 2.0)
        if self.training:
            x = x * 0.5
        n = x.size(0) * x.size(1)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1) + float(n) / 100.0
        return self.fc(x) * self.scale


class Recurrent(nn.Module):
    """torch.nn's LSTM / GRU / RNN inside a model, as they are scripted in practice."""

    def __init__(self, kind, **kw):
        super().__init__()
        self.rnn = getattr(nn, kind)(4, 6, **kw)
        self.fc = nn.Linear(6 * (2 if kw.get("bidirectional") else 1), 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


class Encoder(nn.Module):
    def __init__(self, batch_first, norm_first=False):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=batch_first, norm_first=norm_first)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False) if norm_first else \
            nn.TransformerEncoder(layer, 2)

    def forward(self, x):
        return self.enc(x)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x)[0]


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.gn = nn.GroupNorm(2, 4)
        self.inn = nn.InstanceNorm2d(4, track_running_stats=True, affine=True)
        self.ln = nn.LayerNorm([4, 5, 5])

    def forward(self, x):
        return self.ln(self.inn(self.gn(x)))


def vision(name):
    return lambda: getattr(torchvision.models, name)(num_classes=10)


CASES = [("user_net scripted", lambda: UserNet(), "script", [2, 3, 8, 8]),
         ("user_net traced", lambda: UserNet(), "trace", [2, 3, 8, 8]),
         ("lstm scripted", lambda: Recurrent("LSTM", num_layers=2, bidirectional=True), "script", [5, 2, 4]),
         ("gru scripted", lambda: Recurrent("GRU", batch_first=True), "script", [2, 5, 4]),
         ("rnn scripted", lambda: Recurrent("RNN", num_layers=2, nonlinearity="relu"), "script", [5, 2, 4]),
         ("lstm traced", lambda: Recurrent("LSTM"), "trace-eval", [5, 2, 4]),
         ("transformer_encoder scripted", lambda: Encoder(False), "script", [5, 2, 8]),
         ("transformer_encoder_batch_first scripted", lambda: Encoder(True), "script", [2, 5, 8]),
         ("transformer_encoder_norm_first scripted", lambda: Encoder(True, True), "script", [2, 5, 8]),
         ("multihead_attention scripted", lambda: Attention(), "script", [2, 5, 8]),
         ("group_instance_layer_norm scripted", lambda: Norms(), "script", [2, 4, 5, 5])]
SIM_CASE = ("user_net scripted", lambda: UserNet(plain=False), "script", [2, 3, 8, 8])
STOCHASTIC = {"efficientnet_b0"}  # stochastic depth: random in train mode
if torchvision is not None:
    for name in ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
                 "shufflenet_v2_x0_5", "regnet_y_400mf", "convnext_tiny", "squeezenet1_0", "vgg11_bn", "alexnet"]:
        CASES.append((name + " scripted", vision(name), "script", [2, 3, 64, 64]))
    # Traced as users trace them, in eval mode (what the trace freezes: no dropout, and
    # BatchNorm normalising with running statistics whatever the mode).
    for name in ["resnet18", "mobilenet_v2", "shufflenet_v2_x0_5", "efficientnet_b0", "convnext_tiny"]:
        CASES.append((name + " traced", vision(name), "trace-eval", [2, 3, 64, 64]))
    from torchvision.models.vision_transformer import VisionTransformer
    from torchvision.models.swin_transformer import SwinTransformer

    def small_vit():  # vit_b_16's code at a small size; its zero-initialised head made random
        m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
                              num_classes=10)
        nn.init.normal_(m.heads.head.weight)
        return m
    CASES.append(("vit scripted", small_vit, "script", [2, 3, 32, 32]))
    CASES.append(("swin scripted", lambda: SwinTransformer([4, 4], 16, [2, 2], [2, 2], [4, 4], num_classes=10),
                  "script", [2, 3, 32, 32]))
    CASES.append(("googlenet scripted", lambda: torchvision.models.googlenet(num_classes=10, aux_logits=False,
                                                                             init_weights=False), "script", [2, 3, 64, 64]))
else:
    print("python3-torchvision is not installed: torchvision's models skipped")


def close(a, b, what):
    scale = b.detach().double().abs().max().item() if b.numel() else 0.0
    err = (a.double() - b.double()).abs().max().item() if b.numel() else 0.0
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"{what}: {a.dtype} {list(a.shape)}, PyTorch {b.dtype} {list(b.shape)}"
    if err > 1e-4 * scale + 1e-6:
        return f"{what}: differs by {err:.3g} (scale {scale:.3g})"
    return None


def first_output(y):
    while isinstance(y, (tuple, list)):
        y = y[0]
    return y


def run_case(tmp, label, build, how, shape, device="cpu"):
    torch.manual_seed(0)
    model = build()
    example = torch.randn(shape)
    if how == "script":
        scripted = torch.jit.script(model)
        for node in scripted.inlined_graph.nodes():
            def walk(n):
                if n.kind().startswith("aten::"):
                    graph_ops.setdefault(n.kind(), set()).add(label.split()[0])
                for b in n.blocks():
                    for m in b.nodes():
                        walk(m)
            walk(node)
    else:  # "trace" records train mode (BatchNorm updates in both modes), "trace-eval" eval
        scripted = torch.jit.trace(model.train(how == "trace"), example, check_trace=False)
    path = os.path.join(tmp, "model.pt")
    scripted.save(path)
    xs = torch.randn([STEPS] + shape)
    inputs = os.path.join(tmp, "inputs.safetensors")
    st.write(inputs, {"x": xs})
    problems = []
    for mode in ["train", "eval"]:
        ref = torch.jit.load(path)
        ref.train(mode == "train")
        with torch.no_grad():
            for i in range(STEPS):
                y = first_output(ref(xs[i]))
        sd_path, out_path = os.path.join(tmp, "sd.safetensors"), os.path.join(tmp, "out.safetensors")
        model_path = os.path.join(tmp, "model_after.pt")
        r = subprocess.run([cli, "run", path, "--inputs", inputs, "--steps", str(STEPS), "--mode", mode,
                            "--device", device, "--save", sd_path, "--outputs", out_path,
                            "--save-model", model_path], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"{mode}: nnscope-cli run failed: {r.stderr.strip()}")
            continue
        got, _ = st.read(sd_path)
        # --save-model: torch.jit.load reads the archive back with nnscope's tensors, and runs it.
        try:
            back = torch.jit.load(model_path)
            for k, v in back.state_dict().items():
                if not torch.equal(v, got[k]):
                    problems.append(f"{mode}: --save-model wrote {k} unlike --save")
            with torch.no_grad():
                back.eval()(xs[0])
        except Exception as e:  # noqa: BLE001
            problems.append(f"{mode}: torch.jit.load of --save-model's archive failed: {e}")
        for k, v in ref.state_dict().items():
            if k not in got:
                problems.append(f"{mode}: {k} missing from nnscope's state dict")
                continue
            p = close(got[k], v, f"{mode}: {k}")
            if p and not (mode == "train" and label.split()[0] in STOCHASTIC):
                problems.append(p)
        if mode == "eval":
            outs, _ = st.read(out_path)
            out = outs.get("output", outs.get("output.0"))
            if out is None:
                problems.append("eval: no output written")
            else:
                p = close(out, y, "eval: output")
                if p:
                    problems.append(p)
    return problems


with tempfile.TemporaryDirectory() as tmp:
    runs = [(c, "cpu") for c in CASES] + [(SIM_CASE, "sim:0")]
    for (label, build, how, shape), device in runs:
        problems = run_case(tmp, label, build, how, shape, device)
        name = label + ("" if device == "cpu" else " on " + device)
        if problems:
            failures.append(name + ":\n    " + "\n    ".join(problems[:6]))
        else:
            passed += 1
            print(f"ok   {name}")

print(f"{passed} of {passed + len(failures)} TorchScript models match PyTorch {torch.__version__}")
# The models' graphs name every operator their code may call, taken branches or not.
print(f"{len(graph_ops)} aten operators in their graphs; {len(set(graph_ops) - OPS)} not in nnscope's table")
for name in sorted(set(graph_ops) - OPS):
    print(f"     not in the table: {name} (in {', '.join(sorted(graph_ops[name]))})")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
