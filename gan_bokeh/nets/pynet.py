"""PyNET for bokeh rendering (Ignatov, Patel, Timofte, "Rendering Natural Camera Bokeh Effect with Deep
Learning", CVPR Workshops 2020), built on PyNET (Ignatov, Van Gool, Timofte, "Replacing Mobile Camera ISP
with a Single Deep Learning Model", CVPR Workshops 2020).

How the bokeh version is fed (the authors' recipe): the photo is downscaled ×2, its MegaDepth map (already
at half resolution) is stacked as a fourth channel, and the network returns the bokeh image at the photo's
*full* resolution. Inside:

* a space-to-depth step (×2) brings the half-resolution input to the top of the five PyNET levels;
* five levels at decreasing scales (1/2 … 1/32 of the input), each made of multi-kernel blocks (parallel
  3×3 … 9×9 convolution pairs whose outputs are concatenated); instance normalisation in every level below
  the top one; the features of a lower level are upsampled by transposed convolutions and stacked with the
  features of the level above;
* two transposed convolutions on top bring the result to the input scale and then to twice it.

Levels are numbered as in the authors' code, 1 (finest) … 7 (coarsest): levels 3–7 are PyNET's five scale
levels, levels 2 and 1 are the two transposed convolutions. ``forward(x, level=k)`` returns level k's
image, of side ``input × 2^(2−k)`` (level 1: 2× the input, level 2: 1×, level 3: ½, …, level 7: 1/32).

Parameter count (``width=32``): 47,556,501 with the depth channel, 47,555,349 without
(:func:`count_parameters`, ``scripts/bench_pynet.py``), against ~47.5 M for the public PyTorch port of the ISP
PyNET. The body is the same; only the input stage (16 space-to-depth channels instead of 4 Bayer planes) and
the two transposed convolutions on top (instead of the ISP model's one) differ, about 0.01 M in all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_bokeh.nets.registry import register_generator

__all__ = ["PyNETBokeh", "LEVELS", "level_scale", "MULTIPLE", "pynet"]

#: Levels, finest first (1 = full target resolution).
LEVELS = (1, 2, 3, 4, 5, 6, 7)
#: Input sides must be multiples of this (space-to-depth ×2 and four 2×2 poolings).
MULTIPLE = 32


def level_scale(level: int) -> float:
    """Output side / input side at ``level`` (2.0 at level 1, 1/32 at level 7)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level}")
    return 2.0 ** (2 - level)


class _Conv(nn.Sequential):
    """conv (zero 'same' padding) → optional instance norm (affine, as in PyNET) → LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int, k: int, norm: bool, act: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2)]
        if norm:
            layers.append(nn.InstanceNorm2d(c_out, affine=True))
        if act:
            layers.append(nn.LeakyReLU(0.2))
        super().__init__(*layers)


class MultiConv(nn.Module):
    """PyNET's multi-kernel block: for each kernel size 3, 5, … up to ``max_k``, two stacked convolutions
    of that size; their outputs are concatenated.

    Shape: ``(B, c_in, H, W)`` → ``(B, c_out · n_kernels, H, W)`` with ``n_kernels = (max_k − 1) / 2``.
    """

    def __init__(self, c_in: int, c_out: int, max_k: int, norm: bool) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(_Conv(c_in, c_out, k, norm), _Conv(c_out, c_out, k, norm)) for k in range(3, max_k + 1, 2))
        self.out_channels = c_out * len(self.branches)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class _Up(nn.Sequential):
    """3×3 transposed convolution, stride 2 (exact ×2), then LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                         nn.LeakyReLU(0.2))


def _head(c_in: int) -> nn.Module:
    return nn.Conv2d(c_in, 3, 3, padding=1)


class PyNETBokeh(nn.Module):
    """PyNET for bokeh rendering (see the module docstring for the layout and the level numbering).

    Args:
        in_channels: 3 (RGB) or 4 (RGB + depth, the authors' setting with MegaDepth maps).
        width: channels of the top PyNET level; level j (3…7) has ``width · 2^(j−3)`` (paper: 32).
        instance_norm: instance normalisation in levels 4–7 (PyNET's levels 2–5).
        instance_norm_top: also in the 9×9 blocks of level 3 (the authors leave it off).

    Shape:
        ``(B, in_channels, H, W)`` in [-1, 1], ``H`` and ``W`` multiples of 32 →
        ``(B, 3, H·s, W·s)`` in [-1, 1] with ``s = level_scale(level)`` (tanh output).
    """

    levels = LEVELS
    level_scale = staticmethod(level_scale)

    def __init__(self, in_channels: int = 3, width: int = 32, instance_norm: bool = True,
                 instance_norm_top: bool = False) -> None:
        super().__init__()
        if in_channels < 1 or width < 2:
            raise ValueError("in_channels must be >= 1 and width >= 2")
        w, n = width, instance_norm
        self.in_channels, self.width = in_channels, width
        c = {j: w * 2 ** (j - 3) for j in range(3, 8)}  # channels of main level j
        # Encoder: the first block of every main level (used at every training level).
        self.enc3 = MultiConv(4 * in_channels, c[3], 3, norm=False)
        self.enc4 = MultiConv(c[3], c[4], 3, n)
        self.enc5 = MultiConv(c[4], c[5], 3, n)
        self.enc6 = MultiConv(c[5], c[6], 3, n)
        self.enc7 = MultiConv(c[6], c[7], 3, n)
        # Level 7 (1/32 of the input).
        self.body7 = nn.ModuleDict({f"d{i}": MultiConv(c[7], c[7], 3, n) for i in (2, 3, 4)})
        self.head7 = _head(c[7])
        self.up7 = nn.ModuleDict({"a": _Up(c[7], c[6]), "b": _Up(c[7], c[6])})
        # Level 6.
        self.body6 = nn.ModuleDict({
            "d3": MultiConv(2 * c[6], c[6], 3, n), **{f"d{i}": MultiConv(c[6], c[6], 3, n) for i in (4, 5, 6)},
            "d8": MultiConv(2 * c[6], c[6], 3, n)})
        self.head6 = _head(c[6])
        self.up6 = nn.ModuleDict({"a": _Up(c[6], c[5]), "b": _Up(c[6], c[5])})
        # Level 5: 5×5 blocks (two kernels → 2·c5 channels) with residuals.
        self.body5 = nn.ModuleDict({**{f"d{i}": MultiConv(2 * c[5], c[5], 5, n) for i in (3, 4, 5, 6)},
                                    "d8": MultiConv(4 * c[5], c[5], 3, n)})
        self.head5 = _head(c[5])
        self.up5 = nn.ModuleDict({"a": _Up(c[5], c[4]), "b": _Up(c[5], c[4])})
        # Level 4: 5×5 and 7×7 blocks.
        self.body4 = nn.ModuleDict({
            "d3": MultiConv(2 * c[4], c[4], 5, n),
            **{f"d{i}": MultiConv(3 * c[4], c[4], 7, n) for i in (5, 6, 7, 8)},
            "d10": MultiConv(4 * c[4], c[4], 5, n), "d12": MultiConv(3 * c[4], c[4], 3, n)})
        self.head4 = _head(c[4])
        self.up4 = nn.ModuleDict({"a": _Up(c[4], c[3]), "b": _Up(c[4], c[3])})
        # Level 3 (top PyNET level, 1/2 of the input): up to 9×9 blocks, no instance norm by default.
        t = instance_norm_top
        self.body3 = nn.ModuleDict({
            "d3": MultiConv(2 * c[3], c[3], 5, False), "d5": MultiConv(3 * c[3], c[3], 7, False),
            **{f"d{i}": MultiConv(3 * c[3] if i == 6 else 4 * c[3], c[3], 9, t) for i in (6, 7, 8, 9)},
            "d10": MultiConv(4 * c[3], c[3], 7, False), "d12": MultiConv(4 * c[3], c[3], 5, False),
            "d14": MultiConv(4 * c[3], c[3], 3, False)})
        self.head3 = _head(c[3])
        # The two transposed convolutions on top: level 2 (input scale) and level 1 (2× the input).
        c2, c1 = max(c[3] // 2, 4), max(c[3] // 4, 4)
        self.up3 = _Up(c[3], c2)
        self.head2 = _head(c2)
        self.up2 = _Up(c2, c1)
        self.head1 = _head(c1)

    # -- which parameters a level trains ---------------------------------------------------------------
    @staticmethod
    def level_prefixes(level: int) -> tuple[str, ...]:
        """Top-level module names whose parameters ``forward(x, level)`` uses."""
        level_scale(level)
        used = [f"enc{j}" for j in range(3, 8)] + [f"head{level}"]
        used += [f"body{j}" for j in range(max(level, 3), 8)]
        used += [f"up{j}" for j in range(level + 1, 8)]
        return tuple(used)

    def level_parameters(self, level: int) -> list[nn.Parameter]:
        """The parameters that receive a gradient when training ``level``."""
        keep = self.level_prefixes(level)
        return [p for name, p in self.named_parameters() if name.split(".")[0] in keep]

    # -- forward ----------------------------------------------------------------------------------------
    def forward(self, x: Tensor, level: int = 1) -> Tensor:
        level_scale(level)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % MULTIPLE or x.shape[3] % MULTIPLE:
            raise ValueError(f"input sides must be multiples of {MULTIPLE}, got {tuple(x.shape[2:])}")
        e3 = self.enc3(F.pixel_unshuffle(x, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        e5 = self.enc5(F.max_pool2d(e4, 2))
        e6 = self.enc6(F.max_pool2d(e5, 2))
        e7 = self.enc7(F.max_pool2d(e6, 2))
        f7 = self._level7(e7)
        if level == 7:
            return torch.tanh(self.head7(f7))
        f6 = self._level6(e6, f7)
        if level == 6:
            return torch.tanh(self.head6(f6))
        f5 = self._level5(e5, f6)
        if level == 5:
            return torch.tanh(self.head5(f5))
        f4 = self._level4(e4, f5)
        if level == 4:
            return torch.tanh(self.head4(f4))
        f3 = self._level3(e3, f4)
        if level == 3:
            return torch.tanh(self.head3(f3))
        f2 = self.up3(f3)
        if level == 2:
            return torch.tanh(self.head2(f2))
        return torch.tanh(self.head1(self.up2(f2)))

    def _level7(self, e7: Tensor) -> Tensor:
        b = self.body7
        d2 = b["d2"](e7) + e7
        d3 = b["d3"](d2) + d2
        return b["d4"](d3)

    def _level6(self, e6: Tensor, f7: Tensor) -> Tensor:
        b, up = self.body6, self.up7
        d3 = b["d3"](torch.cat([e6, up["a"](f7)], 1))
        d4 = b["d4"](d3) + d3
        d5 = b["d5"](d4) + d4
        d6 = b["d6"](d5)
        return b["d8"](torch.cat([d6, up["b"](f7)], 1))

    def _level5(self, e5: Tensor, f6: Tensor) -> Tensor:
        b, up = self.body5, self.up6
        d2 = torch.cat([e5, up["a"](f6)], 1)
        d3 = b["d3"](d2) + d2
        d4 = b["d4"](d3) + d3
        d5 = b["d5"](d4) + d4
        d6 = b["d6"](d5)
        return b["d8"](torch.cat([d6, e5, up["b"](f6)], 1))

    def _level4(self, e4: Tensor, f5: Tensor) -> Tensor:
        b, up = self.body4, self.up5
        d3 = b["d3"](torch.cat([e4, up["a"](f5)], 1))
        d4 = torch.cat([d3, e4], 1)
        d5 = b["d5"](d4) + d4
        d6 = b["d6"](d5) + d5
        d7 = b["d7"](d6) + d6
        d8 = b["d8"](d7)
        d10 = b["d10"](torch.cat([d8, e4], 1))
        return b["d12"](torch.cat([d10, up["b"](f5)], 1))

    def _level3(self, e3: Tensor, f4: Tensor) -> Tensor:
        b, up = self.body3, self.up4
        d3 = b["d3"](torch.cat([e3, up["a"](f4)], 1))
        d5 = b["d5"](torch.cat([d3, e3], 1))
        d6 = b["d6"](d5)
        d7 = b["d7"](d6) + d6
        d8 = b["d8"](d7) + d7
        d9 = b["d9"](d8) + d8
        d10 = b["d10"](d9)
        d12 = b["d12"](torch.cat([d10, e3], 1))
        return b["d14"](torch.cat([d12, up["b"](f4), e3], 1))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters())


@register_generator("pynet")
def pynet(ngf: int = 32, depth: bool = False, instance_norm: bool = True, instance_norm_top: bool = False,
          **_ignored: object) -> PyNETBokeh:
    """PyNET bokeh; ``ngf`` is the width (paper 32; ``model.ngf``), ``depth`` adds the depth input channel.

    Keys other generators take (``n_blocks``, ``norm``, ``upsample``, ``dropout``) do not apply and are
    ignored, so one ``model`` config section builds any registered generator.
    """
    return PyNETBokeh(in_channels=4 if depth else 3, width=ngf, instance_norm=instance_norm,
                      instance_norm_top=instance_norm_top)
