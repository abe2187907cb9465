"""A differentiable defocus renderer (torch/kornia): blur an image by a per-pixel radius map.

The rendering generator (:class:`gan_bokeh.nets.defocus.DefocusGenerator`) predicts *where and how much*
to blur; this module makes the photo. It is the trainable counterpart of the ``layers`` renderer:

1. the image goes to **linear light** (sRGB decoding), where a lens actually mixes light;
2. a small **stack** of copies is blurred with disk kernels of growing radii ``r_0 = 0 < r_1 < … < r_K``
   (evenly spaced up to ``max_radius``); large radii are blurred on a downscaled copy, so the cost per
   level is bounded at any resolution;
3. with a subject mask, every blurred level is a **subject-guided gather** for the background pixels — a
   normalised convolution over the background pixels only, ``blur(x·(1−M)) / blur(1−M)`` — so the sharp
   subject does not bleed into the blurred background (the halo ``layers`` avoids the same way); subject
   pixels (weight ``M``) take the plain blur, so a little blur inside the subject never pulls in background
   colour;
4. each pixel **blends** the two levels nearest its radius linearly (tent weights on the radius axis), so
   the output is continuous and differentiable in the map — the gradient reaches the generator;
5. back to sRGB.

The output is a blur of the input by construction: no invented content, no checkerboards, and it works at
any resolution (upsample the map and scale it by the size ratio, see :func:`render_at_size`).
Images are ``(B, 3, H, W)`` in [0, 1]; radius maps and masks ``(B, 1, H, W)``; radii in pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_bokeh.render.kernels import disk_kernel

__all__ = ["srgb_to_linear_t", "linear_to_srgb_t", "radius_levels", "disk_blur", "render_defocus",
           "render_at_size"]

#: Largest kernel radius applied at the image's own scale; bigger radii blur a downscaled copy.
MAX_KERNEL_RADIUS = 6
#: Weight floor of the gather: where no background is within reach the plain blur is used instead.
_GATHER_EPS = 1e-3


def srgb_to_linear_t(x: Tensor) -> Tensor:
    """IEC 61966-2-1 sRGB decoding of a tensor in [0, 1] (gradient-safe at 0)."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp_min(1e-8) ** 2.4)


def linear_to_srgb_t(y: Tensor) -> Tensor:
    """Inverse of :func:`srgb_to_linear_t`."""
    y = y.clamp(0.0, 1.0)
    return torch.where(y <= 0.0031308, y * 12.92, 1.055 * y.clamp_min(1e-8) ** (1 / 2.4) - 0.055)


def radius_levels(max_radius: float, n: int) -> list[float]:
    """``n`` evenly spaced radii ``0 … max_radius`` (``n ≥ 2``)."""
    if n < 2 or max_radius <= 0:
        raise ValueError(f"need n >= 2 levels and max_radius > 0, got n={n}, max_radius={max_radius}")
    return [max_radius * k / (n - 1) for k in range(n)]


def disk_blur(x: Tensor, radius: float, max_kernel_radius: int = MAX_KERNEL_RADIUS) -> Tensor:
    """Blur ``(B, C, H, W)`` with an anti-aliased disk of ``radius`` px (reflect borders).

    Radii above ``max_kernel_radius`` blur an area-downscaled copy by ``f = ceil(radius / max_kernel_radius)``
    with radius ``radius / f`` and upsample it bilinearly: constant cost per level at any resolution.
    """
    if radius < 0.5:
        return x
    import kornia.filters as KF

    h, w = x.shape[-2:]
    f = max(1, math.ceil(radius / max_kernel_radius))
    small = x if f == 1 else F.interpolate(x, size=(max(1, math.ceil(h / f)), max(1, math.ceil(w / f))), mode="area")
    k = torch.from_numpy(disk_kernel(radius / f)).to(device=x.device, dtype=x.dtype)[None]
    pad = k.shape[-1] // 2
    if min(small.shape[-2:]) <= pad:  # reflect padding needs the image larger than the kernel's radius
        small = F.interpolate(small, size=(max(small.shape[-2], pad + 1), max(small.shape[-1], pad + 1)),
                              mode="bilinear", align_corners=False)
    out = KF.filter2d(small, k, border_type="reflect")
    if out.shape[-2:] != (h, w):
        out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
    return out


def render_defocus(image: Tensor, radius: Tensor, mask: Tensor | None = None, *, max_radius: float,
                   n_radii: int = 6, linear: bool = True) -> Tensor:
    """Blur ``image`` by the per-pixel ``radius`` map (module docstring for the method).

    Args:
        image: ``(B, 3, H, W)`` in [0, 1].
        radius: ``(B, 1, H, W)`` blur radius in pixels; clamped to ``[0, max_radius]``.
        mask: optional ``(B, 1, H, W)`` subject mask in [0, 1]; turns on the subject-guided gather.
        max_radius: the largest radius of the stack (px at this resolution).
        n_radii: levels of the stack (≥ 2), evenly spaced from 0.
        linear: blend in linear light (sRGB decode first, encode after).

    Returns:
        ``(B, 3, H, W)`` in [0, 1]; equal to ``image`` where ``radius = 0``.
    """
    if image.ndim != 4 or radius.ndim != 4 or radius.shape[1] != 1 or radius.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"expected (B, C, H, W) image and (B, 1, H, W) radius, got {tuple(image.shape)} "
                         f"and {tuple(radius.shape)}")
    levels = radius_levels(max_radius, n_radii)
    step = levels[1]
    r = radius.clamp(0.0, max_radius)
    lin = srgb_to_linear_t(image) if linear else image
    if mask is not None:
        bg = 1.0 - mask.to(lin.dtype)
        lin_bg = lin * bg
    out = torch.zeros_like(lin)
    for k, rk in enumerate(levels):
        wk = (1.0 - (r - rk).abs() / step).clamp_min(0.0)  # tent: the two nearest levels, weights sum to 1
        if k == 0:
            level = lin
        elif mask is None:
            level = disk_blur(lin, rk)
        else:  # background pixels gather background light only; subject pixels take the plain blur
            plain = disk_blur(lin, rk)
            gathered = (disk_blur(lin_bg, rk) + _GATHER_EPS * plain) / (disk_blur(bg, rk) + _GATHER_EPS)
            level = bg * gathered + (1.0 - bg) * plain
        out = out + wk * level
    return linear_to_srgb_t(out) if linear else out.clamp(0.0, 1.0)


def render_at_size(image: Tensor, radius_small: Tensor, mask: Tensor | None = None, *, max_radius: float,
                   n_radii: int = 6, linear: bool = True) -> Tensor:
    """Render a full-size ``image`` from a radius map predicted at a smaller working resolution.

    The map is upsampled bilinearly and multiplied by the size ratio (a radius of 4 working pixels is
    ``4·H/h`` full-size pixels), and so is ``max_radius``; the blur runs on the full image.

    Shapes: ``image (B, 3, H, W)``, ``radius_small (B, 1, h, w)``, ``mask (B, 1, H, W)`` or ``None``.
    """
    h, w = image.shape[-2:]
    scale = min(h / radius_small.shape[-2], w / radius_small.shape[-1])
    r = F.interpolate(radius_small, size=(h, w), mode="bilinear", align_corners=False) * scale
    return render_defocus(image, r, mask, max_radius=max_radius * scale, n_radii=n_radii, linear=linear)
