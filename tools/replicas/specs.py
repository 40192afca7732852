"""The paper's model families at their published sizes, with random weights.

Every number of a denoiser and VAE below is the value of the published diffusers config.json
(the `source` of each replica); `PUBLISHED` repeats those values as they appear there, and
`check_against_published` compares the configs built here with them key by key. Text encoders
are small (two layers, the published output widths, a factorised token table over the full CLIP
vocabulary): their cost is paid once per image, not per gradient step, and their widths are all
the denoiser sees.
"""
from __future__ import annotations

from dataclasses import dataclass

from tools.fixtures.mmdit import MMDiTConfig
from tools.fixtures.specs import FAMILIES, SD_BETAS, TextEncoderSpec
from tools.fixtures.unet import UNetConfig

from .vae import AutoencoderKLConfig

SD_LEVELS = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
SD_UP_LEVELS = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
SD_VAE_SHAPE = {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32}


@dataclass(frozen=True)
class Replica:
    name: str
    family: str  # the fixture family whose pipeline layout, scheduler and inputs this replica shares
    source: str
    denoiser: UNetConfig | MMDiTConfig
    vae: AutoencoderKLConfig
    text_encoders: tuple[TextEncoderSpec, ...]
    latent_size: int  # the published sample_size: latent pixels per side at the native resolution
    scheduler: dict
    # Token count of encoder_hidden_states at the pipelines' defaults (CLIP 77, SD3: 77 + T5 256).
    sequence_length: int = 77
    timestep_cond_dim: int | None = None

    @property
    def image_size(self) -> int:
        return self.latent_size * 8


def clip(component: str, tokenizer: str, hidden: int, projection: int | None = None, act: str = "quick_gelu",
         hidden_states: bool = False, pad: str = "<|endoftext|>") -> TextEncoderSpec:
    return TextEncoderSpec(component, tokenizer, "clip", hidden_size=hidden, projection_dim=projection, hidden_act=act,
                           output_hidden_states=hidden_states, pad_token=pad)


SD15_UNET = UNetConfig(block_out_channels=(320, 640, 1280, 1280), down_block_types=SD_LEVELS, up_block_types=SD_UP_LEVELS,
                       layers_per_block=2, transformer_layers_per_block=(1, 1, 1, 1), norm_num_groups=32, attention_heads=8,
                       cross_attention_dim=768, sample_size=64)

REPLICAS: dict[str, Replica] = {
    "sd15": Replica(
        name="sd15", family="sd15",
        source="https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5 (unet/, vae/ config.json)",
        denoiser=SD15_UNET,
        vae=AutoencoderKLConfig(scaling_factor=0.18215, sample_size=512),
        text_encoders=(clip("text_encoder", "tokenizer", 768),),
        latent_size=64, scheduler=FAMILIES["sd15"].scheduler,
    ),
    "lcm-sd15": Replica(
        name="lcm-sd15", family="lcm",
        source="https://huggingface.co/SimianLuo/LCM_Dreamshaper_v7 (unet/config.json: SD 1.5 plus time_cond_proj_dim 256)",
        denoiser=UNetConfig(**{**SD15_UNET.__dict__, "time_cond_proj_dim": 256}),
        vae=AutoencoderKLConfig(scaling_factor=0.18215, sample_size=512),
        text_encoders=(clip("text_encoder", "tokenizer", 768),),
        latent_size=64, scheduler=FAMILIES["lcm"].scheduler,
    ),
    "sd21": Replica(
        name="sd21", family="sd15",
        source="https://huggingface.co/stabilityai/stable-diffusion-2-1 (unet/, vae/ config.json; 768 px, v-prediction)",
        denoiser=UNetConfig(block_out_channels=(320, 640, 1280, 1280), down_block_types=SD_LEVELS, up_block_types=SD_UP_LEVELS,
                            layers_per_block=2, transformer_layers_per_block=(1, 1, 1, 1), norm_num_groups=32,
                            attention_heads=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True,
                            upcast_attention=True, sample_size=96),
        vae=AutoencoderKLConfig(scaling_factor=0.18215, sample_size=768),
        text_encoders=(clip("text_encoder", "tokenizer", 1024, act="gelu", pad="!"),),
        latent_size=96,
        scheduler={**FAMILIES["sd15"].scheduler, "_class_name": "DDIMScheduler", "prediction_type": "v_prediction"},
    ),
    "sdxl": Replica(
        name="sdxl", family="sdxl",
        source="https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0 (unet/, vae/ config.json)",
        denoiser=UNetConfig(block_out_channels=(320, 640, 1280),
                            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), layers_per_block=2,
                            transformer_layers_per_block=(1, 2, 10), norm_num_groups=32, attention_heads=(5, 10, 20),
                            cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
                            addition_time_embed_dim=256, text_embeds_dim=1280, sample_size=128),
        vae=AutoencoderKLConfig(scaling_factor=0.13025, sample_size=1024),
        text_encoders=(clip("text_encoder", "tokenizer", 768, hidden_states=True),
                       clip("text_encoder_2", "tokenizer_2", 1280, projection=1280, act="gelu", hidden_states=True, pad="!")),
        latent_size=128, scheduler=FAMILIES["sdxl"].scheduler,
    ),
    "sd3": Replica(
        name="sd3", family="sd3",
        source="https://huggingface.co/stabilityai/stable-diffusion-3-medium-diffusers (transformer/, vae/ config.json)",
        denoiser=MMDiTConfig(in_channels=16, out_channels=16, patch_size=2, num_layers=24, attention_head_dim=64,
                             num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536,
                             pooled_projection_dim=2048, pos_embed_max_size=192, time_proj_dim=256, sample_size=128),
        vae=AutoencoderKLConfig(scaling_factor=1.5305, shift_factor=0.0609, latent_channels=16, use_quant_conv=False,
                                sample_size=1024),
        text_encoders=(clip("text_encoder", "tokenizer", 768, projection=768, hidden_states=True),
                       clip("text_encoder_2", "tokenizer_2", 1280, projection=1280, act="gelu", hidden_states=True, pad="!"),
                       TextEncoderSpec("text_encoder_3", "tokenizer_3", "t5", hidden_size=4096)),
        latent_size=128, scheduler=FAMILIES["sd3"].scheduler, sequence_length=77 + 256,
    ),
}

# The published values, key by key, as the source config.json files give them.
PUBLISHED: dict[str, dict[str, dict]] = {
    "sd15": {
        "unet": {"block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "attention_head_dim": 8,
                 "cross_attention_dim": 768, "down_block_types": list(SD_LEVELS), "up_block_types": list(SD_UP_LEVELS),
                 "norm_num_groups": 32, "sample_size": 64, "use_linear_projection": False, "upcast_attention": False,
                 "in_channels": 4, "out_channels": 4},
        "vae": {**SD_VAE_SHAPE, "latent_channels": 4, "scaling_factor": 0.18215, "sample_size": 512},
    },
    "lcm-sd15": {
        "unet": {"block_out_channels": [320, 640, 1280, 1280], "attention_head_dim": 8, "cross_attention_dim": 768,
                 "time_cond_proj_dim": 256, "sample_size": 64},
        "vae": {**SD_VAE_SHAPE, "latent_channels": 4, "scaling_factor": 0.18215},
    },
    "sd21": {
        "unet": {"block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "attention_head_dim": [5, 10, 20, 20],
                 "cross_attention_dim": 1024, "norm_num_groups": 32, "sample_size": 96, "use_linear_projection": True,
                 "upcast_attention": True, "down_block_types": list(SD_LEVELS), "up_block_types": list(SD_UP_LEVELS)},
        "vae": {**SD_VAE_SHAPE, "latent_channels": 4, "scaling_factor": 0.18215, "sample_size": 768},
        "scheduler": {"prediction_type": "v_prediction"},
    },
    "sdxl": {
        "unet": {"block_out_channels": [320, 640, 1280], "layers_per_block": 2, "attention_head_dim": [5, 10, 20],
                 "transformer_layers_per_block": [1, 2, 10], "cross_attention_dim": 2048, "addition_embed_type": "text_time",
                 "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816, "sample_size": 128,
                 "use_linear_projection": True, "norm_num_groups": 32,
                 "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]},
        "vae": {**SD_VAE_SHAPE, "latent_channels": 4, "scaling_factor": 0.13025, "sample_size": 1024},
    },
    "sd3": {
        "transformer": {"attention_head_dim": 64, "caption_projection_dim": 1536, "in_channels": 16,
                        "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 24, "out_channels": 16,
                        "patch_size": 2, "pooled_projection_dim": 2048, "pos_embed_max_size": 192, "sample_size": 128},
        "vae": {**SD_VAE_SHAPE, "latent_channels": 16, "scaling_factor": 1.5305, "shift_factor": 0.0609,
                "use_quant_conv": False, "use_post_quant_conv": False},
    },
}


def written_configs(replica: Replica) -> dict[str, dict]:
    component = "transformer" if isinstance(replica.denoiser, MMDiTConfig) else "unet"
    return {component: replica.denoiser.diffusers_config(), "vae": replica.vae.diffusers_config(),
            "scheduler": replica.scheduler}


def check_against_published(replica: Replica) -> None:
    """Fails naming every key where a written config differs from the published value."""
    written = written_configs(replica)
    wrong = [f"{part}.{key}: published {value!r}, built {written[part].get(key)!r}"
             for part, values in PUBLISHED[replica.name].items() for key, value in values.items()
             if written[part].get(key) != value]
    if wrong:
        raise SystemExit(f"replica {replica.name} differs from its published config:\n  " + "\n  ".join(wrong))
