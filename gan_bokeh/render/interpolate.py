"""Seed 002: interpolation mask from inverse-depth percentiles over a "watercolour" background."""

from __future__ import annotations

import numpy as np


def watercolour_background(image: np.ndarray, size: int | None = None) -> np.ndarray:
    """Morphological opening with an ellipse, then min–max stretch to [40/255, 1] (brightens darks).

    Args:
        image: ``(H, W, 3)`` float [0, 1].
        size: ellipse diameter in pixels (default: 24 px per 1000 px of the long side, ≥ 3).
    """
    import cv2

    d = size or max(3, int(round(24 * max(image.shape[:2]) / 1000)))
    h, w = image.shape[:2]
    # morphology cost grows with d²: open a reduced copy when the ellipse is large (the result is smooth)
    s = max(1.0, d / 24)
    small = image if s == 1 else cv2.resize(image, (max(1, round(w / s)), max(1, round(h / s))),
                                            interpolation=cv2.INTER_AREA)
    ds = max(3, int(round(d / s)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ds, ds))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    if s != 1:
        opened = cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(opened.min()), float(opened.max())
    if hi - lo < 1e-6:
        return opened
    return (40 / 255 + (opened - lo) * ((1 - 40 / 255) / (hi - lo))).astype(np.float32)


def interpolation_mask(depth: np.ndarray, mask: np.ndarray | None, *, percentile: float = 50.0) -> np.ndarray:
    """Seed 002's mask: 1 in front of the subject's median inverse depth, 0 behind the background's.

    With ``near = 1 − depth`` (normalised inverse depth, 1 = nearest): start = percentile of ``near`` over
    the subject, stop = min(start, percentile over the background); the value ``mask + near`` ramps
    linearly from 0 at stop to 1 at start (the mask is added so the subject wins where depth and mask
    disagree). Without a mask the nearest 20 % of pixels play the subject.
    """
    near = 1.0 - np.clip(depth, 0, 1).astype(np.float32)
    fg = (mask > 0.5) if mask is not None else near >= np.percentile(near, 80)
    if not fg.any() or fg.all():
        fg = near >= np.percentile(near, 80)
    start = float(np.percentile(near[fg], percentile))
    bg = ~fg
    stop = min(start, float(np.percentile(near[bg], percentile))) if bg.any() else start
    value = near + (mask if mask is not None else 0.0)
    width = start - stop
    if width <= 1e-6:
        return (value > start).astype(np.float32)
    return np.clip((value - stop) / width, 0.0, 1.0).astype(np.float32)


def render_interpolate(image: np.ndarray, depth: np.ndarray, mask: np.ndarray | None = None, *,
                       percentile: float = 50.0, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Composite ``I·w + watercolour·(1 − w)``; returns (image, interpolation mask w)."""
    w = interpolation_mask(depth, mask, percentile=percentile)
    bg = watercolour_background(image, size)
    out = image * w[..., None] + bg * (1.0 - w[..., None])
    return out.astype(np.float32), w
