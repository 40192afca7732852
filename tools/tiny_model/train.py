"""Trains the tiny pixel-space UNet (epsilon prediction) on random crops; resumable.

    nice -n 10 tools/.venv/bin/python -m tools.tiny_model.train --run tools/tiny_model/runs/main \
        --steps 2000 --budget-minutes 40 --batch 16 --crop 32

Writes <run>/ckpt.pt (model, EMA, optimizer, data RNG) every --ckpt-minutes and at the end,
and appends one line per --log-every steps to <run>/train.log. Re-running the same command
resumes from ckpt.pt. Training ends at --steps or once --budget-minutes of training time
(summed over resumes) have passed, whichever comes first; the cosine learning-rate decay
follows whichever of the two is further along, so a slow or shared CPU still gets a fully
decayed schedule within the time budget.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from .data import training_sampler
from .diffusion import NUM_TRAIN_TIMESTEPS, alphas_cumprod
from .model import TinyConfig, TinyUNet, count_parameters


def lr_at(step: int, progress: float, peak: float, warmup: int, floor: float = 0.02) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, progress)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def ema_decay(step: int, cap: float) -> float:
    return min(cap, (1 + step) / (10 + step))


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--channels", type=str, default="16,32,64,128")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget-minutes", type=float, default=40.0)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-preconditioning", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.run / "ckpt.pt"
    log = open(args.run / "train.log", "a", buffering=1)

    cfg = TinyConfig(block_out_channels=tuple(int(c) for c in args.channels.split(",")), sample_size=args.crop,
                     preconditioning=not args.no_preconditioning)
    torch.manual_seed(args.seed)
    model = TinyUNet(cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    sampler = training_sampler(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    step, elapsed = 0, 0.0

    if ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        assert TinyConfig.from_json(ck["config"]) == cfg, "checkpoint config differs from the arguments"
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sampler.set_state(ck["sampler"])
        gen.set_state(ck["gen"])
        step, elapsed = ck["step"], ck["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", file=log)
    else:
        print(f"config {json.dumps(cfg.to_json())} params {count_parameters(model)} args {vars(args)}", file=log)

    sqrt_ab = alphas_cumprod(torch.float32).sqrt()
    sqrt_1mab = (1 - alphas_cumprod(torch.float32)).sqrt()

    def checkpoint() -> None:
        save_atomic({"config": cfg.to_json(), "model": model.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "sampler": sampler.state(), "gen": gen.get_state(),
                     "step": step, "elapsed": elapsed, "args": {k: str(v) for k, v in vars(args).items()}}, ckpt_path)

    budget = args.budget_minutes * 60
    last_ckpt = time.time()
    window: list[float] = []
    model.train()
    while step < args.steps and elapsed < budget:
        t0 = time.time()
        x0 = torch.from_numpy(sampler.batch(args.batch, args.crop))
        t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (args.batch,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        xt = sqrt_ab[t].view(-1, 1, 1, 1) * x0 + sqrt_1mab[t].view(-1, 1, 1, 1) * noise
        for group in opt.param_groups:
            group["lr"] = lr_at(step, max(step / args.steps, elapsed / budget), args.lr, args.warmup)
        pred = model(xt, t.float())
        if cfg.preconditioning:
            # Uniform weight on the network's own (unit-variance) target: eps error / c_out.
            loss = (((pred - noise) / model.c_out[t].view(-1, 1, 1, 1)) ** 2).mean()
        else:
            loss = torch.nn.functional.mse_loss(pred, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = ema_decay(step, args.ema)
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - d)
        step += 1
        elapsed += time.time() - t0
        window.append(loss.item())
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step} loss {np.mean(window):.5f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"gnorm {float(grad_norm):.3f} min {elapsed / 60:.2f}", file=log)
            window = []
        now = time.time()
        if now - last_ckpt > args.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = now
    checkpoint()
    print(f"checkpoint at step {step}, {elapsed / 60:.1f} min trained", file=log)


if __name__ == "__main__":
    main()
