#!/usr/bin/env python3
"""layers_check.py: every #include "..." in the tree, checked against the layer diagram.

The core's folders are layers, lowest first; a file may include headers of its own layer
and of the layers below it, never above (the build enforces the same inside core/: each
layer's OBJECT library sees only the include directories of the layers it names).
Besides the order it checks that:
  - gpu/ uses only base/ and backend/ of the core (it is a device backend, nothing more);
  - a *_internal.h header is included only from its own folder;
  - every quoted include names exactly one file of the tree (no two headers share a name
    across the include roots, so the flat include path stays unambiguous).

usage: tests/layers_check.py [ROOT]             check; exit status 1 on any violation
       tests/layers_check.py --report [ROOT]    lines per folder and includes per folder pair
       tests/layers_check.py --self-test        the checker on a small tree of known faults
"""
import os
import re
import sys
from collections import Counter, defaultdict

# (folder, rank): a file may include from folders of rank <= its own; tests/ anything.
LAYERS = [
    ("core/base", 0),
    ("core/backend", 1),  # backend/cpu/ included
    ("core/tensor", 2),
    ("core/nn", 3),
    ("core/script", 4),
    ("core/io", 5),
    ("core/workspace", 6),
    ("gpu", 7),
    ("ui", 8),
    ("app", 9),
    ("tests", 10),
]
# Folders a folder may not use although they rank below it.
FORBIDDEN = {"gpu": {"core/tensor", "core/nn", "core/script", "core/io", "core/workspace"}}
SOURCE_EXT = (".h", ".hpp", ".cpp", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    best = None
    for folder, rank in LAYERS:
        if rel == folder or rel.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, rank)
    return best or ("?", -1)  # a folder outside the diagram (an older layout): not checked


def sources(root):
    for folder in ("core", "gpu", "ui", "app", "tests"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, folder)):
            dirnames[:] = [d for d in dirnames if d not in ("fixtures", "build")]
            for f in sorted(filenames):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def resolve(root, rel, name, by_suffix):
    """The file an include names: beside the includer first, then anywhere in the tree."""
    local = os.path.normpath(os.path.join(os.path.dirname(rel), name))
    if os.path.isfile(os.path.join(root, local)):
        return [local]
    return by_suffix.get(os.path.normpath(name), [])


def check(root, report=False):
    """The violations in the tree at `root`, printed; with `report`, the folder figures too."""
    files = list(sources(root))
    by_suffix = defaultdict(list)  # "layers/layers.h" and "layers.h" -> core/nn/layers/layers.h
    for f in files:
        parts = f.split("/")
        for k in range(1, len(parts)):
            by_suffix["/".join(parts[-k:])].append(f)
    errors, pairs, lines = [], Counter(), Counter()
    for rel in files:
        src = layer_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read().splitlines()
        lines[os.path.dirname(rel)] += len(text)
        for no, line in enumerate(text, 1):
            m = INCLUDE.match(line)
            if not m or m.group(1).endswith(".moc"):
                continue
            name = m.group(1)
            found = resolve(root, rel, name, by_suffix)
            where = f"{rel}:{no}: #include \"{name}\""
            if not found:
                errors.append(f"{where}: no such file in the tree")
                continue
            if len(found) > 1:
                errors.append(f"{where}: ambiguous, names {', '.join(found)}")
                continue
            dst = layer_of(found[0])
            pairs[(os.path.dirname(rel), os.path.dirname(found[0]))] += 1
            if src[0] in ("tests", "?") or dst[0] == "?":
                continue
            if dst[1] > src[1]:
                errors.append(f"{where}: {src[0]}/ may not use {dst[0]}/ (a layer above it)")
            elif dst[0] in FORBIDDEN.get(src[0], ()):
                errors.append(f"{where}: {src[0]}/ may use only core/base/ and core/backend/")
            elif found[0].endswith("_internal.h") and os.path.dirname(found[0]) != os.path.dirname(rel):
                errors.append(f"{where}: {found[0]} is private to {os.path.dirname(found[0])}/")
    if report:
        print("lines per folder:")
        for d in sorted(lines):
            print(f"  {lines[d]:6d}  {d}/")
        print("includes between folders (from -> to: count), same folder left out:")
        for (a, b), n in sorted(pairs.items()):
            if a != b:
                print(f"  {n:4d}  {a}/ -> {b}/")
    for e in errors:
        print(e)
    if not report:
        n = sum(pairs.values())
        print(f"layers_check: {len(files)} files, {n} includes, {len(errors)} violations")
    return errors


def self_test():
    """Each kind of fault, planted in a scratch tree, must be reported, and a clean tree not."""
    import tempfile

    scratch = tempfile.TemporaryDirectory(prefix="layers_check_")  # removed when done

    def tree(files):
        d = tempfile.mkdtemp(dir=scratch.name)
        for path, text in files.items():
            os.makedirs(os.path.join(d, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(d, path), "w") as fh:
                fh.write(text)
        return d

    base = {"core/base/errors.h": "", "core/tensor/tensor.h": '#include "errors.h"\n',
            "core/nn/module.h": '#include "tensor.h"\n', "core/tensor/tensor_internal.h": "",
            "ui/view.cpp": '#include "module.h"\n'}
    faults = {
        "up a layer": {"core/tensor/op.cpp": '#include "module.h"\n'},
        "gpu beyond backend": {"gpu/k.cpp": '#include "tensor.h"\n'},
        "private header": {"core/nn/f.cpp": '#include "tensor_internal.h"\n'},
        "ambiguous name": {"core/io/errors.h": "", "core/io/r.cpp": '#include "errors.h"\n'},
        "missing file": {"core/io/r.cpp": '#include "nowhere.h"\n'},
    }
    failed = []
    if check(tree(base)):
        failed.append("a clean tree reported violations")
    for name, extra in faults.items():
        if len(check(tree({**base, **extra}))) != 1:
            failed.append(f"{name}: not reported exactly once")
    scratch.cleanup()
    for f in failed:
        print("self-test:", f)
    return 1 if failed else 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    args = [a for a in argv if not a.startswith("--")]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    return 1 if check(root, "--report" in argv) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
