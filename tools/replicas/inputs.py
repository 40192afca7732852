"""Seeded denoiser inputs and cotangents for a replica, at its native resolution or any other."""
from __future__ import annotations

import torch

from tools.fixtures.mmdit import MMDiTConfig
from tools.fixtures.specs import guidance_embedding, seed_of

from .specs import Replica

TIMESTEP = 501.0


def denoiser_inputs(replica: Replica, latent: int | None = None, batch: int = 1) -> dict[str, torch.Tensor]:
    """float32 inputs in ONNX input order; `latent` is pixels per side of the latent (default: native)."""
    size = latent or replica.latent_size
    cfg = replica.denoiser
    g = torch.Generator().manual_seed(seed_of(replica.name, "inputs", str(size), str(batch)))
    timestep = torch.full((batch,), TIMESTEP)
    if isinstance(cfg, MMDiTConfig):
        return {
            "hidden_states": torch.randn(batch, cfg.in_channels, size, size, generator=g),
            "encoder_hidden_states": torch.randn(batch, replica.sequence_length, cfg.joint_attention_dim, generator=g),
            "pooled_projections": torch.randn(batch, cfg.pooled_projection_dim, generator=g),
            "timestep": timestep,
        }
    inputs = {
        "sample": torch.randn(batch, cfg.in_channels, size, size, generator=g),
        "timestep": timestep,
        "encoder_hidden_states": torch.randn(batch, replica.sequence_length, cfg.cross_attention_dim, generator=g),
    }
    if cfg.addition_embed_type == "text_time":
        pixels = float(size * 8)  # original size, crop top-left, target size
        inputs["text_embeds"] = torch.randn(batch, cfg.text_embeds_dim, generator=g)
        inputs["time_ids"] = torch.tensor([[pixels, pixels, 0.0, 0.0, pixels, pixels]] * batch)
    if cfg.time_cond_proj_dim:
        inputs["timestep_cond"] = guidance_embedding(torch.full((batch,), 7.5), cfg.time_cond_proj_dim)
    return inputs


def cotangent(replica: Replica, shape: torch.Size) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed_of(replica.name, "cotangent", *map(str, shape)))
    return torch.randn(shape, generator=g)
