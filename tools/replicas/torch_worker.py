"""Torch side of bench/end-to-end.ts: one image's worth of a worker's model work, in torch.

    tools/.venv/bin/python -m tools.replicas.torch_worker --model sd15 [--size 512]
        [--encodes 1] [--forwards 11] [--vjps 3] [--decodes 2] [--threads 2]

Holds what an inversion worker holds (the replica's denoiser and both VAE halves, rebuilt from
the seeds its ONNX files were made from; parameters frozen) and does, at --size pixels square,
the model work `preciseinv invert` reported for the same image: VAE encodes, denoiser forward
runs without grad, forward plus VJP wrt the latent, VAE decodes. The counts come from the
engine's metrics so both sides do the same evaluations. Prints one JSON line with the process's
peak RSS and the seconds of model work (building the modules excluded).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import torch

from tools.fixtures.layers import init_weights
from tools.fixtures.specs import seed_of

from .build import build_denoiser
from .inputs import cotangent, denoiser_inputs
from .specs import REPLICAS
from .vae import Decoder, Encoder


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, choices=sorted(REPLICAS))
    parser.add_argument("--size", type=int, help="image pixels per side (default: the replica's native size)")
    parser.add_argument("--encodes", type=int, default=1)
    parser.add_argument("--forwards", type=int, default=11)
    parser.add_argument("--vjps", type=int, default=3)
    parser.add_argument("--decodes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    replica = REPLICAS[args.model]
    size = args.size or replica.image_size
    if size % 8:
        raise SystemExit(f"--size must be a multiple of 8 (the VAE's factor), got {size}")

    denoiser = build_denoiser(replica)
    encoder = init_weights(Encoder(replica.vae), seed_of(replica.name, "vae_encoder")).eval()
    decoder = init_weights(Decoder(replica.vae), seed_of(replica.name, "vae_decoder")).eval()
    for module in (denoiser, encoder, decoder):
        for p in module.parameters():
            p.requires_grad_(False)
    inputs = denoiser_inputs(replica, size // 8)
    wrt = next(iter(inputs))
    rest = list(inputs.values())[1:]
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    after_build = peak_rss_mb()

    started = time.perf_counter()
    with torch.no_grad():
        for _ in range(args.encodes):
            encoder(image)
        for _ in range(args.forwards):
            out = denoiser(inputs[wrt], *rest)
    u = cotangent(replica, out.shape)
    for _ in range(args.vjps):
        x = inputs[wrt].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(denoiser(x, *rest), x, u)
        del g
    with torch.no_grad():
        for _ in range(args.decodes):
            decoder(inputs[wrt][:, : replica.vae.latent_channels])
    seconds = time.perf_counter() - started

    print(json.dumps({
        "model": replica.name, "size": size, "threads": args.threads,
        "evaluations": {"encodes": args.encodes, "forwards": args.forwards, "vjps": args.vjps, "decodes": args.decodes},
        "seconds": round(seconds, 2), "peakRssMbAfterBuild": after_build, "peakRssMb": peak_rss_mb(),
        "torch": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
