"""Depth layers (Rendering Portraitures from Monocular Camera and Beyond (Xu et al., ECCV 2018), eq. 7–9):
K-means clusters of depth, smoothed by a graph-cut CRF."""

from __future__ import annotations

import numpy as np


def kmeans_1d(values: np.ndarray, k: int, *, fixed: float | None = None, iters: int = 30,
              bins: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's K-means on scalar values in [0, 1], run on a histogram (fast for any image size).

    Args:
        values: any shape, in [0, 1].
        k: number of clusters (including the fixed one).
        fixed: a centre that never moves (the focal plane, so in-focus pixels form their own layer).

    Returns:
        ``(centres, sigmas)`` sorted by centre, empty clusters dropped; σ has a floor of 1/(2·bins).
    """
    hist, edges = np.histogram(np.clip(values, 0, 1), bins=bins, range=(0.0, 1.0))
    x = (edges[:-1] + edges[1:]) / 2
    w = hist.astype(np.float64)
    occupied = x[w > 0]
    qs = np.quantile(np.repeat(x, hist), (np.arange(k) + 0.5) / k) if occupied.size else np.linspace(0, 1, k)
    centres = np.asarray(qs, dtype=np.float64)
    if fixed is not None:
        centres[np.argmin(np.abs(centres - fixed))] = fixed
    for _ in range(iters):
        assign = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
        new = centres.copy()
        for j in range(len(centres)):
            sel = (assign == j) & (w > 0)
            if sel.any() and not (fixed is not None and centres[j] == fixed):
                new[j] = np.average(x[sel], weights=w[sel])
        if np.allclose(new, centres):
            break
        centres = new
    assign = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
    keep, sigmas = [], []
    for j in range(len(centres)):
        sel = (assign == j) & (w > 0)
        is_fixed = fixed is not None and centres[j] == fixed
        if not sel.any() and not is_fixed:
            continue
        var = np.average((x[sel] - centres[j]) ** 2, weights=w[sel]) if sel.any() else 0.0
        keep.append(centres[j])
        sigmas.append(max(float(np.sqrt(var)), 1.0 / (2 * bins)))
    order = np.argsort(keep)
    return np.asarray(keep)[order], np.asarray(sigmas)[order]


def unary_costs(depth: np.ndarray, centres: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of each pixel under each cluster's Gaussian (eq. 8), ``(K, H, W)``."""
    s = np.maximum(sigmas, 0.02)[:, None, None]  # floor: a very tight cluster must not win everything
    return ((depth[None] - centres[:, None, None]) ** 2 / (2 * s * s) + np.log(s)).astype(np.float64)


def edge_weights(depth: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise weights λ·exp(−‖Sobel(z)‖/ḡ) for right and down neighbours (eq. 9).

    ḡ is the mean gradient magnitude (like GrabCut's β): the weight drops across depth edges whatever
    the depth map's scale.
    """
    import cv2

    z = depth.astype(np.float32)
    gx = cv2.Sobel(z, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(z, cv2.CV_32F, 0, 1, ksize=3)
    g = np.hypot(gx, gy)
    mean = float(g.mean()) or 1.0
    w = lam * np.exp(-g / mean)
    wr = w.copy()
    wd = w.copy()
    wr[:, -1] = 0.0
    wd[-1, :] = 0.0
    return wr.astype(np.float64), wd.astype(np.float64)


def alpha_expansion(unary: np.ndarray, w_right: np.ndarray, w_down: np.ndarray, *, cycles: int = 1,
                    init: np.ndarray | None = None) -> np.ndarray:
    """Minimise Σ u(l_i) + Σ w_ij·[l_i ≠ l_j] (Potts, 4-neighbours) by α-expansion with pymaxflow.

    Each move is one binary graph cut (x = 1: take label α). A pair's move energy E(x_i, x_j) with
    E00 = w[l_i≠l_j], E01 = w[l_i≠α], E10 = w[α≠l_j], E11 = 0 is split into unaries and one directed edge
    i → j of capacity E01 + E10 − E00 − E11 ≥ 0 (Kolmogorov–Zabih).

    Returns:
        ``(H, W)`` int32 labels.
    """
    import maxflow

    k, h, w = unary.shape
    labels = np.argmin(unary, axis=0).astype(np.int32) if init is None else init.astype(np.int32).copy()
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    right = np.zeros((3, 3))
    right[1, 2] = 1
    down = np.zeros((3, 3))
    down[2, 1] = 1
    for _ in range(cycles):
        for alpha in range(k):
            cost1 = unary[alpha] - unary[labels, rows, cols]
            edge_caps = []
            for wts, axis in ((w_right, 1), (w_down, 0)):
                lj = np.roll(labels, -1, axis=axis)
                e00 = wts * (labels != lj)
                e01 = wts * (labels != alpha)
                e10 = wts * (lj != alpha)
                cost1 = cost1 + (e10 - e00)
                # x_j's share (E11 − E10 = −E10) lands on the neighbour j = i + 1
                shift = np.zeros_like(e10)
                if axis == 1:
                    shift[:, 1:] = -e10[:, :-1]
                else:
                    shift[1:, :] = -e10[:-1, :]
                cost1 = cost1 + shift
                edge_caps.append(np.maximum(e01 + e10 - e00, 0.0))
            g = maxflow.Graph[float]()
            nodes = g.add_grid_nodes((h, w))
            g.add_grid_edges(nodes, weights=edge_caps[0], structure=right, symmetric=False)
            g.add_grid_edges(nodes, weights=edge_caps[1], structure=down, symmetric=False)
            g.add_grid_tedges(nodes, np.maximum(cost1, 0.0), np.maximum(-cost1, 0.0))
            g.maxflow()
            take = g.get_grid_segments(nodes)
            labels[take] = alpha
    return labels


def potts_energy(labels: np.ndarray, unary: np.ndarray, w_right: np.ndarray, w_down: np.ndarray) -> float:
    """Energy of a labelling (for tests and diagnostics)."""
    h, w = labels.shape
    u = unary[labels, np.arange(h)[:, None], np.arange(w)[None, :]].sum()
    pr = (w_right[:, :-1] * (labels[:, :-1] != labels[:, 1:])).sum()
    pd = (w_down[:-1, :] * (labels[:-1, :] != labels[1:, :])).sum()
    return float(u + pr + pd)


def depth_layers(depth: np.ndarray, *, k: int = 6, focus: float | None = None, lam: float = 10.0,
                 crf: bool = True, forced: np.ndarray | None = None, cycles: int = 1
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Label each pixel with a depth layer: K-means centres (focus kept as a centre) + CRF.

    Args:
        depth: ``(H, W)`` 0 near … 1 far (a reduced-resolution copy: the CRF is the costly part).
        k: number of layers (Xu et al. 2018: K = 6).
        focus: focal depth, kept as a fixed centre.
        lam: λ of eq. 7 (Xu et al. 2018: 10).
        crf: False → nearest-centre labels (no smoothing).
        forced: ``(H, W)`` bool; these pixels (the subject) take the focus layer.

    Returns:
        ``(labels (H, W) int32, centres (K',))`` with centres sorted near → far.
    """
    centres, sigmas = kmeans_1d(depth, k, fixed=focus)
    unary = unary_costs(depth, centres, sigmas)
    if forced is not None and focus is not None and forced.any():
        f = int(np.argmin(np.abs(centres - focus)))
        big = unary.max() + 1e3
        for j in range(len(centres)):
            if j != f:
                unary[j][forced] = big
    if not crf or len(centres) == 1:
        return np.argmin(unary, axis=0).astype(np.int32), centres
    wr, wd = edge_weights(depth, lam)
    return alpha_expansion(unary, wr, wd, cycles=cycles), centres
