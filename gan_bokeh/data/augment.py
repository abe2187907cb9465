"""Device-side (kornia) augmentation: random crop → horizontal flip → optional colour jitter, batched on the
training device, with the SAME crop window and flip for an image and its mask (paper: 286 → 256 + flip).

Randomness comes from torch's global generator (kornia samples its parameters on the CPU generator), so the
RNG states a checkpoint saves (:mod:`gan_bokeh.train.rng`) cover it and a resumed run draws the same crops.
"""

from __future__ import annotations

from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor, nn

__all__ = ["PairedAugment", "paired_augment", "augment_batch"]


def _check(image: Tensor, mask: Tensor | None, crop_size: int) -> None:
    if image.ndim != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise ValueError(f"expected float (B, 3, H, W) images in [0, 1], got {image.dtype} {tuple(image.shape)}")
    if mask is not None and (mask.ndim != 4 or mask.shape[1] < 1 or mask.shape[0] != image.shape[0]
                             or mask.shape[2:] != image.shape[2:]):
        raise ValueError(f"expected a (B, 1, H, W) mask (or (B, k, H, W): mask + depth) matching images "
                         f"{tuple(image.shape)}, got {tuple(mask.shape)}")
    h, w = image.shape[2:]
    if crop_size > h or crop_size > w:
        raise ValueError(f"crop {crop_size} is larger than the images ({w}x{h}); "
                         "set data.load_size >= data.crop_size")


class PairedAugment(nn.Module):
    """Random ``crop_size²`` crop, random horizontal flip (p = ½) and optional colour jitter, drawn per sample
    and applied identically to the image and its mask; the mask is never colour-jittered.

    Args:
        crop_size: output side (``data.crop_size``).
        flip: random horizontal flip (``data.flip``).
        color_jitter: strength ``s`` in [0, 1] (``data.color_jitter``; 0 = off, as in the paper): brightness,
            contrast and saturation factors in ``[1 − s, 1 + s]`` and a hue shift in ``[−s/4, s/4]``.

    Shape:
        - image: ``(B, 3, H, W)`` float in [0, 1]; mask: ``(B, 1, H, W)`` float in [0, 1] or ``None``.
        - output: ``(B, 3, crop_size, crop_size)`` in [0, 1] and ``(B, 1, crop_size, crop_size)`` or ``None``.
    """

    def __init__(self, crop_size: int, *, flip: bool = True, color_jitter: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= color_jitter <= 1.0:
            raise ValueError(f"color_jitter must be in [0, 1], got {color_jitter}")
        self.crop_size = crop_size
        ops: list[nn.Module] = [K.RandomCrop((crop_size, crop_size))]
        if flip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if color_jitter > 0:  # intensity op: AugmentationSequential leaves the mask alone
            s = color_jitter
            ops.append(K.ColorJitter(brightness=s, contrast=s, saturation=s, hue=s / 4, p=1.0))
        self.seq = K.AugmentationSequential(*ops, data_keys=["input", "mask"])

    def forward(self, image: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        _check(image, mask, self.crop_size)
        if mask is None:
            return self.seq(image, data_keys=["input"]), None
        out, m = self.seq(image, mask)
        return out, m


def paired_augment(image: Tensor, mask: Tensor | None = None, *, crop_size: int, flip: bool = True,
                   color_jitter: float = 0.0) -> tuple[Tensor, Tensor | None]:
    """Functional form of :class:`PairedAugment` (same arguments, same draws from torch's generator)."""
    return PairedAugment(crop_size, flip=flip, color_jitter=color_jitter)(image, mask)


def _to_unit(t: Tensor, device: torch.device) -> Tensor:
    """uint8 [0, 255] (the loader's output) or float [0, 1] → float32 [0, 1] on ``device``."""
    t = t.to(device, non_blocking=True)
    return t.float().div_(255.0) if t.dtype == torch.uint8 else t.float()


def augment_batch(batch: dict[str, Any], aug: PairedAugment, device: torch.device) -> dict[str, Any]:
    """A collated loader batch (``A``, ``B`` uint8 ``(B, 3, L, L)``, optional ``mask_A``, ``mask_B``,
    ``depth_A``, ``depth_B`` uint8 ``(B, 1, L, L)``) → the same dict with training tensors on ``device``:
    images ``(B, 3, S, S)`` in [-1, 1], masks and depth ``(B, 1, S, S)`` in [0, 1], cropped and flipped with
    their image (they ride through the augmentation as channels of one mask tensor). Domain A is drawn
    before domain B."""
    out = dict(batch)
    for dom in "AB":
        keys = [k for k in (f"mask_{dom}", f"depth_{dom}") if batch.get(k) is not None]
        aux = torch.cat([_to_unit(batch[k], device) for k in keys], 1) if keys else None
        img, aux = aug(_to_unit(batch[dom], device), aux)
        out[dom] = img.mul_(2.0).sub_(1.0)
        if aux is not None:
            for i, k in enumerate(keys):
                out[k] = aux[:, i:i + 1]
    return out
