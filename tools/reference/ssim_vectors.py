"""Test vectors for shared/inversion/metrics: SSIM and PSNR from scikit-image on small images.

Crops of scikit-image's sample photographs and seeded random images, each paired with a noisy,
blurred or shifted variant, saved as PNG (8-bit, data range 255) or raw little-endian float32
(values in [0, 1], data range 1). Expected values come from
structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=R, channel_axis=-1 for RGB) and peak_signal_noise_ratio(data_range=R), computed in
float64.

    tools/.venv/bin/python tools/reference/ssim_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import skimage
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

OUT = Path(__file__).resolve().parents[2] / "shared/inversion/metrics/testdata"


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    spatial = (sigma, sigma, 0) if img.ndim == 3 else sigma
    return gaussian_filter(img.astype(np.float64), spatial, mode="nearest")


def main() -> None:
    rng = np.random.default_rng(20250101)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()

    crops = {
        "astronaut-32": data.astronaut()[100:132, 200:232],
        "chelsea-48x40": data.chelsea()[120:168, 200:240],
        "coffee-40x48": data.coffee()[150:190, 300:348],
        "camera-32": data.camera()[200:232, 220:252],
        "rocket-11x13": data.rocket()[200:211, 300:313],
        "random-32": rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8),
    }
    cases = []

    def add(name: str, a: np.ndarray, b: np.ndarray, data_range: float, fmt: str) -> None:
        files = []
        for tag, img in (("a", a), ("b", b)):
            if fmt == "png":
                file = f"{name}.{tag}.png"
                Image.fromarray(img).save(OUT / file, optimize=True)
            else:
                file = f"{name}.{tag}.f32"
                (OUT / file).write_bytes(img.astype("<f4").tobytes())
            files.append(file)
        # Stored values are what both sides compute on: reload the float32 copies as float64.
        a64 = a.astype(np.float32).astype(np.float64)
        b64 = b.astype(np.float32).astype(np.float64)
        channel_axis = -1 if a.ndim == 3 else None
        ssim = structural_similarity(
            a64, b64, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=channel_axis
        )
        identical = np.array_equal(a64, b64)
        psnr = None if identical else float(peak_signal_noise_ratio(a64, b64, data_range=data_range))
        cases.append({
            "name": name,
            "a": files[0],
            "b": files[1],
            "height": a.shape[0],
            "width": a.shape[1],
            "channels": a.shape[2] if a.ndim == 3 else 1,
            "dataRange": data_range,
            "ssim": float(ssim),
            "psnr": psnr,
        })

    for crop_name, img in crops.items():
        noise = to_u8(img.astype(np.float64) + rng.normal(0, 12, img.shape))
        add(f"{crop_name}-noise", img, noise, 255, "png")
        add(f"{crop_name}-blur", img, to_u8(blur(img, 1.0)), 255, "png")
    astro = crops["astronaut-32"]
    add("astronaut-32-same", astro, astro, 255, "png")
    add("astronaut-32-shift", astro, np.roll(astro, 2, axis=1), 255, "png")
    add("astronaut-32-dark", astro, to_u8(astro * 0.6), 255, "png")

    unit = rng.random((40, 48, 3)).astype(np.float32)
    add("random-unit-40x48-noise", unit, np.clip(unit + rng.normal(0, 0.05, unit.shape), 0, 1).astype(np.float32), 1.0, "f32")
    smooth = (blur(crops["coffee-40x48"], 0.5) / 255).astype(np.float32)
    add("coffee-unit-40x48-blur", smooth, (blur(smooth, 1.5)).astype(np.float32), 1.0, "f32")

    doc = {"source": f"scikit-image {skimage.__version__}", "cases": cases}
    (OUT / "expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
