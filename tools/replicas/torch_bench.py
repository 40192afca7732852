"""Torch side of bench/full-scale.ts: a replica's denoiser in torch, forward and forward+backward.

    tools/.venv/bin/python -m tools.replicas.torch_bench --model sd15 [--fp16] --mode eager|traced
        [--runs 3] [--threads 2] [--latent N] [--reference FILE]

Rebuilds the denoiser from its seed (the weights the replica's ONNX files hold), freezes the
parameters and differentiates w.r.t. the latent only, batch 1, at the replica's native latent
size. After one untimed call of each, times `--runs` forward calls, then `--runs` calls of
forward plus the VJP for the seeded cotangent; reports medians and the process's peak RSS after
each phase (one mode per process, so the peaks are that mode's own). `traced` runs the module
through torch.jit.trace (checked equal to eager's output). With --reference, writes the inputs,
the cotangent, torch's output and its VJP to a safetensors file: from the float32 module, or
for --fp16 from a float32 copy of the half weights (so both sides hold the same weights).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from .build import build_denoiser
from .inputs import cotangent, denoiser_inputs
from .specs import REPLICAS


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: first-touch allocations and one-time setup
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(REPLICAS))
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--mode", choices=("eager", "traced"), default="eager")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latent", type=int, help="latent pixels per side (default: the replica's native size)")
    parser.add_argument("--reference", type=Path, help="write inputs, cotangent, output and VJP here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    replica = REPLICAS[args.model]
    dtype = torch.float16 if args.fp16 else torch.float32
    module = build_denoiser(replica).to(dtype)
    for p in module.parameters():
        p.requires_grad_(False)
    inputs = {k: v.to(dtype) if v.is_floating_point() else v for k, v in denoiser_inputs(replica, args.latent).items()}
    wrt = next(iter(inputs))
    after_build = peak_rss_mb()

    run = module
    if args.mode == "traced":
        with torch.no_grad():
            run = torch.jit.trace(module, tuple(inputs.values()), check_trace=False)
            if not torch.equal(run(*inputs.values()), module(*inputs.values())):
                raise SystemExit("traced module output differs from eager; not a like-for-like baseline")

    with torch.no_grad():
        out_shape = module(*inputs.values()).shape
    u = cotangent(replica, out_shape).to(dtype)

    def forward():
        with torch.no_grad():
            run(*inputs.values())

    def forward_backward():
        x = inputs[wrt].clone().requires_grad_(True)
        out = run(x, *list(inputs.values())[1:])
        (g,) = torch.autograd.grad(out, x, u)
        return out, g

    fwd = timed(forward, args.runs)
    peak_forward = peak_rss_mb()
    fb = timed(forward_backward, args.runs)
    peak_total = peak_rss_mb()

    if args.reference:
        reference = module if not args.fp16 else module.float()
        feeds = {k: v.float() if v.is_floating_point() else v for k, v in inputs.items()}
        x = feeds[wrt].clone().requires_grad_(True)
        out = reference(x, *list(feeds.values())[1:])
        (g,) = torch.autograd.grad(out, x, u.float())
        tensors = {**{k: v.contiguous() for k, v in feeds.items()}, "grad_out": u.float().contiguous(),
                   "out": out.detach().contiguous(), "grad": g.contiguous()}
        save_file(tensors, str(args.reference), metadata={"wrt": wrt, "torch": torch.__version__,
                                                         "weights": "float16" if args.fp16 else "float32"})

    fm, fbm = statistics.median(fwd), statistics.median(fb)
    print(json.dumps({
        "model": replica.name, "dtype": "float16" if args.fp16 else "float32", "mode": args.mode,
        "threads": args.threads, "latent": list(inputs[wrt].shape[2:]), "runs": args.runs,
        "forwardSeconds": round(fm, 3), "forwardBackwardSeconds": round(fbm, 3), "ratio": round(fbm / fm, 3),
        "forwardRuns": [round(t, 3) for t in fwd], "forwardBackwardRuns": [round(t, 3) for t in fb],
        "peakRssMbAfterBuild": after_build, "peakRssMbForward": peak_forward, "peakRssMb": peak_total,
        "torch": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
