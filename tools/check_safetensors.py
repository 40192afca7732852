"""Loads latent/trajectory files written by `preciseinv invert` with Python's safetensors package.

    tools/.venv/bin/python tools/check_safetensors.py inversions/photo/latent.safetensors [...]

Prints each tensor's name, dtype, shape and the file's metadata; exits 1 if a file fails to load
or holds no float32 'latent' / 'x_N' tensors.
"""
from __future__ import annotations

import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def check(path: str) -> bool:
    tensors = load_file(path)
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
    names = sorted(tensors)
    ok = bool(names) and all(tensors[n].dtype == np.float32 and np.isfinite(tensors[n]).all() for n in names)
    ok = ok and (names == ["latent"] or all(n.startswith("x_") for n in names))
    print(json.dumps({
        "file": path,
        "ok": ok,
        "tensors": {n: {"dtype": str(tensors[n].dtype), "shape": list(tensors[n].shape)} for n in names},
        "metadata": metadata,
    }))
    return ok


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    results = [check(p) for p in sys.argv[1:]]
    sys.exit(0 if all(results) else 1)
