"""Depth-aware layered bokeh (seed 001 §3.3), gather-style and normalised, fast at any blur radius.

Pipeline (all arrays float32):

1. Depth → layers: K-means centres of depth with the focal plane as a fixed centre, smoothed by a
   graph-cut CRF (eq. 7–9) on a reduced copy (``work_size``), the subject forced into the focal layer.
2. Each layer l gets a blur radius ``r_l = scale·|C_l − focus|`` (0 in front of the focus when
   foreground blur is off) and a feathered membership ``a_l`` (Gaussian, eq. 10), upsampled to full
   resolution; the subject mask removes itself from every blurred layer (segmentation-guided kernel,
   eq. 6), so no subject colour is gathered into the background.
3. Blur in linear light with a highlight boost. For each blurred layer, ``a_l·L`` and ``a_l`` are
   blurred separately with the same normalised aperture kernel and divided (premultiplied gather):
   holes left by nearer layers fill with the layer's own colours. A radius r is blurred at 1/s of the
   resolution (s ≈ r / ``pyramid_radius``) with a kernel of radius r/s and upsampled: the result has no
   detail finer than r/ρ left, and the cost no longer grows with r².
4. Back-to-front "over" compositing: a background layer is opaque wherever it or anything nearer is
   (it continues behind occluders); the sharp focal layer (the original pixels) goes on top; blurred
   foreground layers go over everything with their own blurred coverage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from gan_bokeh.render.color import linear_to_srgb
from gan_bokeh.render.crf import depth_layers
from gan_bokeh.render.kernels import make_kernel

#: Blur radius (as a fraction of the image's long side) per unit |depth − focus|^gamma at f-number 1.
#: Calibrated, together with the default gamma = 0.5, on the six real f/16 → f/1.8 pairs of
#: shared/data/vabm (one value for every image; see docs/rendering.md).
APERTURE_CALIBRATION = 0.0147
DEFAULT_APERTURE = 1.8
#: Blur radius as a function of |depth − focus| (see :func:`render_layers`).
BLUR_CURVES = ("thin-lens", "power")


@dataclass
class Layer:
    """One depth layer: centre depth, blur radius in full-resolution pixels, role."""

    index: int
    centre: float
    radius: float
    role: str  # "background" | "focus" | "foreground"
    scale: float = 1.0


def resolve_focus(focus: float | str | tuple[float, float] | None, depth: np.ndarray,
                  mask: np.ndarray | None, full_size: tuple[int, int]) -> float:
    """Focal depth from ``None``/``"auto"`` (median subject depth, else the centre of the frame), a
    depth value in [0, 1], or an ``(x, y)`` pixel of the full-resolution image."""
    if focus is None or focus == "auto":
        if mask is not None and (mask > 0.5).any():
            return float(np.median(depth[mask > 0.5]))
        h, w = depth.shape
        return float(np.median(depth[2 * h // 5:3 * h // 5, 2 * w // 5:3 * w // 5]))
    if isinstance(focus, (tuple, list)):
        x, y = focus
        big_h, big_w = full_size
        h, w = depth.shape
        if not (0 <= x < big_w and 0 <= y < big_h):
            raise ValueError(f"focus point ({x}, {y}) is outside the {big_w}×{big_h} image")
        cx, cy = int(x * w / big_w), int(y * h / big_h)
        return float(np.median(depth[max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3]))
    f = float(focus)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"focus depth must be in [0, 1], got {f}")
    return f


def background_depth(depth: np.ndarray, mask: np.ndarray, grow: int = 2) -> np.ndarray:
    """Depth with the subject (grown by ``grow`` px) replaced by the nearest depth around it.

    Layers then describe the scene *behind* the subject: the subject itself is handled exactly by the
    full-resolution mask, and depth-map edges that spill past the mask cannot leave a sharp band of
    background around it.
    """
    import cv2

    from gan_bokeh.depth import fill_unknown

    hole = (mask > 0.5).astype(np.uint8)
    if grow > 0:
        hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    if not hole.any() or hole.all():
        return depth
    return fill_unknown(depth.astype(np.float64), hole == 0).astype(np.float32)


def blur_scale(depth: np.ndarray, focus: float, long_side: int, *, aperture: float | None,
               max_blur: float | None, foreground_blur: bool, gamma: float = 1.0) -> float:
    """Pixels of blur radius per unit |depth − focus|^gamma (full resolution).

    ``max_blur`` wins: the farthest-from-focus pixel gets exactly that radius. Otherwise an f-number
    ``aperture`` (smaller = stronger): ``scale = APERTURE_CALIBRATION · long_side / aperture``.
    """
    if max_blur is not None:
        if max_blur < 0:
            raise ValueError("max_blur must be >= 0")
        far = float(depth.max()) - focus
        near = focus - float(depth.min()) if foreground_blur else 0.0
        span = max(far, near, 1e-6)
        return max_blur / span ** gamma
    a = DEFAULT_APERTURE if aperture is None else float(aperture)
    if a <= 0:
        raise ValueError("aperture (f-number) must be > 0")
    return APERTURE_CALIBRATION * long_side / a


def _resize(a: np.ndarray, size: tuple[int, int], down: bool) -> np.ndarray:
    import cv2

    h, w = size
    if a.shape[:2] == (h, w):
        return a
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA if down else cv2.INTER_LINEAR)


def _scaled_size(h: int, w: int, s: float) -> tuple[int, int]:
    return max(1, int(round(h / s))), max(1, int(round(w / s)))


def _filter(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import cv2

    if kernel.shape == (1, 1):
        return a
    return cv2.filter2D(a, -1, kernel, borderType=cv2.BORDER_REFLECT)


def srgb_lut_linear(image: np.ndarray) -> np.ndarray:
    """sRGB → linear through an 8-bit table (fast at 12 MP; blurred layers need no more precision)."""
    import cv2

    from gan_bokeh.render.color import srgb_to_linear

    lut = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)
    u8 = cv2.convertScaleAbs(image, alpha=255.0)  # rounds and saturates to uint8
    return cv2.LUT(u8, lut)


HIGHLIGHT_MODES = ("points", "all")


def boosted_linear(image: np.ndarray, gain: float, threshold: float = 0.8,
                   point_size: int | None = None, mode: str = "points") -> np.ndarray:
    """Linear-light copy with clipped highlights restored: values near saturation scaled by up to ``1 + gain``.

    A sensor clips a lamp at 1.0 however bright it is, so after an energy-preserving blur it would be a
    dim smudge; scaling the linear value by ``1 + gain·s(t)`` (``t`` = how far the brightest channel is
    past ``threshold``, ``s`` = smoothstep) gives back some of the clipped energy and the point spreads
    into a bright disc, as in a real wide-aperture photo.

    Args:
        image: ``(H, W, 3)`` sRGB [0, 1].
        gain: 0 = off.
        threshold: sRGB level of the brightest channel where the boost starts.
        point_size: ``mode="points"``: structuring element of the white top-hat (default ≈ long side / 150).
        mode: ``"points"`` boosts only small bright points (standing out of a morphological opening:
            lamps, glints, sun through leaves; a clipped sky stays as it is), ``"all"`` every pixel near
            saturation.
    """
    import cv2

    if mode not in HIGHLIGHT_MODES:
        raise ValueError(f"highlight mode must be one of {HIGHLIGHT_MODES}, got {mode!r}")
    lin = srgb_lut_linear(image)
    if gain <= 0:
        return lin
    peak = image.max(axis=2)
    hot = peak > threshold
    if mode == "points":
        size = point_size or max(3, int(round(max(image.shape[:2]) / 150)) | 1)
        ell = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        tophat = cv2.morphologyEx(peak, cv2.MORPH_TOPHAT, ell)
        hot &= tophat > 0.05
    if hot.any():
        t = np.clip((peak[hot] - threshold) / (1.0 - threshold), 0.0, 1.0)
        if mode == "points":
            t = t * np.clip(tophat[hot] / 0.25, 0.0, 1.0)
        lin[hot] *= (1.0 + gain * t * t * (3.0 - 2.0 * t))[:, None]
    return lin


def _layer_plan(labels: np.ndarray, centres: np.ndarray, focus: float, scale: float,
                foreground_blur: bool, min_radius: float, gamma: float = 1.0) -> tuple[list[Layer], np.ndarray]:
    """Group cluster labels into render layers (far → near); sharp clusters merge into the focal layer."""
    f_idx = int(np.argmin(np.abs(centres - focus)))
    groups: list[Layer] = []
    remap = np.zeros(len(centres), np.int32)
    for j in sorted(range(len(centres)), key=lambda j: -centres[j]):
        c = float(centres[j])
        r = scale * abs(c - focus) ** gamma
        if c < focus and not foreground_blur:
            r = 0.0
        sharp = j == f_idx or r < min_radius
        role = "focus" if sharp else ("background" if c > focus else "foreground")
        if sharp:
            existing = next((g for g in groups if g.role == "focus"), None)
            if existing is not None:
                remap[j] = existing.index
                continue
            r = 0.0
        groups.append(Layer(index=len(groups), centre=c, radius=r, role=role))
        remap[j] = groups[-1].index
    if not any(g.role == "focus" for g in groups):  # pragma: no cover - the focus centre always exists
        groups.append(Layer(index=len(groups), centre=focus, radius=0.0, role="focus"))
    return groups, remap[labels]


def _memberships(layer_labels: np.ndarray, n: int, feather: float) -> list[np.ndarray]:
    """Feathered one-hot memberships at work resolution (eq. 10's Gaussian g); they sum to 1."""
    import cv2

    out = []
    for i in range(n):
        onehot = (layer_labels == i).astype(np.float32)
        if feather > 0:
            onehot = cv2.GaussianBlur(onehot, (0, 0), feather, borderType=cv2.BORDER_REPLICATE)
        out.append(onehot)
    total = np.maximum(sum(out), 1e-6)
    return [o / total for o in out]


class _Pyramid:
    """Area-averaged 2× pyramid of the premultiplied image ``L·k`` and the weight ``k = 1 − mask``.

    Built once; every layer reads the level just finer than its scale and resizes from there, so no
    layer touches the full-resolution image again. The layer membership (smooth: feathered at work
    resolution) is applied after downsampling; only the subject mask, which is sharp, is premultiplied
    at full resolution — that is what keeps subject colour out of the background exactly.
    """

    def __init__(self, lin: np.ndarray, keep: np.ndarray | None) -> None:
        self.size = lin.shape[:2]
        prem = lin if keep is None else lin * keep[..., None]
        k = np.ones(self.size, np.float32) if keep is None else keep.astype(np.float32)
        self.levels = [(prem, k)]

    def at(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(premultiplied colour, weight) area-resampled to ``size = (h, w)``."""
        while True:
            prem, k = self.levels[-1]
            h, w = prem.shape[:2]
            if h < 2 * size[0] or w < 2 * size[1] or min(h, w) < 4:
                break
            half = ((h + 1) // 2, (w + 1) // 2)
            self.levels.append((_resize(prem, half, down=True), _resize(k, half, down=True)))
        for prem, k in reversed(self.levels):
            if prem.shape[0] >= size[0] and prem.shape[1] >= size[1]:
                return _resize(prem, size, down=True), _resize(k, size, down=True)
        prem, k = self.levels[0]  # pragma: no cover - size never exceeds the image
        return _resize(prem, size, down=False), _resize(k, size, down=False)


def render_layers(image: np.ndarray, depth: np.ndarray, mask: np.ndarray | None = None, *,
                  focus: float | str | tuple[float, float] | None = None, aperture: float | None = None,
                  max_blur: float | None = None, kernel: str = "disk", kernel_rotation: float = 0.0,
                  n_layers: int = 6, crf: bool = True, crf_lambda: float = 10.0, work_size: int = 384,
                  feather: float = 1.0, highlight: float = 0.0, highlight_threshold: float = 0.85,
                  foreground_blur: bool = True, pyramid_radius: float = 6.0, min_radius: float = 0.75,
                  matting: bool = False, matting_band: int = 10, gamma: float = 0.5,
                  curve: str = "power", highlight_mode: str = "points", kernel_softness: float = 0.0,
                  ) -> tuple[np.ndarray, dict]:
    """Render shallow depth of field with K depth layers (see the module docstring).

    Args:
        image: ``(H, W, 3)`` float32 sRGB [0, 1].
        depth: ``(h, w)`` 0 near … 1 far, any resolution (resized here).
        mask: ``(H, W)`` subject matte [0, 1] or ``None``; the subject stays sharp and never bleeds.
        focus: ``None``/``"auto"`` (median subject depth), a depth in [0, 1], or ``(x, y)`` in pixels.
        aperture: f-number-like strength (default 1.8; smaller = more blur). Ignored with ``max_blur``.
        max_blur: blur radius in pixels of the pixel farthest from the focal plane.
        kernel: aperture shape (``disk``, ``hexagon``, …); kernel_rotation in radians.
        kernel_softness: σ of a Gaussian roll-off of the aperture's edge, as a fraction of the radius
            (0 = hard-edged discs).
        n_layers: K of the K-means (seed 001: 6); crf / crf_lambda: graph-cut smoothing (λ = 10).
        work_size: long side of the copy used for clustering and the CRF.
        feather: σ of the layer feathering, in work-size pixels (eq. 10).
        highlight: highlight boost gain (0 = off); highlight_threshold: sRGB level where it starts.
        foreground_blur: blur layers in front of the focal plane too.
        pyramid_radius: kernel radius used at reduced resolution (larger = crisper discs, slower).
        min_radius: radii below this count as sharp.
        curve: ``"thin-lens"``: the circle of confusion is linear in the disparity difference from the
            focal plane, ``r = scale·|depth − focus|`` (exact when the depth is linear in disparity: learned
            backends, disparity files); ``"power"``: ``r = scale·|depth − focus|^gamma``.
        gamma: exponent of the ``power`` curve (< 1 for depth maps that compress the far range).
        highlight_mode: ``"points"`` or ``"all"`` (see :func:`boosted_linear`).
        matting: refine the mask edge with closed-form matting in a ``matting_band``-pixel band.

    Returns:
        ``(out (H, W, 3) float32 [0, 1], info)``; info has the focus, the per-layer radii, the
        reduced-resolution ``radius_map`` / ``depth_work`` and timings.
    """
    t0 = time.perf_counter()
    if curve not in BLUR_CURVES:
        raise ValueError(f"blur curve must be one of {BLUR_CURVES}, got {curve!r}")
    gamma = 1.0 if curve == "thin-lens" else float(gamma)
    img = np.ascontiguousarray(image, dtype=np.float32)
    big_h, big_w = img.shape[:2]
    long_side = max(big_h, big_w)
    ws = min(1.0, work_size / long_side)
    wsize = (max(1, round(big_h * ws)), max(1, round(big_w * ws)))
    d_work = _resize(np.asarray(depth, np.float32), wsize, down=depth.size > wsize[0] * wsize[1])
    m_full = None if mask is None else np.asarray(mask, np.float32)
    t_matte = 0.0
    if matting and m_full is not None:
        from gan_bokeh.render.matting import refine_matte

        tm = time.perf_counter()
        m_full = refine_matte(img, m_full, band=matting_band)
        t_matte = time.perf_counter() - tm
    m_work = None if m_full is None else _resize(m_full, wsize, down=True)
    f = resolve_focus(focus, d_work, m_work, (big_h, big_w))
    scale = blur_scale(d_work, f, long_side, aperture=aperture, max_blur=max_blur,
                       foreground_blur=foreground_blur, gamma=gamma)
    d_layers = d_work if m_work is None else background_depth(d_work, m_work)
    labels, centres = depth_layers(d_layers, k=n_layers, focus=f, lam=crf_lambda, crf=crf)
    plan, layer_labels = _layer_plan(labels, centres, f, scale, foreground_blur, min_radius, gamma)
    t_labels = time.perf_counter()

    u_work = _memberships(layer_labels, len(plan), feather)
    out = img.copy()
    if any(p.radius > 0 for p in plan):
        lin = boosted_linear(img, highlight, highlight_threshold, mode=highlight_mode)
        pyramid = _Pyramid(lin, None if m_full is None else 1.0 - m_full)
        background = _composite_background(plan, u_work, pyramid, kernel, kernel_rotation, pyramid_radius,
                                           kernel_softness)
        out = _composite_focus_and_front(img, plan, u_work, pyramid, m_full, background, kernel,
                                         kernel_rotation, pyramid_radius, kernel_softness)
    t_end = time.perf_counter()

    radius_work = np.zeros(wsize, np.float32)
    for p in plan:
        radius_work[layer_labels == p.index] = p.radius
    info = {
        "method": "layers", "focus": f, "curve": curve, "gamma": gamma, "blur_scale_px": scale, "kernel": kernel,
        "layers": [{"centre": round(p.centre, 4), "radius_px": round(p.radius, 2), "role": p.role,
                    "scale": round(p.scale, 2)} for p in plan],
        "max_radius_px": max(p.radius for p in plan),
        "radius_map": radius_work, "depth_work": d_work,
        "matte": m_full,
        "seconds": {"matting": t_matte, "labels": t_labels - t0, "blur_composite": t_end - t_labels,
                    "total": t_end - t0},
    }
    return np.clip(out, 0.0, 1.0, out=out), info


def _layer_size(layer: Layer, full: tuple[int, int], pyramid_radius: float) -> tuple[int, int]:
    s = max(1.0, layer.radius / pyramid_radius)
    size = _scaled_size(full[0], full[1], s)
    layer.scale = full[1] / size[1]
    return size


def _soften(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian roll-off of the aperture's edge, applied after the kernel (convolution is associative:
    the same as a softened kernel, at the cost of one separable blur). A real lens's defocus disc is not a
    hard-edged stamp: spherical aberration, diffraction and the sensor's anti-aliasing filter soften it."""
    import cv2

    if sigma < 0.3:
        return a
    return cv2.GaussianBlur(a, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _gather(pyramid: _Pyramid, u_l: np.ndarray, farther: np.ndarray | None, layer: Layer, kernel: str,
            rotation: float, pyramid_radius: float, softness: float = 0.0,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Blur the layer's premultiplied colour, weight and coverage at its reduced resolution.

    Returns ``(P, W, C)``: P/W is the layer's normalised colour (eq. 6 generalised: only the layer's own,
    non-subject pixels are gathered) and C = blurred (1 − Σ farther memberships) its coverage.
    """
    size = _layer_size(layer, pyramid.size, pyramid_radius)
    r = layer.radius / layer.scale
    k = make_kernel(kernel, r, rotation)
    prem, keep = pyramid.at(size)
    u = _resize(u_l, size, down=u_l.shape[0] > size[0])
    weight = keep * u
    p = _soften(_filter(prem * u[..., None], k), softness * r)
    w = _soften(_filter(weight, k), softness * r)
    c = None
    if farther is not None:
        far = keep * _resize(farther, size, down=farther.shape[0] > size[0])
        c = _soften(_filter(1.0 - far, k), softness * r)
    return p, w, c


def _composite_background(plan: list[Layer], u: list[np.ndarray], pyramid: _Pyramid, kernel: str,
                          rotation: float, pyramid_radius: float, softness: float = 0.0) -> np.ndarray | None:
    """Over-composite the blurred background layers far → near; returns linear light (reduced size) or None."""
    out = None
    farther = None  # Σ work-resolution memberships of the layers already composited (all farther)
    tau = 1e-3
    for layer in plan:
        if layer.role != "background":
            continue
        p, w, c = _gather(pyramid, u[layer.index], farther, layer, kernel, rotation, pyramid_radius, softness)
        farther = u[layer.index].copy() if farther is None else farther + u[layer.index]
        if out is None:
            out = p / np.maximum(w, tau)[..., None]
            continue
        if out.shape[:2] != p.shape[:2]:
            if out.shape[0] < p.shape[0]:
                out = _resize(out, p.shape[:2], down=False)
            else:
                p, w, c = (_resize(x, out.shape[:2], down=False) for x in (p, w, c))
        alpha = np.clip(c, 0.0, 1.0)[..., None]
        colour = (p + tau * out) / (w[..., None] + tau)
        out = out * (1.0 - alpha) + alpha * colour
    return out


def mix_linear(out: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``out ← alpha·colour + (1 − alpha)·out`` in *linear light*, for sRGB arrays, in place.

    Only pixels with a fractional alpha are converted (sRGB ↔ linear costs ~1 s at 12 MP; the
    boundary bands are a few percent of the image): alpha = 1 takes ``colour``, alpha = 0 leaves ``out``
    bit for bit. A dark subject edge over a bright blurred light then keeps the light's energy, as optics
    does, instead of the dark fringe an sRGB mix gives.

    Args:
        out, colour: ``(H, W, 3)`` float32 sRGB [0, 1]; alpha: ``(H, W)`` [0, 1].
    """
    from gan_bokeh.render.color import srgb_to_linear

    full = alpha >= 1.0 - 1e-4
    np.copyto(out, colour, where=full[..., None])  # (boolean fancy indexing costs seconds at 12 MP)
    band = np.flatnonzero((alpha > 1e-4) & ~full)
    if band.size:
        flat_out, flat_colour = out.reshape(-1, 3), colour.reshape(-1, 3)
        a = alpha.reshape(-1)[band][:, None]
        lin = a * srgb_to_linear(flat_colour[band]) + (1.0 - a) * srgb_to_linear(flat_out[band])
        flat_out[band] = linear_to_srgb(lin)
    return out


def _composite_focus_and_front(img: np.ndarray, plan: list[Layer], u: list[np.ndarray], pyramid: _Pyramid,
                               m_full: np.ndarray | None, background: np.ndarray | None, kernel: str,
                               rotation: float, pyramid_radius: float, softness: float = 0.0) -> np.ndarray:
    """Put the sharp focal layer over the background, then the blurred foreground layers on top; every
    mix in linear light (:func:`mix_linear`). ``background`` is linear light at reduced size."""
    big_h, big_w = img.shape[:2]
    out = img.copy()
    if background is not None:
        # the background shows where the focal layer does not cover it: Σ background memberships (non-subject)
        bg_sum = sum(u[p.index] for p in plan if p.role == "background")
        bg_cover = _resize(bg_sum, (big_h, big_w), down=False)
        if m_full is not None:
            bg_cover *= 1.0 - m_full
        bg = _resize(linear_to_srgb(background), (big_h, big_w), down=False)
        out = mix_linear(out, bg, np.clip(bg_cover, 0.0, 1.0))
    for layer in plan:
        if layer.role != "foreground":
            continue
        p, w, _ = _gather(pyramid, u[layer.index], None, layer, kernel, rotation, pyramid_radius, softness)
        colour = linear_to_srgb(p / np.maximum(w, 1e-6)[..., None])
        colour = _resize(colour, (big_h, big_w), down=False)
        alpha = np.clip(_resize(w, (big_h, big_w), down=False), 0.0, 1.0)
        out = mix_linear(out, colour, alpha)
    return out.astype(np.float32, copy=False)
