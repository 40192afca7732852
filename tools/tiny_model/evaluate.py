"""Checks that a trained checkpoint denoises, on images never seen in training.

    tools/.venv/bin/python -m tools.tiny_model.evaluate --run tools/tiny_model/runs/main [--json out.json]

- eps-prediction MSE on held-out crops (32 and 64 px) at several timesteps; predicting 0 scores 1,
  and the best pixelwise linear guess c * x_t (c fitted by least squares on the same crops) is
  printed beside it, since at large t the noisy input alone already reveals most of the noise.
- naive DDIM inversion + DDIM reconstruction of each held-out image resized to 64x64, PSNR.
- a grid of few-step DDIM samples from pure noise (PNG) for a visual check.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from .data import HOLDOUT, center_square, holdout_sampler, load_image, training_sampler
from .diffusion import alphas_cumprod, ddim_invert, ddim_sample, psnr
from .model import TinyConfig, TinyUNet

TIMESTEPS = (10, 100, 250, 500, 750, 999)


def load_ema(run: Path) -> TinyUNet:
    ck = torch.load(run / "ckpt.pt", weights_only=False)
    model = TinyUNet(TinyConfig.from_json(ck["config"]))
    model.load_state_dict(ck["ema"])
    return model.eval()


@torch.no_grad()
def eps_mse(model, crops: torch.Tensor, t: int, seed: int) -> tuple[float, float]:
    """(model's eps MSE, MSE of the least-squares c * x_t baseline)."""
    g = torch.Generator().manual_seed(seed)
    ab = alphas_cumprod(torch.float32)[t]
    noise = torch.randn(crops.shape, generator=g)
    xt = ab.sqrt() * crops + (1 - ab).sqrt() * noise
    total = 0.0
    for i in range(0, len(crops), 64):
        pred = model(xt[i:i + 64], torch.full((len(xt[i:i + 64]),), float(t)))
        total += float(((pred - noise[i:i + 64]) ** 2).sum())
    c = float((xt * noise).sum() / (xt * xt).sum())
    return total / noise.numel(), float(((c * xt - noise) ** 2).mean())


def save_grid(images: torch.Tensor, path: Path, cols: int) -> None:
    from skimage.io import imsave

    x = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    n, h, w, c = x.shape
    rows = (n + cols - 1) // cols
    grid = np.zeros((rows * (h + 2), cols * (w + 2), c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * (h + 2):r * (h + 2) + h, k * (w + 2):k * (w + 2) + w] = x[i]
    imsave(path, grid, check_contrast=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--crops", type=int, default=192)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_ema(args.run)
    report: dict = {"epsMse": {}, "ddimReconstruction": {}}

    for split, sampler in (("holdout", holdout_sampler(123)), ("train", training_sampler(456))):
        for size in (32, 64):
            crops = torch.from_numpy(sampler.batch(args.crops if size == 32 else args.crops // 2, size))
            pairs = {str(t): eps_mse(model, crops, t, seed=t) for t in TIMESTEPS}
            report["epsMse"][f"{split}-{size}px"] = {k: round(v[0], 4) for k, v in pairs.items()}
            report["epsMse"][f"{split}-{size}px-linearBaseline"] = {k: round(v[1], 4) for k, v in pairs.items()}
            print(f"eps-MSE {split:7s} {size}px ({len(crops)} crops), model (c*x_t baseline): "
                  + "  ".join(f"t={k}: {m:.4f} ({b:.4f})" for k, (m, b) in pairs.items()), flush=True)

    images = torch.stack([torch.from_numpy(center_square(load_image(n), 64)) for n in HOLDOUT])
    for steps in (4, 10, 50):
        xt = ddim_invert(model, images, steps)
        rec = ddim_sample(model, xt, steps)
        per = {n: round(psnr(rec[i:i + 1], images[i:i + 1]), 2) for i, n in enumerate(HOLDOUT)}
        report["ddimReconstruction"][str(steps)] = {"psnr": per, "latentStd": round(float(xt.std()), 3)}
        print(f"DDIM inversion+reconstruction T={steps}: PSNR {per}  x_T std {float(xt.std()):.3f}", flush=True)
        if steps == 10:
            save_grid(torch.cat([images, rec]), args.run / "reconstruction_T10.png", cols=len(HOLDOUT))

    g = torch.Generator().manual_seed(0)
    for steps in (4, 25):
        samples = ddim_sample(model, torch.randn(8, 3, 64, 64, generator=g), steps)
        save_grid(samples, args.run / f"samples_T{steps}.png", cols=4)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
