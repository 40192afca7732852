"""Training and held-out images from scikit-image's bundled samples, as multi-scale crop sources.

Only images that ship inside the scikit-image wheel are used (no downloads). Grayscale
photographs are repeated to three channels. Each image is kept at several scales (full size,
then halved with anti-aliasing while the short side stays >= 48 px), so crops cover both fine
texture and whole-object structure, as in an image resized down to the model's 64 px input.
"""
from __future__ import annotations

import warnings

import numpy as np
import skimage.data
from skimage.transform import rescale

# Color photographs (RGB).
COLOR_TRAIN = ("astronaut", "motorcycle_left", "motorcycle_right", "retina", "immunohistochemistry", "hubble_deep_field")
# Grayscale photographs and scans, repeated to RGB.
GRAY_TRAIN = ("camera", "moon", "brick", "grass", "gravel", "coins", "clock", "cell", "page", "text", "microaneurysms")
# Never seen in training. skimage.data.cat is the same photograph as chelsea, so it is excluded too.
HOLDOUT = ("chelsea", "coffee", "rocket")
EXCLUDED_ALIASES = {"cat": "chelsea"}
# Share of crops drawn from color images (the rest from grayscale ones).
COLOR_SHARE = 0.7
MIN_SIDE = 48


def load_image(name: str) -> np.ndarray:
    """uint8 [H, W, 3]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in ("motorcycle_left", "motorcycle_right"):
            left, right, _ = skimage.data.stereo_motorcycle()
            img = left if name == "motorcycle_left" else right
        else:
            img = getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    assert img.dtype == np.uint8, (name, img.dtype)
    return img


def to_model_range(img: np.ndarray) -> np.ndarray:
    """uint8 HWC -> float32 CHW in [-1, 1] (the pipeline's pixel convention)."""
    return (img.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1).copy()


def pyramid(img: np.ndarray, min_side: int = MIN_SIDE) -> list[np.ndarray]:
    """float32 CHW levels in [-1, 1]: full size, then halved while the short side stays >= min_side."""
    x = img.astype(np.float32) / 255.0
    levels = []
    while min(x.shape[:2]) >= min_side:
        levels.append((x * 2.0 - 1.0).transpose(2, 0, 1).copy())
        x = rescale(x, 0.5, anti_aliasing=True, channel_axis=2).astype(np.float32)
    return levels


class CropSampler:
    """Random square crops with horizontal flips from a set of image pyramids.

    An image is picked (color vs gray by COLOR_SHARE, then uniformly), then a pyramid level
    uniformly, then a position uniformly.
    """

    def __init__(self, names_color: tuple[str, ...], names_gray: tuple[str, ...], seed: int, color_share: float = COLOR_SHARE):
        self.color = [pyramid(load_image(n)) for n in names_color]
        self.gray = [pyramid(load_image(n)) for n in names_gray]
        self.color_share = color_share if self.gray else 1.0
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def crop(self, size: int) -> np.ndarray:
        r = self.rng
        group = self.color if (r.random() < self.color_share) else self.gray
        levels = group[r.integers(len(group))]
        usable = [lv for lv in levels if min(lv.shape[1:]) >= size]
        lv = usable[r.integers(len(usable))]
        y = r.integers(lv.shape[1] - size + 1)
        x = r.integers(lv.shape[2] - size + 1)
        c = lv[:, y:y + size, x:x + size]
        if r.random() < 0.5:
            c = c[:, :, ::-1]
        return c

    def batch(self, n: int, size: int) -> np.ndarray:
        return np.stack([self.crop(size) for _ in range(n)]).astype(np.float32)


def training_sampler(seed: int) -> CropSampler:
    return CropSampler(COLOR_TRAIN, GRAY_TRAIN, seed)


def holdout_sampler(seed: int) -> CropSampler:
    return CropSampler(HOLDOUT, (), seed)


def center_square(img: np.ndarray, size: int) -> np.ndarray:
    """The whole image scaled so its short side is `size`, center-cropped to size x size (float32 CHW, [-1, 1])."""
    from skimage.transform import resize

    h, w = img.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    x = resize(img.astype(np.float32) / 255.0, (nh, nw), anti_aliasing=True).astype(np.float32)
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return (x[y0:y0 + size, x0:x0 + size] * 2.0 - 1.0).transpose(2, 0, 1).copy()
