"""Writes three of the tiny model's training photographs as PNGs for the inversion-quality bench.

    tools/.venv/bin/python -m tools.tiny_model.export_samples [--out bench/data/tiny-train]

The bench compares inversion on images the model was trained on with the held-out ones in
models/tiny/holdout/, so these come from COLOR_TRAIN (colour, like the held-out photographs).
Each is scaled with anti-aliasing so its short side is 128 px: the pipeline brings every image
to the model's 64 px short side anyway, and full-size copies would only make the repository
heavier. Deterministic: the same scikit-image version writes the same files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from skimage.io import imsave
from skimage.transform import resize

from .data import COLOR_TRAIN, load_image

REPO = Path(__file__).resolve().parents[2]
SAMPLES = ("astronaut", "motorcycle_left", "immunohistochemistry")
SHORT_SIDE = 128


def downscale(img: np.ndarray, short_side: int) -> np.ndarray:
    """uint8 HWC -> uint8 HWC with the short side `short_side`, aspect ratio kept."""
    h, w = img.shape[:2]
    s = short_side / min(h, w)
    if s >= 1:
        return img
    size = (max(short_side, round(h * s)), max(short_side, round(w * s)))
    x = resize(img.astype(np.float64) / 255.0, size, anti_aliasing=True)
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "tiny-train")
    args = p.parse_args()
    # A sample outside the training list would silently turn the "train" row into a second holdout.
    assert all(n in COLOR_TRAIN for n in SAMPLES), SAMPLES
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        img = downscale(load_image(name), SHORT_SIDE)
        path = args.out / f"{name}.png"
        imsave(path, img, check_contrast=False)
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {img.shape[1]}x{img.shape[0]}")


if __name__ == "__main__":
    main()
