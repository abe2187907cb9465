"""A generator that renders: it predicts a per-pixel blur radius and makes its output with the
differentiable defocus renderer (:mod:`gan_bokeh.render.differentiable`) from the input photo.

A stronger prior than synthesising every pixel: the output is a blur of the input by construction (no
invented content, no checkerboards), and the small radius map carries to any resolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_bokeh.nets.generators import ResnetGenerator
from gan_bokeh.nets.registry import register_generator
from gan_bokeh.render.differentiable import render_at_size, render_defocus

__all__ = ["DefocusGenerator"]


class DefocusGenerator(nn.Module):
    """Radius predictor (a ResNet generator with one output channel) + differentiable renderer.

    Args:
        in_channels: RGB plus the extra inputs (``model.inputs``: mask and/or depth), RGB first.
        ngf, n_blocks, norm, dropout, upsample: as :class:`~gan_bokeh.nets.generators.ResnetGenerator`.
        max_radius: largest blur radius in pixels at the training resolution.
        n_radii: levels of the renderer's blur stack.
        mask_channel: index of the subject mask among the input channels (``3`` with ``[rgb, mask, …]``),
            or ``None``; when given, ``forward`` uses it for the renderer's subject-guided gather.

    Shape:
        ``forward``: ``(B, in_channels, H, W)`` in [-1, 1] (extras in [0, 1]) → ``(B, 3, H, W)`` in [-1, 1].
        ``radius_map``: same input → ``(B, 1, H, W)`` radius in pixels, in ``[0, max_radius]``.
    """

    renders = True  # generate: run the map at working size and render the full-resolution photo

    def __init__(self, in_channels: int = 3, ngf: int = 32, n_blocks: int = 6, norm: str = "instance",
                 dropout: float = 0.0, upsample: str = "resize", max_radius: float = 8.0, n_radii: int = 6,
                 mask_channel: int | None = None) -> None:
        super().__init__()
        self.max_radius, self.n_radii, self.mask_channel = float(max_radius), int(n_radii), mask_channel
        self.predictor = ResnetGenerator(in_channels, 1, ngf=ngf, n_blocks=n_blocks, norm=norm, dropout=dropout,
                                         upsample=upsample)

    def radius_map(self, x: Tensor) -> Tensor:
        """Blur radius in pixels, ``(B, 1, H, W)``; the predictor's tanh maps to ``[0, max_radius]``."""
        return (self.predictor(x) + 1.0) * (0.5 * self.max_radius)

    def render(self, image: Tensor, radius: Tensor, mask: Tensor | None = None) -> Tensor:
        """Render ``image`` ([-1, 1]) with ``radius`` at the same size; output in [-1, 1].

        Runs in float32 even under AMP: the sRGB curve and the normalised gather divide small numbers."""
        with torch.autocast(image.device.type, enabled=False):
            m = None if mask is None else mask.float()
            out = render_defocus((image.float() + 1) * 0.5, radius.float(), m, max_radius=self.max_radius,
                                 n_radii=self.n_radii)
        return out * 2 - 1

    def render_full(self, image: Tensor, radius_small: Tensor, mask: Tensor | None = None) -> Tensor:
        """Render a larger ``image`` ([0, 1]) from a working-size radius map (scaled by the size ratio)."""
        return render_at_size(image, radius_small, mask, max_radius=self.max_radius, n_radii=self.n_radii)

    def _mask(self, x: Tensor) -> Tensor | None:
        return None if self.mask_channel is None else x[:, self.mask_channel:self.mask_channel + 1]

    def forward(self, x: Tensor) -> Tensor:
        return self.render(x[:, :3], self.radius_map(x), self._mask(x))


@register_generator("defocus_resnet")
def defocus_resnet(**kwargs) -> DefocusGenerator:
    """Rendering generator: ResNet radius predictor (6 blocks) + differentiable defocus renderer."""
    return DefocusGenerator(**kwargs)
