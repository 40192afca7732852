"""Builds models/sd15-mid: SD 1.5's denoiser structure at reduced widths, small enough to commit.

    tools/.venv/bin/python -m tools.replicas.mid [--out DIR]

What it keeps from SD 1.5 (tools/replicas/specs.py SD15_UNET): four resolution levels, three
with cross-attention, two ResNet layers per block, one transformer per attention block, GEGLU
feed-forward, 768-wide cross-attention, the channels per group-norm group (10 and 20), and the
head dims of its first two levels (40 and 80). What it reduces: widths (40, 80, 80, 80) with one
head per level, and a 32x32 latent. That is what the gradient rules see at full size (the same
op patterns, the same attention and normalisation shapes per head), at 6.6M parameters.

The folder holds only what gradient checks need: model_index.json, the scheduler, the denoiser
(Optimum layout: TorchScript, opset 14, weights packed without padding in unet/model.onnx_data, so
the folder stays under 30 MB) and, from torch:
  - unet/vjp_reference.safetensors: inputs, a cotangent, the output and J^T u in float64;
  - unet/torch_saved_for_backward.json: the bytes torch autograd saves for backward in float32
    at the same inputs (parameters frozen, weights not counted), the memory the gradient
    graph's own saved values are held against.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import torch

from tools.fixtures.build import DENOISER_AXES, write_json
from tools.fixtures.reference import reference_vjp, save_reference
from tools.fixtures.specs import DIFFUSERS_VERSION

from .build import OPSET, TRACE_LATENT, build_denoiser, family_of, parameter_count
from .export import export_with_external_data
from .inputs import denoiser_inputs
from .specs import REPLICAS, SD15_UNET, Replica

REPO = Path(__file__).resolve().parents[2]
LATENT = 32

MID = replace(
    REPLICAS["sd15"],
    name="sd15-mid",
    source="SD 1.5's unet/config.json (tools/replicas/specs.py) with block_out_channels (40, 80, 80, 80), "
           "one head per level, norm_num_groups 4, sample_size 32",
    denoiser=replace(SD15_UNET, block_out_channels=(40, 80, 80, 80), attention_heads=1, norm_num_groups=4,
                     sample_size=LATENT),
    latent_size=LATENT,
)


def saved_for_backward_bytes(module: torch.nn.Module, replica: Replica, inputs: dict[str, torch.Tensor]) -> dict:
    """Bytes of the distinct storages autograd saves for backward, weights excluded."""
    family = family_of(replica)
    weights = {p.untyped_storage().data_ptr() for p in module.parameters()}
    weights |= {b.untyped_storage().data_ptr() for b in module.buffers()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in weights:
            storages[s.data_ptr()] = s.nbytes()
        return t

    feeds = {k: v.clone() for k, v in inputs.items()}
    feeds[family.wrt].requires_grad_(True)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(*feeds.values())
    del out
    return {"bytes": sum(storages.values()), "tensors": len(storages)}


def build(folder: Path) -> dict:
    replica = MID
    family = family_of(replica)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_json(folder / "model_index.json", {"_class_name": family.pipeline_class, "_diffusers_version": DIFFUSERS_VERSION,
                                             "scheduler": ["diffusers", replica.scheduler["_class_name"]],
                                             "unet": ["diffusers", "UNet2DConditionModel"]})
    write_json(folder / "scheduler" / "scheduler_config.json", {**replica.scheduler, "_diffusers_version": DIFFUSERS_VERSION})
    module = build_denoiser(replica)
    for p in module.parameters():
        p.requires_grad_(False)
    path = folder / "unet" / "model.onnx"
    export_with_external_data(module, denoiser_inputs(replica, latent=TRACE_LATENT), (family.of,), dict(DENOISER_AXES), path, OPSET,
                              alignment=1)
    write_json(path.parent / "config.json", replica.denoiser.diffusers_config())

    inputs = denoiser_inputs(replica, latent=LATENT)
    save_reference(path.parent / "vjp_reference.safetensors", family, inputs, reference_vjp(module, family, inputs, fp16=False),
                   fp16=False)
    saved = saved_for_backward_bytes(module, replica, inputs)
    record = {"latent": LATENT, "batch": 1, "sequenceLength": replica.sequence_length, "dtype": "float32",
              "torch": torch.__version__, **saved}
    write_json(path.parent / "torch_saved_for_backward.json", record)
    return {"folder": str(folder), "parameters": parameter_count(module), "torchSavedForBackward": record,
            "bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "models" / "sd15-mid")
    args = parser.parse_args(argv)
    print(json.dumps(build(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
