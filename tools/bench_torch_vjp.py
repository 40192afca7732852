"""Torch baseline for the denoiser VJP: median forward and forward+backward times per fixture.

Rebuilds each fixture's denoiser from its seed (the same weights as the committed ONNX files),
freezes the parameters and differentiates w.r.t. the latent only, at batch 2 and 16x16 latents.
Two modes: `eager` calls the module from Python, so its forward also pays the interpreter's cost
per submodule (at these tiny sizes several times ONNX Runtime's whole forward), which backward,
run by autograd's C++ engine, does not; `traced` runs the same module through torch.jit.trace,
whose forward and backward both run without Python in the loop (outputs are checked identical to
eager's before timing). The traced ratio is the like-for-like reference for a graph runtime.
Each fixture runs in its own process so peakRssMb is that fixture's own peak. Forward and
forward+backward calls alternate in one timing loop, so a change of load on a shared machine
affects both sides of the ratio alike; the loop stops after --runs pairs or --max-seconds,
whichever comes first (`runs` in the output says how many were taken). Medians of wall time
(forwardMs, forwardBackwardMs, ratio) and of process CPU time (forwardCpuMs,
forwardBackwardCpuMs, cpuRatio) are reported, and the fastest wall times and their ratio
(forwardMinMs, forwardBackwardMinMs, minRatio), which interference from other work disturbs
least. Prints one JSON line per (fixture, mode, thread count):

    tools/.venv/bin/python tools/bench_torch_vjp.py [--threads N ...] [--runs 20] [--modes eager traced] [--fixtures NAME ...]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from tools.fixtures import specs  # noqa: E402
from tools.fixtures.specs import FIXTURES, FIXTURES_BY_NAME, build_denoiser, cotangent, denoiser_inputs  # noqa: E402


MIN_RUNS = 3


def median_pair(first, second, runs: int, warmup: int, max_seconds: float) -> tuple[dict[str, float], int]:
    """Medians of wall and process CPU milliseconds (and the fastest wall times) of two callables
    run alternately: up to `runs` pairs after `warmup` untimed ones; the loop stops at
    `max_seconds` once MIN_RUNS pairs are in."""
    for _ in range(warmup):
        first()
        second()
    deadline = time.perf_counter() + max_seconds
    times: dict[str, list[float]] = {"wall1": [], "cpu1": [], "wall2": [], "cpu2": []}
    while len(times["wall1"]) < runs and (len(times["wall1"]) < MIN_RUNS or time.perf_counter() < deadline):
        for fn, key in ((first, "1"), (second, "2")):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times["cpu" + key].append((time.process_time() - cpu) * 1000.0)
            times["wall" + key].append((time.perf_counter() - wall) * 1000.0)
    stats = {k: statistics.median(v) for k, v in times.items()}
    stats.update({"min" + k: min(v) for k, v in times.items() if k.startswith("wall")})
    return stats, len(times["wall1"])


def traced(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.jit.ScriptModule:
    """The module through torch.jit.trace, checked to give eager's output bit for bit."""
    script = torch.jit.trace(module, tuple(inputs.values()), check_trace=False)
    with torch.no_grad():
        if not torch.equal(script(*inputs.values()), module(*inputs.values())):
            raise SystemExit("traced module output differs from eager; not a like-for-like baseline")
    return script


def measure(name: str, threads: list[int], modes: list[str], runs: int, warmup: int, max_seconds: float) -> list[dict]:
    fixture = FIXTURES_BY_NAME[name]
    family = fixture.spec
    module = build_denoiser(family)
    inputs = denoiser_inputs(family)
    if fixture.fp16:
        module = module.half()
        inputs = {k: v.half() if v.is_floating_point() else v for k, v in inputs.items()}
    for p in module.parameters():
        p.requires_grad_(False)
    names = list(inputs)
    wrt = names.index(family.wrt)
    with torch.no_grad():
        out_shape = module(*inputs.values()).shape
    grad_out = cotangent(family, out_shape).to(inputs[family.wrt].dtype)

    def timed(run) -> tuple:
        def forward():
            with torch.no_grad():
                run(*inputs.values())

        def forward_backward():
            args = list(inputs.values())
            args[wrt] = args[wrt].detach().requires_grad_(True)
            out = run(*args)
            torch.autograd.grad(out, args[wrt], grad_out)

        return forward, forward_backward

    rows = []
    for mode, n in [(mode, n) for mode in modes for n in threads]:
        torch.set_num_threads(n)
        forward, forward_backward = timed(module if mode == "eager" else traced(module, inputs))
        m, pairs = median_pair(forward, forward_backward, runs, warmup, max_seconds)
        rows.append({"fixture": name, "mode": mode, "forwardMs": round(m["wall1"], 3), "forwardBackwardMs": round(m["wall2"], 3),
                     "ratio": round(m["wall2"] / m["wall1"], 3), "forwardMinMs": round(m["minwall1"], 3),
                     "forwardBackwardMinMs": round(m["minwall2"], 3), "minRatio": round(m["minwall2"] / m["minwall1"], 3), "forwardCpuMs": round(m["cpu1"], 3),
                     "forwardBackwardCpuMs": round(m["cpu2"], 3), "cpuRatio": round(m["cpu2"] / m["cpu1"], 3),
                     "threads": n, "runs": pairs,
                     "peakRssMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
                     "dtype": "float16" if fixture.fp16 else "float32", "batch": inputs[family.wrt].shape[0],
                     "latent": list(inputs[family.wrt].shape[2:]), "torch": torch.__version__})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="*",
                        help="torch thread counts to measure (default: 1 and torch's default)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--modes", nargs="*", choices=["eager", "traced"], default=["eager", "traced"])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=1.0,
                        help="time cap per measurement loop; fewer runs are taken when it is reached (at least 3)")
    parser.add_argument("--fixtures", nargs="*", choices=sorted(FIXTURES_BY_NAME), default=[f.name for f in FIXTURES])
    parser.add_argument("--latent", type=int, help="latent side length (default: the fixtures' own, 16)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latent:
        # denoiser_inputs() reads the module-level size, so every fixture is measured at this size.
        specs.LATENT = args.latent
    threads = args.threads or sorted({1, torch.get_num_threads()})
    if args.worker:
        for row in measure(args.worker, threads, args.modes, args.runs, args.warmup, args.max_seconds):
            print(json.dumps(row), flush=True)
        return 0
    for name in args.fixtures:
        cmd = [sys.executable, __file__, "--worker", name, "--runs", str(args.runs), "--warmup", str(args.warmup),
               "--max-seconds", str(args.max_seconds), "--threads", *map(str, threads), "--modes", *args.modes,
               *(["--latent", str(args.latent)] if args.latent else [])]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return result.returncode
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
