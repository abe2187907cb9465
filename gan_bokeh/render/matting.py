"""Subject matte at the mask boundary (Rendering Portraitures from Monocular Camera and Beyond (Xu et al.,
ECCV 2018), §4: a 10-pixel unknown band around the segmentation)."""

from __future__ import annotations

import numpy as np


def trimap_from_mask(mask: np.ndarray, band: int) -> np.ndarray:
    """0 = background, 1 = foreground, 0.5 = unknown within ``band`` pixels of the mask boundary."""
    import cv2

    hard = (mask > 0.5).astype(np.uint8)
    size = 2 * max(int(band), 1) + 1
    ell = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    fg = cv2.erode(hard, ell)
    maybe = cv2.dilate(hard, ell)
    tri = np.full(mask.shape, 0.5, np.float64)
    tri[fg > 0] = 1.0
    tri[maybe == 0] = 0.0
    return tri


def refine_matte(image: np.ndarray, mask: np.ndarray, *, band: int = 10, max_pixels: int = 1_000_000
                 ) -> np.ndarray:
    """Closed-form matting (Levin et al., via pymatting) in a ``band``-pixel unknown zone of the mask.

    Only the bounding box of the band is solved, at most ``max_pixels`` large (downscaled if needed,
    alpha upsampled); outside the band the hard mask is kept.

    Args:
        image: ``(H, W, 3)`` float [0, 1]; mask: ``(H, W)`` [0, 1].

    Returns:
        ``(H, W)`` float32 alpha in [0, 1].
    """
    import cv2
    from pymatting import estimate_alpha_cf

    hard = (mask > 0.5).astype(np.float32)
    tri_full = trimap_from_mask(mask, band)
    unknown = tri_full == 0.5
    if not unknown.any() or hard.min() == hard.max():
        return hard
    ys, xs = np.nonzero(unknown)
    pad = 2 * band + 2
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1])
    crop = image[y0:y1, x0:x1]
    h, w = crop.shape[:2]
    s = min(1.0, (max_pixels / (h * w)) ** 0.5)
    size = (max(8, round(w * s)), max(8, round(h * s)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if s < 1 else crop
    msmall = cv2.resize(hard[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA) if s < 1 else hard[y0:y1, x0:x1]
    b = max(2, round(band * s))
    tri = trimap_from_mask(msmall, b)
    while b > 1 and not ((tri == 1).any() and (tri == 0).any()):  # thin subject: narrow the band
        b //= 2
        tri = trimap_from_mask(msmall, b)
    if not ((tri == 1).any() and (tri == 0).any()):
        return hard
    alpha = estimate_alpha_cf(small.astype(np.float64), tri).astype(np.float32)
    if s < 1:
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    out = hard.copy()
    region = unknown[y0:y1, x0:x1]
    out[y0:y1, x0:x1][region] = np.clip(alpha[region], 0.0, 1.0)
    return out
