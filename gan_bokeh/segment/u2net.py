"""U²-Net salient-object segmentation (Qin et al., "U²-Net: Going Deeper with Nested U-Structure for
Salient Object Detection", 2020): the subject of *any* kind, not only people.

The module names follow the authors' release, so their checkpoints (``u2net.pth``, 176 MB;
``u2netp.pth``, 4.7 MB) load with ``strict=True``. Weights come from
:func:`gan_bokeh.weights.resolve_weights` (``--weights PATH`` → torch hub cache → download); nothing is
downloaded in a constructor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_bokeh.segment.base import check_image, resize_hw

__all__ = ["U2NET_URLS", "U2NET_VARIANTS", "U2Net", "U2NetSegmenter", "build_u2net", "check_variant"]

#: Release copies of the authors' checkpoints (the originals are on Google Drive, which has no stable URL).
U2NET_URLS = {
    "u2net": "https://github.com/OPHoperHPO/image-background-remove-tool/releases/download/3.2/u2net.pth",
    "u2netp": "https://github.com/OPHoperHPO/image-background-remove-tool/releases/download/3.2/u2netp.pth",
}
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class REBNCONV(nn.Module):
    """3×3 (dilated) convolution → batch norm → ReLU."""

    def __init__(self, in_ch: int, out_ch: int, dirate: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dirate, dilation=dirate)
        self.bn_s1 = nn.BatchNorm2d(out_ch)
        self.relu_s1 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu_s1(self.bn_s1(self.conv_s1(x)))


def _up(src: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(src, size=like.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """Residual U-block of ``height`` levels (RSU-7 … RSU-4): a small U-Net whose output is added to its
    input convolution. Attribute names match the release (``rebnconvin``, ``rebnconv1`` … ``rebnconv1d``)."""

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.height = height
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch)
        for i in range(2, height):
            setattr(self, f"rebnconv{i}", REBNCONV(mid_ch, mid_ch))
        setattr(self, f"rebnconv{height}", REBNCONV(mid_ch, mid_ch, dirate=2))
        for i in range(height - 1, 1, -1):
            setattr(self, f"rebnconv{i}d", REBNCONV(mid_ch * 2, mid_ch))
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        enc = [self.rebnconv1(hxin)]
        for i in range(2, self.height):
            pooled = F.max_pool2d(enc[-1], 2, stride=2, ceil_mode=True)
            enc.append(getattr(self, f"rebnconv{i}")(pooled))
        hx = getattr(self, f"rebnconv{self.height}")(enc[-1])
        for i in range(self.height - 1, 0, -1):
            hx = getattr(self, f"rebnconv{i}d")(torch.cat((hx, enc[i - 1]), 1))
            if i > 1:
                hx = _up(hx, enc[i - 2])
        return hx + hxin


class RSU4F(nn.Module):
    """RSU-4 with dilations (1, 2, 4, 8) instead of pooling (the two lowest-resolution stages)."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch)
        self.rebnconv2 = REBNCONV(mid_ch, mid_ch, dirate=2)
        self.rebnconv3 = REBNCONV(mid_ch, mid_ch, dirate=4)
        self.rebnconv4 = REBNCONV(mid_ch, mid_ch, dirate=8)
        self.rebnconv3d = REBNCONV(mid_ch * 2, mid_ch, dirate=4)
        self.rebnconv2d = REBNCONV(mid_ch * 2, mid_ch, dirate=2)
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        hx1 = self.rebnconv1(hxin)
        hx2 = self.rebnconv2(hx1)
        hx3 = self.rebnconv3(hx2)
        hx4 = self.rebnconv4(hx3)
        hx3d = self.rebnconv3d(torch.cat((hx4, hx3), 1))
        hx2d = self.rebnconv2d(torch.cat((hx3d, hx2), 1))
        return self.rebnconv1d(torch.cat((hx2d, hx1), 1)) + hxin


#: (encoder stages 1–6, decoder stages 5d–1d) as (in, mid, out) channels; heights are 7 6 5 4 4F 4F.
U2NET_VARIANTS: dict[str, tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int, int], ...]]] = {
    "u2net": (((3, 32, 64), (64, 32, 128), (128, 64, 256), (256, 128, 512), (512, 256, 512), (512, 256, 512)),
              ((1024, 256, 512), (1024, 128, 256), (512, 64, 128), (256, 32, 64), (128, 16, 64))),
    "u2netp": (((3, 16, 64), (64, 16, 64), (64, 16, 64), (64, 16, 64), (64, 16, 64), (64, 16, 64)),
               ((128, 16, 64), (128, 16, 64), (128, 16, 64), (128, 16, 64), (128, 16, 64))),
}
_HEIGHTS = (7, 6, 5, 4, 0, 0)  # 0 = RSU4F


def _block(height: int, ch: tuple[int, int, int]) -> nn.Module:
    return RSU4F(*ch) if height == 0 else RSU(height, *ch)


class U2Net(nn.Module):
    """U²-Net: six encoder RSU stages, five decoder stages, six side outputs fused by a 1×1 convolution.

    Args:
        variant: ``"u2net"`` (44 M parameters) or ``"u2netp"`` (1.1 M).

    ``forward(x (N, 3, H, W) normalised) → (N, 1, H, W)`` saliency *logits* of the fused output (the
    release applies the sigmoid inside; here the caller does, so training code can use a logits loss).
    """

    def __init__(self, variant: str = "u2net") -> None:
        super().__init__()
        enc, dec = U2NET_VARIANTS[variant]
        for i, (h, ch) in enumerate(zip(_HEIGHTS, enc, strict=True), start=1):
            setattr(self, f"stage{i}", _block(h, ch))
        for i, (h, ch) in zip(range(5, 0, -1), zip(_HEIGHTS[4::-1], dec, strict=True), strict=True):
            setattr(self, f"stage{i}d", _block(h, ch))
        side_in = [dec[4][2], dec[3][2], dec[2][2], dec[1][2], dec[0][2], enc[5][2]]
        for i, c in enumerate(side_in, start=1):
            setattr(self, f"side{i}", nn.Conv2d(c, 1, 3, padding=1))
        self.outconv = nn.Conv2d(6, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = []
        hx = x
        for i in range(1, 7):
            hx = getattr(self, f"stage{i}")(hx)
            enc.append(hx)
            if i < 6:
                hx = F.max_pool2d(hx, 2, stride=2, ceil_mode=True)
        hx = _up(enc[5], enc[4])
        dec = {6: enc[5]}
        for i in range(5, 0, -1):
            d = getattr(self, f"stage{i}d")(torch.cat((hx, enc[i - 1]), 1))
            dec[i] = d
            if i > 1:
                hx = _up(d, enc[i - 2])
        sides = [_up(getattr(self, f"side{i}")(dec[i]), x) for i in range(1, 7)]
        return self.outconv(torch.cat(sides, 1))


def check_variant(variant: str) -> None:
    """Raise :class:`~gan_bokeh.errors.UserError` for a variant not in :data:`U2NET_VARIANTS` (cheap: builds
    nothing, so callers can check before a download)."""
    if variant not in U2NET_VARIANTS:
        from gan_bokeh.errors import UserError

        raise UserError(f"--u2net-variant {variant}: unknown; choose from {', '.join(U2NET_VARIANTS)}")


def build_u2net(variant: str = "u2net") -> U2Net:
    """A randomly initialised U²-Net (no download)."""
    check_variant(variant)
    return U2Net(variant)


class U2NetSegmenter:
    """Salient-object probability from U²-Net.

    Args:
        variant: key of :data:`U2NET_VARIANTS`.
        state_dict: weights for :func:`build_u2net` (``None`` keeps the random init: tests only).
        device: torch device.
        size: square network input (the release uses 320).

    Output: the sigmoid of the fused map, min–max stretched per image as the release does (saliency is
    relative), resized back to the image.
    """

    def __init__(self, variant: str = "u2net", state_dict: dict[str, Any] | None = None, device: Any = "cpu",
                 size: int = 320) -> None:
        self.name = variant
        self.device = torch.device(device)
        self.size = int(size)
        net = build_u2net(variant)
        if state_dict is not None:
            try:
                net.load_state_dict(state_dict, strict=True)
            except RuntimeError as err:
                from gan_bokeh.errors import UserError, first_line

                raise UserError(f"weights do not fit U²-Net {variant} ({first_line(err)}); "
                                "check --u2net-variant") from None
        self.net = net.eval().to(self.device)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        img = check_image(image)
        h, w = img.shape[:2]
        x = resize_hw(img, self.size, self.size)
        # the release divides by the image maximum before the ImageNet normalisation
        x = x / max(float(x.max()), 1e-6)
        x = (x - np.asarray(_MEAN, np.float32)) / np.asarray(_STD, np.float32)
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(self.device)
            prob = torch.sigmoid(self.net(t)).squeeze().float().cpu().numpy()
        lo, hi = float(prob.min()), float(prob.max())
        prob = (prob - lo) / (hi - lo) if hi - lo > 1e-8 else np.zeros_like(prob)
        return np.clip(resize_hw(prob.astype(np.float32), h, w), 0.0, 1.0)
