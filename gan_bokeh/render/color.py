"""sRGB ↔ linear light and the highlight boost that turns bright points into bokeh discs."""

from __future__ import annotations

import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding, float [0, 1] → linear [0, 1] (float32)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_to_linear`; values above 1 (boosted highlights) clip to white."""
    y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
    return np.where(y <= 0.0031308, y * 12.92, 1.055 * y ** (1 / 2.4) - 0.055).astype(np.float32)


def highlight_boost(linear: np.ndarray, srgb: np.ndarray, gain: float, threshold: float = 0.8) -> np.ndarray:
    """Brighten near-clipped pixels so blurring spreads them into bright discs.

    A sensor clips highlights at 1, losing the energy a real lens spreads into a bokeh disc; scaling
    pixels whose brightest sRGB channel exceeds ``threshold`` by up to ``1 + gain`` (smooth ramp)
    restores some of it. ``gain = 0`` is the identity.

    Args:
        linear: ``(H, W, 3)`` linear-light image.
        srgb: the same image in sRGB (the threshold is read there).
        gain: extra brightness of fully clipped pixels.
        threshold: sRGB level where the boost starts.
    """
    if gain <= 0:
        return linear
    peak = srgb.max(axis=2)
    t = np.clip((peak - threshold) / max(1.0 - threshold, 1e-6), 0.0, 1.0)
    scale = 1.0 + gain * (t * t * (3.0 - 2.0 * t))
    return (linear * scale[..., None]).astype(np.float32)
