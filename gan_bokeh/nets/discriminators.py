"""PatchGAN discriminator (70×70 receptive field with 3 layers), as in CycleGAN / pix2pix."""

from __future__ import annotations

import torch
from torch import nn

from gan_bokeh.nets.layers import init_weights, norm_layer
from gan_bokeh.nets.registry import register_discriminator


class NLayerDiscriminator(nn.Module):
    """PatchGAN: classifies overlapping patches as real or fake.

    Args:
        in_channels: 3.
        ndf: width of the first layer (64 in the paper).
        n_layers: stride-2 layers; 3 gives the 70×70 receptive field.
        norm: ``instance`` | ``batch`` | ``none``.

    Shape:
        ``(B, in_channels, H, W)`` → ``(B, 1, H', W')`` raw logits (H' = H/8 - 2 for 3 layers).
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        Norm = norm_layer(norm)
        use_bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias),
                       Norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
                   Norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_discriminator("patchgan_3layers")
def patchgan_3layers(**kwargs) -> NLayerDiscriminator:
    """The paper's 70×70 PatchGAN."""
    kwargs.setdefault("n_layers", 3)
    return NLayerDiscriminator(**kwargs)
