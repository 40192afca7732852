"""Exports a trained checkpoint (EMA weights) as the Optimum-layout ONNX folder models/tiny/.

    tools/.venv/bin/python -m tools.tiny_model.export --run tools/tiny_model/runs/main [--out models/tiny]

Writes model_index.json, scheduler/scheduler_config.json, unet/model.onnx (TorchScript exporter,
opset 17, weights embedded, dynamic batch/height/width), unet/config.json,
unet/vjp_reference.safetensors (a float64 torch-autograd VJP at real inputs),
preciseinv-model.json (identity VAE, pixel range, resolution rule), holdout.json, training.json
and the held-out images as PNG under holdout/. Then checks onnxruntime against torch.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from tools.fixtures.export import export_onnx, file_sizes, op_report, run_onnx

from .data import COLOR_SHARE, COLOR_TRAIN, EXCLUDED_ALIASES, GRAY_TRAIN, HOLDOUT, MIN_SIDE, holdout_sampler, load_image
from .diffusion import alphas_cumprod, scheduler_config
from .evaluate import load_ema
from .model import count_parameters

REPO = Path(__file__).resolve().parents[2]
AXES = {
    "sample": {0: "batch_size", 2: "height", 3: "width"},
    "timestep": {0: "steps"},
    "out_sample": {0: "batch_size", 2: "height", 3: "width"},
}
OPSET = 17
DEFAULT_RESOLUTION = 64


def write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def noised_inputs(size: int, timesteps: list[float], seed: int) -> dict[str, torch.Tensor]:
    """Held-out crops noised to the given timesteps (in-distribution inputs for the checks)."""
    crops = torch.from_numpy(holdout_sampler(seed).batch(len(timesteps), size))
    g = torch.Generator().manual_seed(seed)
    ab = alphas_cumprod(torch.float32)[torch.tensor(timesteps).long()].view(-1, 1, 1, 1)
    sample = ab.sqrt() * crops + (1 - ab).sqrt() * torch.randn(crops.shape, generator=g)
    return {"sample": sample.contiguous(), "timestep": torch.tensor(timesteps, dtype=torch.float32)}


def write_vjp_reference(model, path: Path) -> float:
    inputs = noised_inputs(32, [999.0, 251.0], seed=7)
    wide = copy.deepcopy(model).double().eval().requires_grad_(False)
    x = inputs["sample"].double().requires_grad_(True)
    g = torch.Generator().manual_seed(8)
    grad_out = torch.randn(x.shape, generator=g)
    with torch.enable_grad():
        out = wide(x, inputs["timestep"].double())
        (grad,) = torch.autograd.grad(out, x, grad_out.double())
    save_file({"sample": inputs["sample"], "timestep": inputs["timestep"], "grad_out_sample": grad_out.contiguous(),
               "out_sample": out.detach().float().contiguous(), "grad_sample": grad.float().contiguous()},
              str(path), metadata={"wrt": "sample", "of": "out_sample", "torch": torch.__version__,
                                   "dtype_reference": "float64"})
    return float(grad.abs().max())


def training_record(run: Path) -> dict:
    ck = torch.load(run / "ckpt.pt", weights_only=False)
    lines = (run / "train.log").read_text().splitlines()
    losses = [float(m.group(1)) for line in lines if (m := re.match(r"step \d+ loss ([0-9.]+)", line))]
    tail = losses[-10:]
    return {"steps": ck["step"], "trainingMinutes": round(ck["elapsed"] / 60, 1),
            "finalLossMeanOfLast10Logs": round(float(np.mean(tail)), 4) if tail else None,
            "arguments": {k: v for k, v in ck["args"].items() if k != "run"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=REPO / "models" / "tiny")
    ap.add_argument("--metrics", type=Path, default=None, help="evaluate.py --json output to copy into the folder")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out: Path = args.out
    model = load_ema(args.run)
    cfg = model.cfg

    example = noised_inputs(32, [999.0, 501.0], seed=3)
    export_onnx(model, example, ("out_sample",), AXES, out / "unet" / "model.onnx", "torchscript", OPSET)
    # sample_size is the default working resolution (the net is fully convolutional; it trained on 32 px crops).
    write_json(out / "unet" / "config.json", {**cfg.diffusers_config(), "sample_size": DEFAULT_RESOLUTION})
    write_json(out / "scheduler" / "scheduler_config.json", scheduler_config())
    write_json(out / "model_index.json", {"_class_name": "DDIMPipeline", "_diffusers_version": "0.31.0",
                                          "scheduler": ["diffusers", "DDIMScheduler"], "unet": ["diffusers", "UNet2DModel"]})
    write_json(out / "preciseinv-model.json", {
        "vae": "identity",
        "pixelRange": [-1, 1],
        "latentChannels": cfg.in_channels,
        "conditioning": "none",
        "predictionType": "epsilon",
        "resolution": {"default": DEFAULT_RESOLUTION, "multipleOf": cfg.multiple_of, "trainedOnCrops": cfg.sample_size},
        "parameters": count_parameters(model),
        "precision": "fp32",
    })
    write_json(out / "holdout.json", {
        "source": "scikit-image sample images (skimage.data), bundled with the scikit-image package",
        "holdout": list(HOLDOUT),
        "holdoutFiles": {n: f"holdout/{n}.png" for n in HOLDOUT},
        "excludedAliases": EXCLUDED_ALIASES,
        "trainColor": list(COLOR_TRAIN),
        "trainGrayAsRgb": list(GRAY_TRAIN),
        "trainColorShare": COLOR_SHARE,
        "pyramidMinSide": MIN_SIDE,
    })
    from skimage.io import imsave

    (out / "holdout").mkdir(parents=True, exist_ok=True)
    for n in HOLDOUT:
        imsave(out / "holdout" / f"{n}.png", load_image(n), check_contrast=False)
    record = training_record(args.run)
    if args.metrics:
        record["evaluation"] = json.loads(args.metrics.read_text())
    write_json(out / "training.json", record)
    grad_max = write_vjp_reference(model, out / "unet" / "vjp_reference.safetensors")

    # onnxruntime vs torch at several sizes, batch sizes and a scalar-like single timestep.
    worst = 0.0
    for size, ts in ((32, [999.0, 501.0]), (64, [250.0]), (48, [10.0, 600.0, 999.0]), (40, [123.0])):
        feeds = noised_inputs(size, ts, seed=size)
        with torch.no_grad():
            ref = model(feeds["sample"], feeds["timestep"]).numpy()
        (got,) = run_onnx(out / "unet" / "model.onnx", {k: v.numpy() for k, v in feeds.items()})
        err = float(np.max(np.abs(got - ref)))
        worst = max(worst, err)
        print(f"onnxruntime vs torch at {len(ts)}x3x{size}x{size}: max abs diff {err:.2e} (output scale {np.abs(ref).max():.2f})")
    assert worst < 1e-3, worst
    import onnx

    proto = onnx.load(str(out / "unet" / "model.onnx"))
    ops = op_report(proto, "sample", "out_sample")
    print("inputs:", [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in proto.graph.input])
    print("ops:", ", ".join(f"{k} {v['count']}" for k, v in ops.items()))
    print(f"vjp reference max |grad| {grad_max:.3f}")
    sizes = file_sizes(out)
    for k, v in sizes.items():
        print(f"{v:>10}  {k}")
    print(f"total {sum(sizes.values()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
