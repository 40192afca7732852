"""AutoencoderKL at its published size: ResNet down/up blocks, a single-head attention mid block, /8 and x8.

Optimum splits it in two ONNX graphs: the encoder returns mean ++ logvar (`latent_parameters`), the
decoder maps a latent back to pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AutoencoderKLConfig:
    scaling_factor: float
    sample_size: int
    latent_channels: int = 4
    shift_factor: float | None = None
    use_quant_conv: bool = True
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    norm_num_groups: int = 32

    def diffusers_config(self) -> dict:
        levels = len(self.block_out_channels)
        return {
            "_class_name": "AutoencoderKL",
            "_diffusers_version": "0.31.0",
            "act_fn": "silu",
            "block_out_channels": list(self.block_out_channels),
            "down_block_types": ["DownEncoderBlock2D"] * levels,
            "force_upcast": True,
            "in_channels": 3,
            "latent_channels": self.latent_channels,
            "layers_per_block": self.layers_per_block,
            "norm_num_groups": self.norm_num_groups,
            "out_channels": 3,
            "sample_size": self.sample_size,
            "scaling_factor": self.scaling_factor,
            "shift_factor": self.shift_factor,
            "up_block_types": ["UpDecoderBlock2D"] * levels,
            "use_post_quant_conv": self.use_quant_conv,
            "use_quant_conv": self.use_quant_conv,
        }


class VaeResnet(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class VaeAttention(nn.Module):
    """One head over all pixels of the lowest resolution, with a GroupNorm in front and a residual."""

    def __init__(self, dim: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        t = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        q, k, v = (p(t)[:, None] for p in (self.to_q, self.to_k, self.to_v))
        out = self.to_out(F.scaled_dot_product_attention(q, k, v)[:, 0])
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class VaeMid(nn.Module):
    def __init__(self, dim: int, groups: int):
        super().__init__()
        self.resnets = nn.ModuleList((VaeResnet(dim, dim, groups), VaeResnet(dim, dim, groups)))
        self.attention = VaeAttention(dim, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resnets[1](self.attention(self.resnets[0](x)))


class Downsample(nn.Module):
    """Stride-2 3x3 conv after a one-pixel pad on the right and bottom only."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    input_names = ("sample",)
    output_names = ("latent_parameters",)

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        ch, g = cfg.block_out_channels, cfg.norm_num_groups
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        prev = ch[0]
        for i, cout in enumerate(ch):
            layers = [VaeResnet(prev if j == 0 else cout, cout, g) for j in range(cfg.layers_per_block)]
            if i < len(ch) - 1:
                layers.append(Downsample(cout))
            self.down.append(nn.Sequential(*layers))
            prev = cout
        self.mid = VaeMid(ch[-1], g)
        self.norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg.latent_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1) if cfg.use_quant_conv else None

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(sample)
        for block in self.down:
            h = block(h)
        h = self.conv_out(F.silu(self.norm_out(self.mid(h))))
        return self.quant_conv(h) if self.quant_conv is not None else h


class Decoder(nn.Module):
    input_names = ("latent_sample",)
    output_names = ("sample",)

    def __init__(self, cfg: AutoencoderKLConfig):
        super().__init__()
        ch, g = tuple(reversed(cfg.block_out_channels)), cfg.norm_num_groups
        self.post_quant_conv = nn.Conv2d(cfg.latent_channels, cfg.latent_channels, 1) if cfg.use_quant_conv else None
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1)
        self.mid = VaeMid(ch[0], g)
        self.up = nn.ModuleList()
        prev = ch[0]
        for i, cout in enumerate(ch):
            layers = [VaeResnet(prev if j == 0 else cout, cout, g) for j in range(cfg.layers_per_block + 1)]
            if i < len(ch) - 1:
                layers.append(Upsample(cout))
            self.up.append(nn.Sequential(*layers))
            prev = cout
        self.norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        z = self.post_quant_conv(latent_sample) if self.post_quant_conv is not None else latent_sample
        h = self.mid(self.conv_in(z))
        for block in self.up:
            h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))
