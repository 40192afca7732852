"""The tiny unconditional pixel-space UNet, assembled from the fixtures' SD-style blocks.

Its layout follows diffusers' UNet2DModel (the UNet of DDPMPipeline): conv_in, per level
ResNet blocks with a strided-conv downsampler, a mid block (ResNet, self-attention, ResNet),
up levels that concatenate skips and upsample by nearest 2x + conv, GroupNorm-SiLU-conv_out.
There is no text conditioning, so the ONNX graph takes only `sample` and `timestep`.

Preconditioning (on by default): the network F predicts a unit-variance residual and the
exported output is still epsilon,

    eps_hat = c_skip(t) * x_t + c_out(t) * F(c_in(t) * x_t, t)

with, for x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps and E[x_0^2] = sigma_data^2,
    v      = abar * sigma_data^2 + 1 - abar       (second moment of x_t)
    c_in   = 1 / sqrt(v)
    c_skip = sqrt(1 - abar) / v                    (best linear guess of eps from x_t)
    c_out  = sqrt(abar * sigma_data^2 / v)         (rms error of that guess)
At high noise the skip term carries almost all of eps exactly, so the clean-image estimate
x0 = (x_t - sqrt(1 - abar) eps_hat) / sqrt(abar), which few-step DDIM relies on, is not swamped
by small network errors amplified by 1 / sqrt(abar). The three coefficients are looked up per
integer timestep (rounded) from 1000-entry tables embedded in the graph.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tools.fixtures.layers import Attention, TimestepEmbedding, sinusoidal_embedding
from tools.fixtures.unet import Downsample, ResnetBlock, Upsample

from .diffusion import NUM_TRAIN_TIMESTEPS, alphas_cumprod


@dataclass(frozen=True)
class TinyConfig:
    in_channels: int = 3
    out_channels: int = 3
    block_out_channels: tuple[int, ...] = (32, 64, 96)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    attention_heads: int = 2
    mid_attention: bool = True
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    sample_size: int = 32
    preconditioning: bool = True
    sigma_data: float = 0.5

    @property
    def time_embed_dim(self) -> int:
        return self.block_out_channels[0] * 4

    @property
    def multiple_of(self) -> int:
        """Input height and width must be divisible by this (one halving per level but the last)."""
        return 2 ** (len(self.block_out_channels) - 1)

    def to_json(self) -> dict:
        d = asdict(self)
        d["block_out_channels"] = list(self.block_out_channels)
        return d

    @staticmethod
    def from_json(d: dict) -> "TinyConfig":
        d = dict(d)
        d["block_out_channels"] = tuple(d["block_out_channels"])
        return TinyConfig(**d)

    def diffusers_config(self) -> dict:
        """unet/config.json in the shape of diffusers' UNet2DModel config."""
        n = len(self.block_out_channels)
        return {
            "_class_name": "UNet2DModel",
            "_diffusers_version": "0.31.0",
            "act_fn": "silu",
            "add_attention": self.mid_attention,
            "attention_head_dim": self.block_out_channels[-1] // self.attention_heads,
            "block_out_channels": list(self.block_out_channels),
            "center_input_sample": False,
            "class_embed_type": None,
            "down_block_types": ["DownBlock2D"] * n,
            "downsample_padding": 1,
            "downsample_type": "conv",
            "flip_sin_to_cos": self.flip_sin_to_cos,
            "freq_shift": self.freq_shift,
            "in_channels": self.in_channels,
            "layers_per_block": self.layers_per_block,
            "mid_block_scale_factor": 1,
            "norm_eps": 1e-05,
            "norm_num_groups": self.norm_num_groups,
            "out_channels": self.out_channels,
            "resnet_time_scale_shift": "default",
            "sample_size": self.sample_size,
            "time_embedding_type": "positional",
            "up_block_types": ["UpBlock2D"] * n,
            "upsample_type": "interpolate",
            # Not a diffusers UNet2DModel key: see model.py (eps = c_skip x + c_out F(c_in x, t)).
            "preciseinv_preconditioning": {"enabled": self.preconditioning, "sigma_data": self.sigma_data},
        }


class SelfAttention2D(nn.Module):
    """GroupNorm, multi-head self-attention over the H*W positions, residual (UNet2DModel's mid attention)."""

    def __init__(self, dim: int, heads: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, dim, eps=1e-5)
        self.attn = Attention(dim, heads, qkv_bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        y = self.attn(y).transpose(1, 2).reshape(n, c, h, w)
        return x + y


class TinyUNet(nn.Module):
    def __init__(self, cfg: TinyConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.block_out_channels
        temb = cfg.time_embed_dim
        g = cfg.norm_num_groups
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)

        self.down_resnets = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        skip_channels = [ch[0]]
        prev = ch[0]
        for i, cout in enumerate(ch):
            level = nn.ModuleList()
            for _ in range(cfg.layers_per_block):
                level.append(ResnetBlock(prev, cout, temb, g))
                prev = cout
                skip_channels.append(cout)
            self.down_resnets.append(level)
            if i < len(ch) - 1:
                self.downsamplers.append(Downsample(cout))
                skip_channels.append(cout)

        self.mid_resnet_1 = ResnetBlock(ch[-1], ch[-1], temb, g)
        self.mid_attention = SelfAttention2D(ch[-1], cfg.attention_heads, g) if cfg.mid_attention else None
        self.mid_resnet_2 = ResnetBlock(ch[-1], ch[-1], temb, g)

        self.up_resnets = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        for i, cout in enumerate(reversed(ch)):
            level = nn.ModuleList()
            for _ in range(cfg.layers_per_block + 1):
                level.append(ResnetBlock(prev + skip_channels.pop(), cout, temb, g))
                prev = cout
            self.up_resnets.append(level)
            if i < len(ch) - 1:
                self.upsamplers.append(Upsample(cout))
        assert not skip_channels

        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)
        # F starts at zero: eps_hat starts as the zero predictor, or with preconditioning as c_skip * x_t.
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        if cfg.preconditioning:
            for name, table in preconditioning_tables(cfg.sigma_data).items():
                self.register_buffer(name, table, persistent=False)

    def coefficients(self, timestep: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c_in, c_skip, c_out as [n, 1, 1, 1] for the (rounded, clamped) integer timesteps."""
        idx = (timestep.reshape(-1) + 0.5).to(torch.int64).clamp(0, NUM_TRAIN_TIMESTEPS - 1).expand(n)
        return tuple(table[idx].reshape(n, 1, 1, 1) for table in (self.c_in, self.c_skip, self.c_out))

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        """epsilon prediction."""
        if not self.cfg.preconditioning:
            return self.network(sample, timestep)
        c_in, c_skip, c_out = self.coefficients(timestep, sample.shape[0])
        return c_skip * sample + c_out * self.network(c_in * sample, timestep)

    def network(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        t = timestep.to(sample.dtype).reshape(-1).expand(sample.shape[0])
        t_emb = sinusoidal_embedding(t, cfg.block_out_channels[0], cfg.flip_sin_to_cos, cfg.freq_shift, sample.dtype)
        temb = self.time_embedding(t_emb)

        x = self.conv_in(sample)
        skips = [x]
        for i, level in enumerate(self.down_resnets):
            for block in level:
                x = block(x, temb)
                skips.append(x)
            if i < len(self.downsamplers):
                x = self.downsamplers[i](x)
                skips.append(x)

        x = self.mid_resnet_1(x, temb)
        if self.mid_attention is not None:
            x = self.mid_attention(x)
        x = self.mid_resnet_2(x, temb)

        for i, level in enumerate(self.up_resnets):
            for block in level:
                x = block(torch.cat([x, skips.pop()], dim=1), temb)
            if i < len(self.upsamplers):
                x = self.upsamplers[i](x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def preconditioning_tables(sigma_data: float) -> dict[str, torch.Tensor]:
    """c_in, c_skip, c_out per integer timestep (float32 [1000])."""
    ab = alphas_cumprod(torch.float64)
    v = ab * sigma_data ** 2 + 1 - ab
    return {"c_in": (1 / v.sqrt()).float(), "c_skip": ((1 - ab).sqrt() / v).float(),
            "c_out": (ab * sigma_data ** 2 / v).sqrt().float()}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
