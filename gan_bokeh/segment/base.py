"""The segmenter interface shared by every backend, and image-plane helpers they reuse."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from gan_bokeh.io import resize_image

__all__ = ["Segmenter", "check_image", "resize_hw"]


@runtime_checkable
class Segmenter(Protocol):
    """A person segmenter.

    Attributes:
        name: backend name stored in output metadata (``"deeplab-resnet101"``, ``"selfie"``, ...).
    """

    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Person probability for an image.

        Args:
            image: float32 ``(H, W, 3)`` RGB in [0, 1].

        Returns:
            float32 ``(H, W)`` in [0, 1], 1 = person.
        """
        ...


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate an ``(H, W, 3)`` image and return it as contiguous float32 in [0, 1]."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    return np.ascontiguousarray(np.clip(arr, 0.0, 1.0), dtype=np.float32)


def resize_hw(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize an image or map to ``(h, w)``: area averaging when shrinking, bilinear when enlarging."""
    return resize_image(arr, (h, w), up="linear")
