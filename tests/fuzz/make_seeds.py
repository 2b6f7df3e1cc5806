# make_seeds.py: the seed corpus of fuzz_pt_pickle (tests/fuzz/seeds/pt_pickle), written by
# python3-torch. Each seed is the data.pkl of a real torch.save whose storages fit what the
# target wraps around its input: storages "0" to "3" of 64 bytes each. Run with
# /usr/bin/python3 tests/fuzz/make_seeds.py; the output is committed.
import collections
import io
import os
import sys
import zipfile

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "pt_pickle")


def data_pkl(obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=True)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        keys = [n for n in z.namelist() if "/data/" in n]
        assert all(n.rsplit("/", 1)[1] in ("0", "1", "2", "3") for n in keys), keys
        assert all(z.getinfo(n).file_size <= 64 for n in keys), keys
        return z.read(name)


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.register_buffer("count", torch.zeros(2, dtype=torch.int64))
        self.register_buffer("scratch", torch.zeros(1), persistent=False)
        self.note = "plain attribute"


def cases():
    torch.manual_seed(0)
    lin = nn.Linear(2, 3)
    w = torch.arange(12, dtype=torch.float32)
    yield "state_dict", lin.state_dict()
    yield "views", collections.OrderedDict(a=w[:6].view(2, 3), b=w[6:].t() if w.dim() > 1 else w[6:],
                                           c=w.view(3, 4)[:, 1:3])
    yield "dtypes", {"h": torch.ones(4, dtype=torch.float16), "l": torch.arange(3)}
    yield "checkpoint", {"epoch": 3, "model": lin.state_dict(), "lr": 0.1, "tags": ["a", "b"]}
    yield "whole_linear", lin
    yield "whole_sequential", nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Dropout(0.25))
    yield "whole_custom", Counter()
    yield "scalar", {"s": torch.tensor(2.5), "e": torch.zeros(0)}
    yield "parameter", {"p": nn.Parameter(torch.ones(2, 2))}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, obj in cases():
        with open(os.path.join(OUT, name + ".pkl"), "wb") as f:
            f.write(data_pkl(obj))
    return 0


if __name__ == "__main__":
    sys.exit(main())
