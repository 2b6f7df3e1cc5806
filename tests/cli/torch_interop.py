#!/usr/bin/env python3
# torch_interop.py: PyTorch reads what nnscope writes. nnscope-cli converts a torch-written
# checkpoint, a whole pickled module and every built-in example to safetensors and .pt;
# this script parses the safetensors files with its own reader (struct + json, per the
# published format) and the .pt files with torch.load(weights_only=True), loads them into
# the matching PyTorch modules with load_state_dict(strict=True), and compares names in
# order, dtypes, shapes and values with PyTorch's own.
# Usage: torch_interop.py NNSCOPE_CLI FIXTURES_DIR. Exit 77 (skipped) without torch.
import json
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from st import read as read_safetensors  # noqa: E402


def run(*args):
    subprocess.run([cli] + list(args), check=True, stdout=subprocess.PIPE)


cli, fixtures = sys.argv[1], sys.argv[2]
failures = []
with tempfile.TemporaryDirectory() as tmp:
    # 1. A torch-written checkpoint goes through nnscope unchanged.
    out = os.path.join(tmp, "mlp.safetensors")
    run("convert", os.path.join(fixtures, "mlp_torch.safetensors"), out)
    sd, meta = read_safetensors(out)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    m.load_state_dict(sd, strict=True)
    ref, _ = read_safetensors(os.path.join(fixtures, "mlp_torch.safetensors"))
    for k, v in ref.items():
        if not torch.equal(m.state_dict()[k], v):
            failures.append("value changed: " + k)
    kinds = json.loads(meta["nnscope.kinds"])
    if kinds["1.running_mean"] != "buffer" or kinds["0.weight"] != "parameter":
        failures.append("kinds metadata wrong: %r" % kinds)
    if meta.get("format") != "pt":
        failures.append("format metadata missing")

    # 2. The default example loads into the same nn.Sequential, in state-dict order.
    out = os.path.join(tmp, "example.safetensors")
    run("convert", "--example", "mlp-batchnorm", out)
    sd, meta = read_safetensors(out)
    m = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16),
                      nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    m.load_state_dict(sd, strict=True)
    if list(sd.keys()) != list(m.state_dict().keys()):
        failures.append("file order is not state-dict order: %r" % list(sd.keys()))
    if sd["1.num_batches_tracked"].dtype != torch.int64:
        failures.append("num_batches_tracked is not int64")
    bound = 1 / 6 ** 0.5
    if not (sd["0.weight"].abs().max() <= bound and sd["0.weight"].abs().max() > bound / 2):
        failures.append("Linear(6, 16) weight not in U(-1/sqrt(6), 1/sqrt(6))")
    # show --json agrees with the file
    shown = json.loads(subprocess.run([cli, "show", out, "0.bias", "--json"], check=True,
                                      stdout=subprocess.PIPE).stdout)
    if not torch.equal(torch.tensor(shown["values"], dtype=torch.float32), sd["0.bias"]):
        failures.append("show --json values differ from the file")

    # 3. .pt files nnscope writes load with torch.load(weights_only=True), exactly.
    out_pt = os.path.join(tmp, "example.pt")
    run("convert", "--example", "mlp-batchnorm", out_pt)
    loaded = torch.load(out_pt, weights_only=True)
    if type(loaded).__name__ != "OrderedDict" or not hasattr(loaded, "_metadata"):
        failures.append(".pt state dict is not an OrderedDict with _metadata")
    elif loaded._metadata.get("1", {}).get("version") != 2:
        failures.append("_metadata lacks BatchNorm's version 2: %r" % loaded._metadata)
    if list(loaded.keys()) != list(sd.keys()):
        failures.append(".pt key order differs from the safetensors one")
    for k, v in sd.items():
        if not torch.equal(loaded[k], v) or loaded[k].dtype != v.dtype:
            failures.append(".pt value differs: " + k)
    m.load_state_dict(loaded, strict=True)
    # 4. A whole pickled module (user class) converted to a .pt state dict: PyTorch's own
    #    state_dict() names, in its order (own tensors before the children's).
    out_net = os.path.join(tmp, "net.pt")
    run("convert", os.path.join(fixtures, "pt", "whole_net.pt"), out_net)
    net_sd = torch.load(out_net, weights_only=True)
    want_keys = json.load(open(os.path.join(fixtures, "pt.json")))["expect"]["whole_net"]["state_dict"]
    if list(net_sd.keys()) != want_keys:
        failures.append("whole-module state dict keys: %r, PyTorch: %r" % (list(net_sd.keys()), want_keys))

    # 5. Every built-in example, converted to safetensors and to .pt, holds the state dict
    #    of the PyTorch module it stands for (examples.json): names in order, dtypes, shapes.
    examples = json.load(open(os.path.join(fixtures, "examples.json")))
    for name, want in examples.items():
        want_sd = [(k, list(shape), dtype) for k, shape, dtype in want["state_dict"]]
        for ext in ("safetensors", "pt"):
            path = os.path.join(tmp, "%s.%s" % (name, ext))
            run("convert", "--example", name, path)
            got = read_safetensors(path)[0] if ext == "safetensors" else torch.load(path, weights_only=True)
            got_sd = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in got.items()]
            if got_sd != want_sd:
                failures.append("example %s as .%s: %r, PyTorch: %r" % (name, ext, got_sd, want_sd))

    # 6. A reparametrised state dict (spectral_norm, weight_norm, prune, parametrizations)
    #    through safetensors and back to .pt: the model loads it strictly, and _metadata is
    #    torch.save's (spectral_norm's own version entry, BatchNorm's version 2).
    rep_src = os.path.join(fixtures, "pt", "reparametrised.pt")
    rep_st, rep_pt = os.path.join(tmp, "rep.safetensors"), os.path.join(tmp, "rep.pt")
    run("convert", rep_src, rep_st)
    run("convert", rep_st, rep_pt)
    got = torch.load(rep_pt, weights_only=True)
    want = torch.load(rep_src)
    if {k: dict(v) for k, v in got._metadata.items()} != {k: dict(v) for k, v in want._metadata.items()}:
        failures.append("reparametrised _metadata: %r, PyTorch: %r" % (got._metadata, want._metadata))
    for k in want:
        if not torch.equal(got[k], want[k]):
            failures.append("reparametrised %s differs" % k)
    # The same layers as rebuilt from an inferred tree (BatchNorm's version from its buffers).
    run("convert", os.path.join(fixtures, "mlp_torch.safetensors"), os.path.join(tmp, "mlp_sd.pt"))
    bn_version = torch.load(os.path.join(tmp, "mlp_sd.pt"), weights_only=True)._metadata["1"]["version"]
    if bn_version != 2:
        failures.append("BatchNorm1d's _metadata version from a safetensors state dict: %r, PyTorch: 2" % bn_version)

    # 7. A lazy module's state dict written back as .pt: PyTorch reads UninitializedParameter
    #    and UninitializedBuffer entries again.
    lazy_pt = os.path.join(tmp, "lazy.pt")
    run("convert", os.path.join(fixtures, "pt", "lazy_sd.pt"), lazy_pt)
    got = torch.load(lazy_pt)
    want = torch.load(os.path.join(fixtures, "pt", "lazy_sd.pt"))
    kinds = lambda sd: [(k, type(v).__name__) for k, v in sd.items()]
    if kinds(got) != kinds(want):
        failures.append("lazy state dict: %r, PyTorch: %r" % (kinds(got), kinds(want)))
for f in failures:
    print("FAIL:", f)
print("torch interop: %s" % ("ok" if not failures else "%d failure(s)" % len(failures)))
sys.exit(1 if failures else 0)
