"""gan_bokeh.render — comparison renderers as pure array functions (no file I/O here).

* ``average`` / ``gaussian``: the paper's §3.2 baseline (smooth a copy, paste the subject back);
* ``buckets``: seed 000's progressively blurred depth buckets;
* ``interpolate``: seed 002's percentile interpolation mask over a "watercolour" background;
* ``layers`` (default): seed 001's depth-layered renderer, fast and edge-correct (see
  :mod:`gan_bokeh.render.layers`).

Images are float32 RGB ``(H, W, 3)`` in [0, 1]; masks ``(H, W)`` [0, 1]; depth ``(h, w)`` 0 near … 1 far.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gan_bokeh.render.kernels import KERNELS, disk_kernel, make_kernel, polygon_kernel

METHODS: tuple[str, ...] = ("average", "gaussian", "buckets", "interpolate", "layers")
DEFAULT_METHOD = "layers"
#: Methods that need a depth map.
NEEDS_DEPTH = frozenset({"buckets", "interpolate", "layers"})


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
    if method == "layers":
        from gan_bokeh.render.layers import render_layers

        return render_layers(image, depth, mask, **options)
    info: dict[str, Any] = {"method": method}
    if method in NEEDS_DEPTH:
        depth = resize_depth(depth, image.shape[:2])
    if method == "average":
        from gan_bokeh.render.smoothing import render_average

        out = render_average(image, mask, **options)
    elif method == "gaussian":
        from gan_bokeh.render.smoothing import render_gaussian

        out = render_gaussian(image, mask, **options)
    elif method == "buckets":
        from gan_bokeh.render.buckets import render_buckets

        out = render_buckets(image, depth, mask, **options)
    else:
        from gan_bokeh.render.interpolate import render_interpolate

        out, w = render_interpolate(image, depth, mask, **options)
        info["interpolation_mask"] = w
    info["seconds"] = {"total": time.perf_counter() - t0}
    return np.clip(out, 0.0, 1.0), info


__all__ = ["DEFAULT_METHOD", "KERNELS", "METHODS", "NEEDS_DEPTH", "disk_kernel", "make_kernel",
           "polygon_kernel", "render_image"]
