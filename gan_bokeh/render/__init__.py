"""gan_bokeh.render — comparison renderers as pure array functions (no file I/O here).

The renderers are the registry :data:`~gan_bokeh.render.registry.RENDERERS` (name, source paper, whether
depth is needed) and the aperture shapes :data:`~gan_bokeh.render.registry.KERNELS`; ``layers`` (default)
is the depth-layered renderer of :mod:`gan_bokeh.render.layers`.

Images are float32 RGB ``(H, W, 3)`` in [0, 1]; masks ``(H, W)`` [0, 1]; depth ``(h, w)`` 0 near … 1 far.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gan_bokeh.render.kernels import disk_kernel, make_kernel, polygon_kernel
from gan_bokeh.render.registry import DEFAULT_METHOD, KERNELS, RENDERERS

#: Renderer names (registration order of :data:`RENDERERS`).
METHODS: tuple[str, ...] = RENDERERS.names()
#: Methods that need a depth map.
NEEDS_DEPTH = frozenset(n for n, e in RENDERERS.items() if e.meta["needs_depth"])


def _check(image: np.ndarray, mask: np.ndarray | None, depth: np.ndarray | None, method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown render method {method!r}; choose from {', '.join(METHODS)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if mask is not None and mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    if method in NEEDS_DEPTH and depth is None:
        raise ValueError(f"method {method!r} needs a depth map")
    if depth is not None and depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got {depth.shape}")


def render_image(image: np.ndarray, *, method: str = DEFAULT_METHOD, mask: np.ndarray | None = None,
                 depth: np.ndarray | None = None, **options: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Render shallow depth of field with one of :data:`METHODS`.

    Args:
        image: ``(H, W, 3)`` float32 [0, 1].
        method: a name from :data:`METHODS`.
        mask: ``(H, W)`` subject mask [0, 1] (pasted back sharp), or ``None``.
        depth: ``(h, w)`` 0 near … 1 far, any resolution (required by buckets/interpolate/layers).
        **options: method options (see each ``render_*`` function), e.g. ``ksize`` for the smoothing
            baselines, ``aperture``/``max_blur``/``focus``/``kernel``/``highlight`` for ``layers``.

    Returns:
        ``(out (H, W, 3) float32 [0, 1], info dict)``.
    """
    import time

    from gan_bokeh.depth.files import resize_depth

    image = np.asarray(image, dtype=np.float32)
    _check(image, mask, depth, method)
    t0 = time.perf_counter()
    entry = RENDERERS[method]
    fn = RENDERERS.load(method)
    if entry.meta["returns"] == "info":  # renders at depth resolution itself and reports its own timings
        return fn(image, depth, mask, **options)
    info: dict[str, Any] = {"method": method}
    args = (image, resize_depth(depth, image.shape[:2]), mask) if entry.meta["needs_depth"] else (image, mask)
    out = fn(*args, **options)
    if entry.meta["returns"] == "interpolation_mask":
        out, info["interpolation_mask"] = out
    info["seconds"] = {"total": time.perf_counter() - t0}
    return np.clip(out, 0.0, 1.0), info


__all__ = ["DEFAULT_METHOD", "KERNELS", "METHODS", "NEEDS_DEPTH", "RENDERERS", "disk_kernel", "make_kernel",
           "polygon_kernel", "render_image"]
