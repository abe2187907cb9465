"""Seed 000: depth buckets, each blurred progressively more, stacked; subject superimposed."""

from __future__ import annotations

import numpy as np

from gan_bokeh.render.smoothing import paste_subject


def _gaussian(image: np.ndarray, k: int, max_k: int = 31) -> np.ndarray:
    """OpenCV Gaussian of size k; above ``max_k`` the same σ is applied to a reduced copy (k/s at 1/s
    resolution, then upsampled) — identical up to interpolation, and the cost stops growing with k²."""
    import cv2

    if k <= 1:
        return image
    if k <= max_k:
        return cv2.GaussianBlur(image, (k, k), 0, borderType=cv2.BORDER_REFLECT)
    from gan_bokeh.render.smoothing import opencv_gaussian_sigma

    h, w = image.shape[:2]
    s = k / max_k
    small = cv2.resize(image, (max(1, round(w / s)), max(1, round(h / s))), interpolation=cv2.INTER_AREA)
    sigma = opencv_gaussian_sigma(k) / s
    blurred = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR)


def render_buckets(image: np.ndarray, depth: np.ndarray, mask: np.ndarray | None = None, *,
                   n_buckets: int = 5, max_ksize: int | None = None) -> np.ndarray:
    """Split depth into ``n_buckets`` equal ranges (0–0.2, 0.2–0.4, …); bucket i gets a Gaussian blur
    growing linearly with i (bucket 0, the nearest, stays sharp); stack; paste the subject.

    Args:
        image: ``(H, W, 3)`` float [0, 1]; depth: ``(H, W)`` 0 near … 1 far; mask: ``(H, W)`` or None.
        n_buckets: number of depth ranges.
        max_ksize: Gaussian size of the farthest bucket (odd; default ≈ long side / 24).
    """
    if n_buckets < 1:
        raise ValueError("n_buckets must be >= 1")
    kmax = max_ksize or max(3, int(round(max(image.shape[:2]) / 24)))
    idx = np.minimum((np.clip(depth, 0, 1) * n_buckets).astype(np.int32), n_buckets - 1)
    out = np.empty_like(image)
    for i in range(n_buckets):
        sel = idx == i
        if not sel.any():
            continue
        k = int(round(kmax * i / max(n_buckets - 1, 1)))
        k = k + 1 - k % 2
        out[sel] = _gaussian(image, k)[sel]
    return paste_subject(out, image, mask)
