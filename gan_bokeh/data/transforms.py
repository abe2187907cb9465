"""Paired image + mask augmentation: resize → random crop → horizontal flip, identical for both.

Pure numpy/OpenCV functions driven by an explicit ``numpy.random.Generator`` so the result depends only
on the generator's seed (exact resume, any number of loader workers).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["resize_pair", "random_crop_pair", "flip_pair", "augment_pair"]


def resize_pair(image: np.ndarray, mask: np.ndarray | None, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize to ``size × size`` (CycleGAN's ``resize_and_crop``: aspect ratio is not kept).

    Area interpolation when shrinking (no aliasing from large photos), bilinear when enlarging.
    """
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, mask
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    img = cv2.resize(image, (size, size), interpolation=interp)
    m = None if mask is None else cv2.resize(mask, (size, size), interpolation=interp)
    return img, m


def random_crop_pair(image: np.ndarray, mask: np.ndarray | None, size: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """The same random ``size × size`` window from image ``(H, W, 3)`` and mask ``(H, W)``."""
    h, w = image.shape[:2]
    if size > h or size > w:
        raise ValueError(f"crop {size} is larger than the image ({w}x{h}); set data.load_size >= data.crop_size")
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    img = image[y:y + size, x:x + size]
    m = None if mask is None else mask[y:y + size, x:x + size]
    return img, m


def flip_pair(image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
              p: float = 0.5) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror both left-right with probability ``p`` (one draw for the pair)."""
    if rng.random() < p:
        return image[:, ::-1], None if mask is None else mask[:, ::-1]
    return image, mask


def augment_pair(image: np.ndarray, mask: np.ndarray | None, *, load_size: int, crop_size: int, flip: bool,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """resize(load_size) → random crop(crop_size) → optional flip; contiguous float32 outputs."""
    img, m = resize_pair(image, mask, load_size)
    img, m = random_crop_pair(img, m, crop_size, rng)
    if flip:
        img, m = flip_pair(img, m, rng)
    img = np.ascontiguousarray(img, dtype=np.float32)
    m = None if m is None else np.ascontiguousarray(np.clip(m, 0.0, 1.0), dtype=np.float32)
    return img, m
