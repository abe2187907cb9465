"""Fitting renderer settings against real optics without scoring on the fitted photos.

Real pairs: an all-in-focus photo (f/16), its depth, its in-focus mask and the same scene shot at f/1.8.
:func:`score_grid` renders every pair with every candidate setting once and scores it (gain-fitted PSNR
and SSIM); :func:`leave_one_out` then picks, for each held-out pair, the setting with the best mean score
on the *other* pairs and reports the held-out pair's score under it. Nothing is ever scored on a photo
that chose its setting.

The reference baseline is a naive depth blur (:func:`naive_bucket_blur`): six equal depth buckets, each
blurred with a Gaussian of σ proportional to the bucket's mean |depth − focus|, subject pasted back,
best of three strengths. Its strength is reported three ways: chosen leave-one-out like ``layers`` (the
like-for-like comparison), chosen on the mean of the scored pairs themselves (tuned on what is scored:
an advantage to the baseline) and per pair (an oracle).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Strengths of :func:`naive_bucket_blur` (σ per unit mean |depth − focus|, as a fraction of the long side).
NAIVE_STRENGTHS = (0.0025, 0.005, 0.01)
#: ``layers`` strengths fitted by the test suite: the standard third-stop f-number series from f/1 to f/4
#: (``aperture`` scales the blur radius as 1/N). Fixed before scoring: a grid picked because it scores
#: better held out would be tuning on what is scored.
LAYERS_STRENGTHS = (1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 3.5, 4.0)


@dataclass
class Pair:
    """One real aperture pair at working resolution (all float32)."""

    name: str
    image: np.ndarray   # (H, W, 3) sRGB [0, 1], f/16
    target: np.ndarray  # (H, W, 3) sRGB [0, 1], f/1.8
    depth: np.ndarray   # (h, w) 0 near … 1 far
    mask: np.ndarray    # (H, W) {0, 1} in-focus region
    _matte: np.ndarray | None = None

    def matte(self) -> np.ndarray:
        """The mask refined by closed-form matting (what ``matting=True`` computes), computed once."""
        if self._matte is None:
            from gan_bokeh.render.matting import refine_matte

            self._matte = refine_matte(self.image, self.mask)
        return self._matte


def _small(img: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    return cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def load_vabm_pairs(root: str | Path, width: int = 768, target: str = "1_8") -> list[Pair]:
    """The EBB! and VABD pairs of ``root/vabm`` (``shared/data``), resized to ``width``.

    Args:
        root: the shared data folder (holding ``vabm/EBB/train`` and ``vabm/VABD/train``).
        width: working width in pixels.
        target: VABD's real aperture folder (``1_8`` or ``2_8``); EBB! has only f/1.8 (used for ``1_8``).
    """
    from gan_bokeh.depth import load_depth
    from gan_bokeh.io import read_image, read_mask

    ebb, vabd = Path(root) / "vabm" / "EBB" / "train", Path(root) / "vabm" / "VABD" / "train"
    cases = []
    if target == "1_8":
        cases += [(f"EBB {p.stem}", p, ebb / "target" / p.name, ebb / "depth" / f"{p.stem}.png",
                   ebb / "focal" / p.name) for p in sorted((ebb / "input").glob("*.jpg"))]
    cases += [(f"VABD {p.stem}", p, vabd / target / p.name, vabd / "depth" / f"{p.stem}.png",
               vabd / "focal" / f"{p.stem}.png") for p in sorted((vabd / "input").glob("*.JPG"))]
    return [Pair(name, _small(read_image(i), width), _small(read_image(t), width),
                 load_depth(d, colormap="Spectral"), (_small(read_mask(f), width) > 0.5).astype(np.float32))
            for name, i, t, d, f in cases]


def scores(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(PSNR, SSIM)`` after a least-squares per-channel gain fit (real pairs differ in exposure)."""
    from gan_bokeh.evaluate import fit_gain, psnr, ssim

    fitted = fit_gain(pred, target)
    return psnr(fitted, target), ssim(fitted, target)


def naive_bucket_blur(image: np.ndarray, depth: np.ndarray, mask: np.ndarray | None, focus: float,
                      strength: float, n_buckets: int = 6) -> np.ndarray:
    """Six equal depth buckets, each Gaussian-blurred with σ = strength · long side · mean |depth − focus|
    of the bucket (in sRGB), stacked; the subject pasted back through ``mask``."""
    import cv2

    from gan_bokeh.depth import resize_depth
    from gan_bokeh.render.smoothing import paste_subject

    d = resize_depth(depth, image.shape[:2])
    idx = np.minimum((np.clip(d, 0, 1) * n_buckets).astype(np.int32), n_buckets - 1)
    out = image.copy()
    long_side = max(image.shape[:2])
    for i in range(n_buckets):
        sel = idx == i
        if not sel.any():
            continue
        sigma = strength * long_side * float(np.abs(d[sel] - focus).mean())
        if sigma > 0.3:
            out[sel] = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[sel]
    return paste_subject(out, image, mask)


def focus_of(pair: Pair) -> float:
    """Median depth inside the in-focus mask (how every renderer here is focused)."""
    from gan_bokeh.depth import resize_depth

    d = resize_depth(pair.depth, pair.mask.shape)
    return float(np.median(d[pair.mask > 0.5]))


def score_grid(pairs: Sequence[Pair], candidates: dict[str, dict[str, Any]],
               render: Callable[[Pair, dict[str, Any]], np.ndarray]) -> np.ndarray:
    """``(n_candidates, n_pairs, 2)`` gain-fitted (PSNR, SSIM) of every candidate setting on every pair."""
    out = np.zeros((len(candidates), len(pairs), 2))
    for j, pair in enumerate(pairs):
        for i, opts in enumerate(candidates.values()):
            out[i, j] = scores(render(pair, opts), pair.target)
        log.info("scored %s (%d/%d)", pair.name, j + 1, len(pairs))
    return out


def leave_one_out(grid: np.ndarray, metric: int = 0) -> tuple[list[int], np.ndarray]:
    """For each pair j, the candidate with the best mean ``metric`` on the other pairs, and pair j's
    scores under it.

    Args:
        grid: from :func:`score_grid`; metric: 0 = PSNR, 1 = SSIM (the selection criterion).

    Returns:
        ``(chosen candidate index per pair, held-out scores (n_pairs, 2))``.
    """
    n = grid.shape[1]
    chosen, held = [], np.zeros((n, grid.shape[2]))
    for j in range(n):
        others = [k for k in range(n) if k != j]
        best = int(np.argmax(grid[:, others, metric].mean(axis=1)))
        chosen.append(best)
        held[j] = grid[best, j]
    return chosen, held


def best_per_pair(grid: np.ndarray) -> np.ndarray:
    """``(n_pairs, 2)``: per pair and per metric, the best candidate (an oracle; for the naive baseline)."""
    return grid.max(axis=0)


def layers_grid(full: bool = True) -> dict[str, dict[str, Any]]:
    """Candidate ``layers`` settings for :func:`leave_one_out`, keyed by a short label.

    ``full``: strength × blur curve × kernel softness × highlight restoration × matting × feather (the
    search of ``scripts/fit_render_optics.py``, which chose the library's structural defaults). Otherwise
    only the strength (``aperture``, :data:`LAYERS_STRENGTHS`) with the library's other defaults, for the
    test suite.
    """
    import itertools

    strengths = (1.3, 1.8, 2.6)
    if not full:
        return {f"a{a}": {"aperture": a} for a in LAYERS_STRENGTHS}
    grid = {}
    for a, curve, soft, hl, mat, fe in itertools.product(strengths, ("power", "thin-lens"), (0.0, 0.25, 0.5),
                                                         (0.0, 2.0), (False, True), (1.0, 3.0)):
        label = f"a{a} {curve} soft{soft} hl{hl:g} {'matte' if mat else 'mask'} feather{fe:g}"
        grid[label] = {"aperture": a, "curve": curve, "kernel_softness": soft, "highlight": hl, "matting": mat,
                       "feather": fe}
    return grid


def render_layers_pair(pair: Pair, options: dict[str, Any]) -> np.ndarray:
    """``layers`` on a pair, focused at the median depth of its in-focus mask."""
    from gan_bokeh.render import render_image

    opts = dict(options)
    mask = pair.matte() if opts.pop("matting", False) else pair.mask  # same result, the matte computed once
    return render_image(pair.image, method="layers", mask=mask, depth=pair.depth, focus=focus_of(pair),
                        **opts)[0]


#: Row labels of :func:`loo_report` that tests and scripts look up.
LAYERS_HELD_OUT = "layers (leave-one-out)"
NAIVE_HELD_OUT = "naive 6-bucket, best of 3 chosen leave-one-out"
NAIVE_ON_SCORED = "naive 6-bucket, best of 3 on the mean of the scored pairs"
INPUT_ROW, GAUSSIAN_ROW = "input (no blur)", "gaussian (paper §3.2)"


def baseline_scores(pairs: Sequence[Pair]) -> dict[str, np.ndarray]:
    """``(n_pairs, 2)`` scores of the references: the unmodified input, the paper's Gaussian baseline
    (library defaults), and the naive bucket blur — best of three strengths chosen leave-one-out (as
    ``layers`` is), on the mean of the scored pairs themselves, and per pair (an oracle)."""
    from gan_bokeh.render import render_image

    naive = score_grid(pairs, {f"s{s}": {"s": s} for s in NAIVE_STRENGTHS},
                       lambda p, o: naive_bucket_blur(p.image, p.depth, p.mask, focus_of(p), o["s"]))
    best_mean = int(np.argmax(naive[:, :, 0].mean(axis=1)))
    _, naive_held = leave_one_out(naive)
    return {
        INPUT_ROW: np.array([scores(p.image, p.target) for p in pairs]),
        GAUSSIAN_ROW: np.array([scores(render_image(p.image, method="gaussian", mask=p.mask)[0],
                                                  p.target) for p in pairs]),
        NAIVE_HELD_OUT: naive_held,
        f"{NAIVE_ON_SCORED} (s={NAIVE_STRENGTHS[best_mean]})": naive[best_mean],
        "naive 6-bucket, best of 3 per pair (oracle)": best_per_pair(naive),
    }


def loo_report(pairs: Sequence[Pair], grid: dict[str, dict[str, Any]]) -> tuple[str, dict[str, np.ndarray]]:
    """Fit ``layers`` leave-one-out over ``grid`` and score it beside the baselines.

    Returns:
        ``(Markdown, means)``: a table of which pairs fitted each held-out score (and the setting chosen),
        a table of every method on every pair, and ``{method: mean (PSNR, SSIM)}``. The key
        :data:`LAYERS_HELD_OUT` holds the held-out result; the row fitted on all pairs is reported for
        reference only (it is scored on its own fitting data).
    """
    import collections

    names = [p.name for p in pairs]
    labels = list(grid)
    grid_scores = score_grid(pairs, grid, render_layers_pair)
    chosen, held = leave_one_out(grid_scores)
    lines = ["| scored pair | fitted on | chosen setting | layers PSNR / SSIM (held out) |", "|---|---|---|---|"]
    for j, name in enumerate(names):
        fitted = ", ".join(n for k, n in enumerate(names) if k != j)
        lines.append(f"| {name} | {fitted} | {labels[chosen[j]]} | {held[j, 0]:.2f} / {held[j, 1]:.3f} |")
    rows = {LAYERS_HELD_OUT: held, **baseline_scores(pairs)}
    best_all = int(np.argmax(grid_scores[:, :, 0].mean(axis=1)))
    rows[f"layers fitted on all pairs (not held out): {labels[best_all]}"] = grid_scores[best_all]
    lines += ["", "| method | " + " | ".join(names) + " | mean PSNR | mean SSIM |",
              "|---|" + "---|" * (len(names) + 2)]
    means = {}
    for label, r in rows.items():
        means[label] = r.mean(axis=0)
        cells = " | ".join(f"{a:.2f} / {b:.3f}" for a, b in r)
        lines.append(f"| {label} | {cells} | {means[label][0]:.2f} | {means[label][1]:.4f} |")
    counts = collections.Counter(labels[c] for c in chosen)
    lines += ["", "Settings chosen across the folds: " + "; ".join(f"{k} ×{v}" for k, v in counts.items())]
    return "\n".join(lines) + "\n", means


def edge_blur(image: np.ndarray, region: np.ndarray, reblur: float = 1.0) -> tuple[float, int]:
    """Median Gaussian blur σ (pixels) of the edges inside ``region``, by the gradient-ratio method of
    Zhuo and Sim ("Defocus map estimation from a single image", 2011): re-blurring an edge of blur σ with
    σ₀ divides its gradient peak by R = sqrt(σ² + σ₀²) / σ, so σ = σ₀ / sqrt(R² − 1).

    It reads how blurred a real photo already is (diffraction, lens, defocus) and adds its own ≈ 0.9 px
    (the pixel grid and the Sobel operator: a pixel-sharp step reads 0.92): a blur σ reads ≈ sqrt(σ² + 0.92²).
    On real photos it saturates above a few pixels, where few edges survive: read it as an ordering.

    Args:
        image: ``(H, W, 3)`` sRGB [0, 1]; region: ``(H, W)`` bool, where to read edges.

    Returns:
        ``(median σ, number of edge pixels)``; ``(nan, 0)`` without edges.
    """
    import cv2

    gray = cv2.GaussianBlur(cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2GRAY), (0, 0), 0.5)

    def grad(a: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0), cv2.Sobel(a, cv2.CV_32F, 0, 1))

    g, g_re = grad(gray), grad(cv2.GaussianBlur(gray, (0, 0), reblur))
    ratio = g / np.maximum(g_re, 1e-6)
    edges = cv2.Canny((np.clip(gray, 0, 1) * 255).astype(np.uint8), 40, 100) > 0
    ok = edges & region & (ratio > 1.01) & (g > 0.05)
    if not ok.any():
        return float("nan"), 0
    return float(np.median(reblur / np.sqrt(ratio[ok] ** 2 - 1.0))), int(ok.sum())
