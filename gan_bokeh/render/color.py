"""sRGB ↔ linear light (the ``--highlight`` boost lives in :func:`gan_bokeh.render.layers.boosted_linear`)."""

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

