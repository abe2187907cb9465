"""Mask clean-up and main-subject selection.

* :func:`refine_mask`: morphological open/close, hole filling and speck removal on the thresholded mask
  (the clean-up step of the bucketed-blur recipe, the "Bokeh-licious" recipe), keeping the soft probability along the
  boundary so edges stay anti-aliased.
* :func:`select_main_subject`: keep one person. The paper (Nasrullah 2018, §4.4.2) notes that a segmenter masks
  *every* person, so someone far behind the subject stays sharp; with a depth map the closest person is
  kept, otherwise the largest or the most central one.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MAIN_SUBJECT_MODES", "components", "largest_component", "mask_iou", "refine_mask",
           "select_main_subject"]

MAIN_SUBJECT_MODES = ("largest", "central", "closest")


def _check_mask(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {m.shape}")
    return np.clip(m, 0.0, 1.0)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _auto_radius(shape: tuple[int, int], frac: float = 0.004) -> int:
    """Structuring-element radius that scales with the image (≈0.4 % of the short side, ≥ 1 px)."""
    return max(1, round(min(shape) * frac))


def components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a boolean mask.

    Returns:
        ``(n, labels, stats)`` as :func:`cv2.connectedComponentsWithStats` (label 0 = background).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    return n, labels, stats


def largest_component(binary: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a boolean mask with every hole in it filled.

    Returns:
        float32 ``(H, W)`` in {0, 1} (all zero for an empty mask).
    """
    from scipy.ndimage import binary_fill_holes

    n, labels, stats = components(binary)
    keep = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if n > 1 else np.asarray(binary, bool)
    return binary_fill_holes(keep).astype(np.float32)


def _fill_holes(binary: np.ndarray, max_area: int) -> np.ndarray:
    """Fill background regions not connected to the border and smaller than ``max_area`` pixels."""
    n, labels, stats = components(~binary)
    h, w = binary.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    inner = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h) & (area <= max_area)
    inner[0] = False  # label 0 = the person pixels themselves
    return binary | inner[labels]


def _drop_small(binary: np.ndarray, min_pixels: int) -> np.ndarray:
    n, labels, stats = components(binary)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def refine_mask(mask: np.ndarray, *, threshold: float = 0.5, fill_holes: bool = True,
                max_hole: float = 0.01, open_close: int | None = 0, min_area: float = 0.002,
                feather: float = 0.0, edge_band: int | None = None) -> np.ndarray:
    """Clean a person probability map.

    Steps on ``mask > threshold``: opening then closing with a disk (removes thin spurs, closes cracks),
    filling enclosed holes up to ``max_hole`` of the image, dropping components smaller than ``min_area``
    of the image. The result keeps the input's soft values within ``edge_band`` px of the cleaned
    boundary (so thresholding it at 0.5 gives the cleaned shape), or, with ``feather > 0``, is the cleaned
    shape blurred with a Gaussian of that sigma (px).

    Args:
        mask: float ``(H, W)`` in [0, 1].
        threshold: foreground threshold.
        fill_holes: fill enclosed holes (gaps between an arm and the body touch nothing else but are
            real; ``max_hole`` keeps those open).
        max_hole: largest hole filled, as a fraction of the image area.
        open_close: disk radius in px; ``None`` = automatic (≈0.4 % of the short side); ``0`` = off.
        min_area: smallest component kept, as a fraction of the image area; ``0`` = keep all.
        feather: Gaussian sigma (px) of a feathered edge; ``0`` keeps the model's own soft edge.
        edge_band: width (px) of the soft band kept around the boundary; ``None`` = automatic.

    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    m = _check_mask(mask)
    binary = m > threshold
    radius = _auto_radius(m.shape) if open_close is None else int(open_close)
    if radius > 0:
        k = _disk(radius)
        u8 = binary.astype(np.uint8)
        u8 = cv2.morphologyEx(u8, cv2.MORPH_OPEN, k)
        binary = cv2.morphologyEx(u8, cv2.MORPH_CLOSE, k).astype(bool)
    if fill_holes:
        binary = _fill_holes(binary, int(max_hole * m.size))
    if min_area > 0:
        binary = _drop_small(binary, max(1, int(min_area * m.size)))
    if feather > 0:
        return np.clip(cv2.GaussianBlur(binary.astype(np.float32), (0, 0), float(feather)), 0.0, 1.0)
    band = _auto_radius(m.shape, 0.01) if edge_band is None else int(edge_band)
    near = cv2.dilate(binary.astype(np.uint8), _disk(band)).astype(bool) if band > 0 else binary
    inside = np.where(m > threshold, m, 1.0)                 # filled holes / closed cracks become solid
    outside = np.where(near, np.minimum(m, threshold), 0.0)  # soft fringe kept, far specks removed
    return np.where(binary, inside, outside).astype(np.float32)


def _resize_depth(depth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim == 3:
        d = d[..., 0]
    if d.shape != shape:
        d = cv2.resize(d, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return d


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold of 1-D values (maximises the between-class variance)."""
    hist, edges = np.histogram(values, bins=bins)
    centers = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centers)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    return float(edges[1:][int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def _split_by_depth(keep: np.ndarray, depth: np.ndarray, gap: float, min_fraction: float) -> np.ndarray:
    """Separate touching people at different depths: keep the near part of a component.

    The component's depths are split with Otsu's threshold; when both parts hold at least ``min_fraction``
    of its pixels and their medians differ by at least ``gap``, the largest connected piece of the near
    part is returned, otherwise the component unchanged.
    """
    d = depth[keep]
    if d.size < 16 or float(d.max() - d.min()) < gap:
        return keep
    t = _otsu(d)
    near, far = d[d <= t], d[d > t]
    if min(near.size, far.size) < min_fraction * d.size or float(np.median(far) - np.median(near)) < gap:
        return keep
    n, labels, stats = components(keep & (depth <= t))
    if n < 2:
        return keep
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def select_main_subject(mask: np.ndarray, depth: np.ndarray | None = None, mode: str | None = None, *,
                        threshold: float = 0.5, min_fraction: float = 0.1,
                        depth_gap: float = 0.1) -> np.ndarray:
    """Keep one person of a multi-person mask.

    The mask is split into 8-connected components of ``mask > threshold``; components smaller than
    ``min_fraction`` of the largest are never chosen (a hand or a speck must not win). Then:

    * ``"largest"``: the biggest component;
    * ``"central"``: the best ``sqrt(area) · exp(-r² / 0.08)``, ``r`` = centroid distance from the image
      centre in units of the image diagonal;
    * ``"closest"``: the lowest median depth (library convention 0 = near … 1 = far) — the paper's fix
      (§4.4.2) for people far behind the subject who would otherwise stay sharp.

    With ``"closest"``, people who touch in the mask (one component) are separated by depth when the
    component's depths split into two groups whose medians differ by ``depth_gap`` or more; otherwise
    touching people are kept or dropped together.

    Args:
        mask: float ``(H, W)`` in [0, 1].
        depth: float ``(H, W)`` (any size; resized), 0 = near; required for ``"closest"``.
        mode: one of :data:`MAIN_SUBJECT_MODES`; default ``"closest"`` with depth, else ``"largest"``.
        depth_gap: minimum depth difference (0..1 units) for splitting touching people; 0 = never split.

    Returns:
        float32 ``(H, W)``: the input's soft values on the chosen component (and its soft fringe), 0
        elsewhere. An empty mask is returned unchanged.
    """
    m = _check_mask(mask)
    mode = mode or ("closest" if depth is not None else "largest")
    if mode not in MAIN_SUBJECT_MODES:
        raise ValueError(f"mode must be one of {MAIN_SUBJECT_MODES}, got {mode!r}")
    if mode == "closest" and depth is None:
        raise ValueError("mode 'closest' needs a depth map")
    n, labels, stats = components(m > threshold)
    d = _resize_depth(depth, m.shape) if mode == "closest" else None
    if n <= 1 or (n == 2 and d is None):
        return m
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    ids = np.arange(1, n)
    eligible = areas >= min_fraction * areas.max()
    if mode == "largest":
        score = areas
    elif mode == "central":
        h, w = m.shape
        ys, xs = np.indices(m.shape)
        flat = labels.ravel()
        cy = np.bincount(flat, ys.ravel(), n)[1:] / areas
        cx = np.bincount(flat, xs.ravel(), n)[1:] / areas
        r2 = ((cy - h / 2) ** 2 + (cx - w / 2) ** 2) / float(h * h + w * w)
        score = np.sqrt(areas) * np.exp(-r2 / 0.08)
    else:
        score = np.array([-np.median(d[labels == i]) for i in ids])
    score = np.where(eligible, score, -np.inf)
    keep = labels == ids[int(np.argmax(score))]
    if d is not None and depth_gap > 0:
        keep = _split_by_depth(keep, d, depth_gap, min_fraction)
    fringe = cv2.dilate(keep.astype(np.uint8), _disk(_auto_radius(m.shape, 0.01))).astype(bool)
    others = (labels > 0) & ~keep
    return np.where(fringe & ~others, m, 0.0).astype(np.float32)


def mask_iou(pred: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of ``pred > threshold`` and ``target > threshold`` (1.0 when both empty)."""
    a = np.asarray(pred) > threshold
    b = np.asarray(target) > threshold
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
