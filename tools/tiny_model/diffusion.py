"""Noise schedule and DDIM sampling/inversion in torch, following diffusers' DDIMScheduler formulas."""
from __future__ import annotations

import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START = 1e-4
BETA_END = 0.02


def scheduler_config() -> dict:
    """scheduler/scheduler_config.json (diffusers DDIMScheduler)."""
    return {
        "_class_name": "DDIMScheduler",
        "_diffusers_version": "0.31.0",
        "beta_end": BETA_END,
        "beta_schedule": "linear",
        "beta_start": BETA_START,
        "clip_sample": False,
        "clip_sample_range": 1.0,
        "dynamic_thresholding_ratio": 0.995,
        "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
        "prediction_type": "epsilon",
        "rescale_betas_zero_snr": False,
        "sample_max_value": 1.0,
        "set_alpha_to_one": True,
        "steps_offset": 0,
        "thresholding": False,
        "timestep_spacing": "trailing",
        "trained_betas": None,
    }


def alphas_cumprod(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    # diffusers computes in float32; float64 here differs by < 1e-7, irrelevant for training.
    betas = torch.linspace(BETA_START, BETA_END, NUM_TRAIN_TIMESTEPS, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0).to(dtype)


def trailing_timesteps(steps: int) -> list[int]:
    """diffusers 'trailing' spacing: round(arange(N, 0, -N/T)) - 1, e.g. T=4 -> [999, 749, 499, 249]."""
    ratio = NUM_TRAIN_TIMESTEPS / steps
    return [int(round(NUM_TRAIN_TIMESTEPS - i * ratio)) - 1 for i in range(steps)]


def prev_timestep(t: int, steps: int) -> int:
    return t - NUM_TRAIN_TIMESTEPS // steps


def _abar(abar: torch.Tensor, t: int) -> float:
    return 1.0 if t < 0 else float(abar[t])  # set_alpha_to_one


@torch.no_grad()
def ddim_sample(model, x: torch.Tensor, steps: int) -> torch.Tensor:
    """Deterministic DDIM (eta 0) from x_T down to x_0."""
    abar = alphas_cumprod()
    for t in trailing_timesteps(steps):
        p = prev_timestep(t, steps)
        a_t, a_p = _abar(abar, t), _abar(abar, p)
        eps = model(x, torch.full((x.shape[0],), float(t)))
        x0 = (x - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5
        x = a_p ** 0.5 * x0 + (1 - a_p) ** 0.5 * eps
    return x


@torch.no_grad()
def ddim_invert(model, x0: torch.Tensor, steps: int) -> torch.Tensor:
    """Naive DDIM inversion: each step uses the model output at the less noisy point."""
    abar = alphas_cumprod()
    x = x0
    for t in reversed(trailing_timesteps(steps)):
        p = prev_timestep(t, steps)
        a_t, a_p = _abar(abar, t), _abar(abar, p)
        eps = model(x, torch.full((x.shape[0],), float(t)))
        xz = (x - (1 - a_p) ** 0.5 * eps) / a_p ** 0.5
        x = a_t ** 0.5 * xz + (1 - a_t) ** 0.5 * eps
    return x


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2), after clipping to the range."""
    mse = float(((a.clamp(-1, 1) - b.clamp(-1, 1)) ** 2).mean())
    return 10.0 * torch.log10(torch.tensor(4.0 / max(mse, 1e-20))).item()
