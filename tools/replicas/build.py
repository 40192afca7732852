"""Builds a real-size replica (random weights) as an Optimum ONNX folder, deterministically.

    tools/.venv/bin/python -m tools.replicas.build --model sd15 [--fp16] [--out DIR]

Default folder: models/replicas/<model>[-fp16]/ (ignored by git). The denoiser is exported as
Optimum does (TorchScript, opset 14, weights in unet/model.onnx_data or transformer/...); `--fp16`
halves the denoiser only (text encoders and VAE stay float32, as the fp16 fixture does).
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from tools.fixtures.build import DENOISER_AXES, model_index, write_json
from tools.fixtures.export import export_onnx
from tools.fixtures.layers import init_weights
from tools.fixtures.mmdit import MMDiT, MMDiTConfig
from tools.fixtures.specs import DIFFUSERS_VERSION, Family, FAMILIES, seed_of
from tools.fixtures.text import ClipTextConfig, ClipTextEncoder, T5Config, T5Encoder
from tools.fixtures.tokenizers import CLIP_MERGES, write_clip_tokenizer, write_t5_tokenizer
from tools.fixtures.unet import UNet

from .export import export_with_external_data
from .inputs import denoiser_inputs
from .specs import REPLICAS, Replica, check_against_published
from .vae import Decoder, Encoder

REPO = Path(__file__).resolve().parents[2]
OPSET = 14  # Optimum's default for the Stable Diffusion exports
T5_VOCAB = 192
TRACE_LATENT = 16  # traced at a small latent: every spatial axis is exported dynamic


def family_of(replica: Replica) -> Family:
    """The fixture family with this replica's scheduler, denoiser and text encoders (for model_index.json)."""
    base = FAMILIES[replica.family]
    return Family(name=replica.name, pipeline_class=base.pipeline_class, scheduler=replica.scheduler,
                  denoiser=replica.denoiser, text_encoders=replica.text_encoders, vae=base.vae,
                  pipeline_extra=base.pipeline_extra)


def denoiser_module(replica: Replica) -> torch.nn.Module:
    return MMDiT(replica.denoiser) if isinstance(replica.denoiser, MMDiTConfig) else UNet(replica.denoiser)


def build_denoiser(replica: Replica) -> torch.nn.Module:
    return init_weights(denoiser_module(replica), seed_of(replica.name, "denoiser")).eval()


def file_backed(module: torch.nn.Module, make: Callable[[], torch.nn.Module], scratch: Path) -> torch.nn.Module:
    """The same module with its weights in a memory-mapped file instead of the heap.

    TorchScript export builds the ONNX proto with every initialiser in the heap while the module
    still holds its own: twice the weights (SDXL fp32: 2 x 10.3 GB). File-backed pages are clean
    page cache the kernel can drop, so only the proto's copy stays resident.
    """
    path = scratch / "weights.pt"
    torch.save(module.state_dict(), path)
    del module
    gc.collect()
    with torch.device("meta"):
        fresh = make()
    # assign: the loaded (mapped) tensors become the parameters, dtype included.
    fresh.load_state_dict(torch.load(path, mmap=True, weights_only=True), assign=True)
    path.unlink()  # the mapping outlives the name
    return fresh.eval()


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def export_denoiser(replica: Replica, folder: Path, fp16: bool) -> dict:
    family = family_of(replica)
    module = build_denoiser(replica)
    inputs = denoiser_inputs(replica, latent=TRACE_LATENT)
    if fp16:
        module = module.half()
        inputs = {k: v.half() if v.is_floating_point() else v for k, v in inputs.items()}
    module = file_backed(module, lambda: denoiser_module(replica), folder)
    axes = dict(DENOISER_AXES)
    if family.denoiser_component == "transformer":
        axes["timestep"] = {0: "step"}
    path = folder / family.denoiser_component / "model.onnx"
    export_with_external_data(module, inputs, (family.of,), axes, path, OPSET)
    write_json(path.parent / "config.json", replica.denoiser.diffusers_config())
    return {"parameters": parameter_count(module), "dtype": "float16" if fp16 else "float32"}


def text_encoder_config(spec) -> ClipTextConfig | T5Config:
    if spec.kind == "t5":
        return T5Config(vocab_size=T5_VOCAB, d_model=spec.hidden_size, d_kv=64, d_ff=256, num_layers=2, num_heads=2)
    return ClipTextConfig(vocab_size=512 + CLIP_MERGES + 2, hidden_size=spec.hidden_size, intermediate_size=spec.hidden_size,
                          num_attention_heads=spec.hidden_size // 64, hidden_act=spec.hidden_act,
                          projection_dim=spec.projection_dim, output_hidden_states=spec.output_hidden_states,
                          token_embedding_rank=4)


def export_text_encoders(replica: Replica, folder: Path) -> None:
    for spec in replica.text_encoders:
        cfg = text_encoder_config(spec)
        if spec.kind == "t5":
            write_t5_tokenizer(folder / spec.tokenizer, T5_VOCAB, seed_of("t5-tokenizer"))
            module = T5Encoder(cfg)
        else:
            write_clip_tokenizer(folder / spec.tokenizer, CLIP_MERGES, spec.pad_token)
            module = ClipTextEncoder(cfg)
        init_weights(module, seed_of(replica.name, spec.component)).eval()
        ids = torch.ones(1, 77, dtype=torch.int64)
        axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}}
        for name in cfg.output_names:
            axes[name] = {0: "batch_size"} if name in ("pooler_output", "text_embeds") else {0: "batch_size", 1: "sequence_length"}
        path = folder / spec.component / "model.onnx"
        export_onnx(module, {"input_ids": ids}, cfg.output_names, axes, path, "torchscript", OPSET)
        write_json(path.parent / "config.json", cfg.transformers_config())


def export_vae(replica: Replica, folder: Path) -> dict:
    cfg = replica.vae
    encoder = init_weights(Encoder(cfg), seed_of(replica.name, "vae_encoder")).eval()
    decoder = init_weights(Decoder(cfg), seed_of(replica.name, "vae_decoder")).eval()
    parts = (
        ("vae_encoder", encoder, {"sample": torch.zeros(1, 3, 64, 64)}, ("latent_parameters",),
         {"sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
          "latent_parameters": {0: "batch_size", 2: "sample_height / 8", 3: "sample_width / 8"}}),
        ("vae_decoder", decoder, {"latent_sample": torch.zeros(1, cfg.latent_channels, 8, 8)}, ("sample",),
         {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
          "sample": {0: "batch_size", 2: "latent_height * 8", 3: "latent_width * 8"}}),
    )
    for component, module, inputs, outputs, axes in parts:
        path = folder / component / "model.onnx"
        export_onnx(module, inputs, outputs, axes, path, "torchscript", OPSET)
        write_json(path.parent / "config.json", cfg.diffusers_config())
    return {"parameters": parameter_count(encoder) + parameter_count(decoder)}


def default_folder(name: str, fp16: bool) -> Path:
    return REPO / "models" / "replicas" / (f"{name}-fp16" if fp16 else name)


def build(replica: Replica, folder: Path, fp16: bool) -> dict:
    check_against_published(replica)
    started = time.time()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    family = family_of(replica)
    write_json(folder / "model_index.json", model_index(family))
    write_json(folder / "scheduler" / "scheduler_config.json", {**replica.scheduler, "_diffusers_version": DIFFUSERS_VERSION})
    export_text_encoders(replica, folder)
    vae = export_vae(replica, folder)
    denoiser = export_denoiser(replica, folder, fp16)
    record = {
        "replica": replica.name,
        "source": replica.source,
        "denoiser": {"component": family.denoiser_component, **denoiser},
        "vae": vae,
        "imageSize": replica.image_size,
        "latentSize": replica.latent_size,
        "sequenceLength": replica.sequence_length,
        "torch": torch.__version__,
        "buildSeconds": round(time.time() - started, 1),
        "buildPeakRssMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
    }
    # Written last: its presence marks a complete folder.
    write_json(folder / "replica.json", record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(REPLICAS))
    parser.add_argument("--fp16", action="store_true", help="export the denoiser in float16")
    parser.add_argument("--out", type=Path, help="folder to write (default: models/replicas/<model>[-fp16])")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    replica = REPLICAS[args.model]
    record = build(replica, args.out or default_folder(replica.name, args.fp16), args.fp16)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
