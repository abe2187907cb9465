"""The paper's baseline (004 §3.2): smooth a copy of the image, paste the subject back through the mask."""

from __future__ import annotations

import numpy as np


def opencv_gaussian_sigma(ksize: int) -> float:
    """σ that OpenCV picks for a Gaussian of size ``ksize`` when σ ≤ 0 (004 eq. 9)."""
    return 0.3 * ((ksize - 1) * 0.5 - 1.0) + 0.8


def gaussian_kernel_1d(ksize: int, sigma: float | None = None) -> np.ndarray:
    """1-D Gaussian taps of 004 eq. 8, α chosen so they sum to 1 (σ from eq. 9 when not given)."""
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"ksize must be odd and positive, got {ksize}")
    s = opencv_gaussian_sigma(ksize) if sigma is None or sigma <= 0 else sigma
    i = np.arange(ksize, dtype=np.float64)
    g = np.exp(-((i - (ksize - 1) / 2) ** 2) / (2 * s * s))
    return (g / g.sum()).astype(np.float32)


def paste_subject(blurred: np.ndarray, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``m·I + (1 − m)·blurred`` (Xu et al. 2018, eq. 4); no mask → the blurred image."""
    if mask is None:
        return blurred.astype(np.float32)
    m = np.asarray(mask, dtype=np.float32)[..., None]
    return (m * image + (1.0 - m) * blurred).astype(np.float32)


def default_ksize(shape: tuple[int, ...]) -> int:
    """Odd Gaussian size that scales with the image: ≈ long side / 32 (25 at 768 px)."""
    k = max(3, int(round(max(shape[:2]) / 32)))
    return k + 1 - k % 2


def render_average(image: np.ndarray, mask: np.ndarray | None = None, *, ksize: int = 5) -> np.ndarray:
    """Box filter ``K_avg`` (ksize × ksize, the paper's 5 × 5), subject pasted back.

    Args:
        image: ``(H, W, 3)`` float [0, 1]; mask: ``(H, W)`` [0, 1] or ``None``.
    """
    import cv2

    blurred = cv2.blur(image, (ksize, ksize), borderType=cv2.BORDER_REFLECT)
    return paste_subject(blurred, image, mask)


def render_gaussian(image: np.ndarray, mask: np.ndarray | None = None, *, ksize: int | None = None,
                    sigma: float | None = None) -> np.ndarray:
    """Gaussian smoothing (004 eq. 8–9: σ from ksize by OpenCV's rule), subject pasted back."""
    import cv2

    k = default_ksize(image.shape) if ksize is None else int(ksize)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"ksize must be odd and positive, got {k}")
    blurred = cv2.GaussianBlur(image, (k, k), sigmaX=0.0 if sigma is None else sigma,
                               borderType=cv2.BORDER_REFLECT)
    return paste_subject(blurred, image, mask)
