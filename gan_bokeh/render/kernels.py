"""Normalised aperture kernels (a disk, as in Rendering Portraitures from Monocular Camera and Beyond, eq. 5;
polygons for bladed irises). The names are the registry :data:`gan_bokeh.render.registry.KERNELS`."""

from __future__ import annotations

import math

import numpy as np

from gan_bokeh.render.registry import KERNELS


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased disk of the given radius, normalised to sum 1 (eq. 5: w = 1/C inside ‖p‖ < r).

    Args:
        radius: in pixels, ≥ 0; radius < 0.5 gives the identity ``[[1]]``.

    Returns:
        ``float32 (2R+1, 2R+1)`` with ``R = ceil(radius)``.
    """
    return polygon_kernel(radius, 0)


def polygon_kernel(radius: float, sides: int, rotation: float = 0.0) -> np.ndarray:
    """Regular polygon (``sides`` ≥ 3) or disk (``sides = 0``) of circumradius ``radius``, sum 1.

    Edges are anti-aliased by the signed distance to the boundary (one pixel ramp), so a kernel's area
    grows smoothly with the radius and blur is continuous in depth.
    """
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    r_int = int(math.ceil(radius))
    y, x = np.mgrid[-r_int:r_int + 1, -r_int:r_int + 1].astype(np.float64)
    if sides == 0:
        signed = radius - np.hypot(x, y)
    else:
        if sides < 3:
            raise ValueError(f"a polygon kernel needs >= 3 sides, got {sides}")
        apothem = radius * math.cos(math.pi / sides)
        theta = np.arctan2(y, x) - rotation - math.pi / 2
        sector = 2 * math.pi / sides
        # distance from the centre to the boundary along each pixel's direction, via the nearest edge normal
        local = np.mod(theta, sector) - sector / 2
        signed = apothem - np.hypot(x, y) * np.cos(local)
    k = np.clip(signed + 0.5, 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


def make_kernel(shape: str, radius: float, rotation: float = 0.0) -> np.ndarray:
    """Kernel by name (a key of :data:`KERNELS`), normalised to sum 1."""
    if shape not in KERNELS:
        raise ValueError(f"unknown kernel {shape!r}; choose from {', '.join(KERNELS)}")
    return polygon_kernel(radius, KERNELS[shape].meta["sides"], rotation)
