"""Loader-side (CPU) image preparation: decode at reduced size, then resize to ``load_size²``.

This part is deterministic (so its result can be cached, see :mod:`gan_bokeh.data.cache`); the random part
of the augmentation — crop, flip, colour jitter — runs batched on the training device
(:mod:`gan_bokeh.data.augment`).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from gan_bokeh.errors import BadImageError
from gan_bokeh.io import alpha_is_mask, open_image, pil_to_rgb_alpha, read_mask, to_uint8

__all__ = ["resize_square", "center_square", "load_resized"]


def resize_square(arr: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(H, W)`` or ``(H, W, C)`` to ``size × size`` (CycleGAN's ``resize_and_crop``: the aspect
    ratio is not kept).

    Area interpolation when shrinking (no aliasing from large photos), bilinear when enlarging.
    """
    h, w = arr.shape[:2]
    if (h, w) == (size, size):
        return arr
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(arr, (size, size), interpolation=interp)


def center_square(arr: np.ndarray) -> np.ndarray:
    """The central ``s × s`` square of ``(H, W[, C])``, ``s = min(H, W)`` (a view, no copy)."""
    h, w = arr.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return arr[y:y + s, x:x + s]


def load_resized(path: str | os.PathLike[str], size: int, *, mask_path: str | os.PathLike[str] | None = None,
                 need_mask: bool = False, mask_if_any: bool = False,
                 squash: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode an image (and its mask) straight to ``size × size``.

    ``squash`` resizes the whole photo (aspect ratio lost: ``data.preprocess cyclegan``); otherwise the
    central square is cut first, so proportions are kept (``keep_aspect``, ``paper``).

    JPEGs are decoded in draft mode at the smallest DCT scale (1/2, 1/4, 1/8) that is still at least
    ``size`` on both sides, so a 12 MP photo costs about a tenth of a full decode; other formats are
    decoded fully. EXIF orientation is applied (by :func:`gan_bokeh.io.open_image`).

    Args:
        path: the image.
        size: output side (``data.load_size``).
        mask_path: a mask file (sidecar or ``data.mask_dir``); it wins over the image's alpha channel.
        need_mask: return a mask (from ``mask_path``, else the alpha channel unless fully opaque: the one
            rule of :mod:`gan_bokeh.io.masks`).
        mask_if_any: return the mask when there is one, ``None`` (no error) when there is none: the depth
            fallback's guess, from the same decode as the photo.

    Returns:
        ``(rgb, mask)``: uint8 ``(size, size, 3)`` and uint8 ``(size, size)`` (``None`` unless ``need_mask``).

    Raises:
        BadImageError: unreadable image or mask, or a mask is needed and the image has no alpha channel
            (or a fully opaque one).
    """
    rgb, alpha = pil_to_rgb_alpha(open_image(path, draft=(size, size)))
    mask = None
    if need_mask or mask_if_any:
        mask = read_mask(mask_path) if mask_path is not None else alpha
        if mask is None:
            if need_mask:
                raise BadImageError(path, "its alpha channel (the mask) is missing")
        elif mask_path is None and not alpha_is_mask(alpha):  # the one mask rule: opaque alpha = no mask
            if need_mask:
                raise BadImageError(path, "its alpha channel is fully opaque, so it has no subject mask; "
                                          "add a <stem>.mask.png sidecar")
            mask = None
        if mask is not None:
            mask = to_uint8(resize_square(mask if squash else center_square(mask), size))
    # uint8 out: 4x less memory, cache disk and host-to-device traffic than float32
    return to_uint8(resize_square(rgb if squash else center_square(rgb), size)), mask
