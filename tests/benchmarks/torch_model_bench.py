#!/usr/bin/env python3
# torch_model_bench.py MODEL.pt N,C,H,W [--threads T]: PyTorch's side of
# `nnscope-cli bench --model FILE --input-shape ... --memory`, measured the same way: the
# file through torch.jit.load, one eval forward pass (every weight read), then the peak
# resident memory that three training steps add (gradients set to None, cross entropy
# against labels i % classes, SGD lr 0.01 momentum 0.9), from /proc/self/status.
# Prints one JSON line. A benchmark, not a test.
import json
import sys

import torch
import torch.nn.functional as F


def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


path, shape = sys.argv[1], [int(v) for v in sys.argv[2].split(",")]
if "--threads" in sys.argv:
    torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
torch.manual_seed(1)
model = torch.jit.load(path)
x = torch.randn(shape)
model.eval()
with torch.no_grad():
    classes = model(x).shape[1]
labels = torch.arange(shape[0]) % classes
params = list(model.parameters())
opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
base = status_kib("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
model.train()
for _ in range(3):
    for p in params:
        p.grad = None
    F.cross_entropy(model(x), labels).backward()
    opt.step()
tensor_bytes = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
print(json.dumps({"file": path, "input_shape": shape, "torch": torch.__version__,
                  "tensor_mib": tensor_bytes / 2**20, "peak_rss_added_mib": (status_kib("VmHWM") - base) / 1024}))
