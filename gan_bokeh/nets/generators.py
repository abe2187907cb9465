"""CycleGAN ResNet generator (paper Fig. 5; Johnson et al. architecture as used by Zhu et al.).

Layout: reflection pad → 7×7 conv stem → two stride-2 downsamples → ``n_blocks`` residual blocks →
two upsamples → 7×7 conv → tanh. Input and output are ``(B, 3, H, W)`` in [-1, 1]; H and W must be
multiples of 4 (two stride-2 stages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gan_bokeh.nets.layers import init_weights, norm_layer
from gan_bokeh.nets.registry import register_generator


class ResnetBlock(nn.Module):
    """``x + conv(norm(relu(conv(norm(x)))))`` with reflection padding (keeps borders artifact-free)."""

    def __init__(self, dim: int, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        Norm = norm_layer(norm)
        use_bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), Norm(dim), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), Norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """ResNet-based generator.

    Args:
        in_channels: input channels (3).
        out_channels: output channels (3).
        ngf: width of the first layer (64 in the paper; 16 is enough for CPU smoke runs).
        n_blocks: residual blocks (9 for 256 px in the paper, 6 for 128 px).
        norm: ``instance`` | ``batch`` | ``none``.
        dropout: dropout inside residual blocks.
        upsample: ``deconv`` (paper) or ``resize`` (nearest-neighbour + conv, avoids the checkerboard
            artifacts the paper reports in §4.4.1).

    Shape:
        ``(B, in_channels, H, W)`` → ``(B, out_channels, H, W)``, values in [-1, 1].
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", dropout: float = 0.0, upsample: str = "deconv") -> None:
        super().__init__()
        if n_blocks < 0 or ngf < 1:
            raise ValueError("n_blocks must be >= 0 and ngf >= 1")
        Norm = norm_layer(norm)
        use_bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=use_bias), Norm(ngf), nn.ReLU(True)]
        for i in range(2):  # downsample ×4
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=use_bias), Norm(c * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        for i in range(2):  # upsample ×4
            c = ngf * 2 ** (2 - i)
            if upsample == "deconv":
                up: list[nn.Module] = [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1,
                                                          bias=use_bias)]
            elif upsample == "resize":
                up = [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                      nn.Conv2d(c, c // 2, 3, bias=use_bias)]
            else:
                raise ValueError(f"unknown upsample {upsample!r}; choose deconv or resize")
            layers += [*up, Norm(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # -- encoder features (PatchNCE, Park et al. 2020) -------------------------------------------------
    def default_feature_layers(self) -> list[int]:
        """CUT's layers for this generator: the padded input (0), the first downsampling conv (4), the
        second downsampling stage's norm (8), and two residual blocks — for 9 blocks exactly CUT's
        ``0, 4, 8, 12, 16`` (the 3rd and 7th block); fewer blocks take the nearest existing ones."""
        first_block = 10  # pad, conv, norm, relu, then 2 × (conv, norm, relu)
        n_blocks = sum(isinstance(m, ResnetBlock) for m in self.model)
        blocks = sorted({first_block + min(k, n_blocks - 1) for k in (2, 6)}) if n_blocks else []
        return [0, 4, 8, *blocks]

    def feature_channels(self, layers: list[int]) -> list[int]:
        """Channels of the features :meth:`encode` returns for ``layers``."""
        out = []
        for i in layers:
            ch = None
            for m in list(self.model)[: i + 1]:
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    ch = m.out_channels
            first = next(m for m in self.model if isinstance(m, nn.Conv2d))
            out.append(first.in_channels if ch is None else ch)
        return out

    def encode(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """Features after each module index in ``layers`` of the sequential model (ascending), stopping
        after the last one: ``(B, C_l, H_l, W_l)`` each. Used by the PatchNCE loss; the generator's
        ``forward`` and its registry are unchanged."""
        if not layers or min(layers) < 0 or max(layers) >= len(self.model):
            raise ValueError(f"feature layers {layers} outside 0..{len(self.model) - 1}")
        wanted, feats = set(layers), {}
        for i, m in enumerate(self.model):
            x = m(x)
            if i in wanted:
                feats[i] = x
                if len(feats) == len(wanted):
                    break
        return [feats[i] for i in layers]


def _named_resnet(n_blocks: int, doc: str) -> Callable[..., ResnetGenerator]:
    """A factory whose name fixes the block count. ``n_blocks`` is still accepted so that checkpoints whose
    ``arch`` record carries it (older runs) load as they were trained; the config refuses a conflict."""

    def factory(**kwargs: Any) -> ResnetGenerator:
        kwargs.setdefault("n_blocks", n_blocks)
        return ResnetGenerator(**kwargs)

    factory.__doc__ = doc
    factory.n_blocks = n_blocks  # type: ignore[attr-defined]  # read by registry.generator_blocks
    return factory


register_generator("resnet_9blocks")(_named_resnet(9, "The paper's generator for 256×256 images (9 blocks)."))
register_generator("resnet_6blocks")(_named_resnet(6, "CycleGAN's generator for 128×128 images (6 blocks)."))


@register_generator("resnet")
def resnet(**kwargs: Any) -> ResnetGenerator:
    """The ResNet generator with ``n_blocks`` residual blocks (``model.n_blocks``; 9 when not given), for
    small CPU models (``configs/cpu_small.yaml``: 3 blocks)."""
    return ResnetGenerator(**kwargs)
