"""Full-resolution inference with a trained generator (G: A→B, or F: B→A).

The paper's networks see 256 px (§4.4.3); photos are 12 MP. Running the ResNet generator at full size is
impossible on a CPU (~19 s at 1024 px) and also wrong: the network never learned what a 4000-px face looks
like. So the generator runs at a *working resolution* (short side = the training crop, 256, or
``work_size``) and only its output is carried to full size. How it is carried is the ``merge`` mode:

* ``resize`` — bicubic upscale of ``G(x_s)``: the soft, upscaled look (kept as a baseline).
* ``delta`` — full-res input plus the upscaled *change*: ``x + up(G(x_s) − x_s)``. Keeps every full-res
  detail, also in the background the generator wanted blurred (texture finer than the working pixel
  grid survives the "defocus").
* ``detail`` (default) — the change plus *gated* detail:
  ``y = up(G(x_s)) + up(k) ⊙ (x − up(x_s))`` where ``x − up(x_s)`` is the detail lost by downscaling and
  ``k ∈ [0, 1]`` is the local high-frequency energy ratio ``sqrt(E[ΔG²] / E[Δx_s²])`` measured at working
  resolution (Δ = Laplacian, E = Gaussian local mean). Where the generator kept the image sharp (subject)
  ``k ≈ 1`` and this equals ``delta``; where it blurred (background) ``k ≈ 0`` and the fine detail is
  dropped, like ``resize``. ``k`` is smooth, so the product is computed as
  ``up(k)·x + up(G(x_s) − k·x_s)`` — one 3-channel and one 1-channel upscale at full size.

With ``overlay`` (the paper's mask overlay at test time, Eq. of §3.3: ``y = m ⊙ x + (1 − m) ⊙ G(x)``) the
subject is composited from the *full-resolution* input through a full-resolution mask.

Optionally (``tile > 0``) the working image may be larger than a tile; the generator then runs on
overlapping ``tile``-px blocks (§4.4.3's idea of working in blocks) blended with linear ramps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from gan_bokeh.errors import UserError
from gan_bokeh.io import resize_image
from gan_bokeh.registry import MERGE_MODES as _MERGE_REGISTRY

MERGE_MODES: tuple[str, ...] = _MERGE_REGISTRY.names()  # the registry gan_bokeh.registry.MERGE_MODES
DEFAULT_WORK_SIZE = 256


def working_shape(height: int, width: int, short_side: int, multiple: int = 4) -> tuple[int, int]:
    """Shape ``(h, w)`` with the short side ≈ ``short_side``, aspect kept, both multiples of ``multiple``.

    Never upsamples: an image smaller than ``short_side`` keeps its size (rounded to the multiple).
    The ResNet generator needs multiples of 4 (two stride-2 stages).
    """
    if height < 1 or width < 1 or short_side < multiple:
        raise ValueError(f"bad sizes: {height}x{width}, short_side={short_side}")
    scale = min(1.0, short_side / min(height, width))

    def _round(v: float) -> int:
        return max(multiple, int(round(v / multiple)) * multiple)

    return _round(height * scale), _round(width * scale)


def _ramp(tile: int, overlap: int) -> np.ndarray:
    """1-D blending window: 1 in the middle, linear ramps over ``overlap`` px at both ends."""
    r = np.ones(tile, np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        r[:overlap] = ramp
        r[-overlap:] = ramp[::-1]
    return r


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def run_network(net: nn.Module, images: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """Run ``net`` on a same-shape batch ``(B, H, W, 3)`` [0, 1] → ``(B, H, W, 3)`` [0, 1]."""
    from gan_bokeh.data.tensors import images_to_tensor, tensor_to_images

    with torch.inference_mode():
        out = net(images_to_tensor(images).to(device))
    return tensor_to_images(out)


def run_tiled(net: nn.Module, image: np.ndarray, tile: int, overlap: int = 32,
              device: torch.device | str = "cpu", batch_size: int = 4) -> np.ndarray:
    """Run ``net`` over overlapping ``tile``-px blocks of ``image`` (H, W, 3) and blend them.

    Each block is normalised on its own (instance norm), so blocks may differ slightly in tone; the linear
    ramps over ``overlap`` px hide the seams. ``tile`` and image sides must be multiples of 4.
    """
    h, w = image.shape[:2]
    th, tw = min(tile, h), min(tile, w)
    ov = min(overlap, th // 2, tw // 2)
    boxes = [(y, x) for y in _tile_starts(h, th, ov) for x in _tile_starts(w, tw, ov)]
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w, 1), np.float32)
    weight = np.outer(_ramp(th, ov), _ramp(tw, ov))[..., None]
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        out = run_network(net, np.stack([image[y:y + th, x:x + tw] for y, x in chunk]), device)
        for (y, x), o in zip(chunk, out, strict=True):
            acc[y:y + th, x:x + tw] += o * weight
            wsum[y:y + th, x:x + tw] += weight
    return acc / np.maximum(wsum, 1e-6)


def detail_gain(small: np.ndarray, generated: np.ndarray, sigma: float = 2.0, eps: float = 1e-6) -> np.ndarray:
    """Local high-frequency energy ratio ``k = sqrt((E[ΔG²] + eps) / (E[Δx²] + eps))`` clipped to [0, 1].

    Args:
        small: working-resolution input ``(h, w, 3)`` [0, 1].
        generated: generator output at the same size.
        sigma: Gaussian σ (working px) of the local mean ``E``.
        eps: added to both energies, so where neither has texture ``k = 1`` (an unchanged region keeps
            its full-resolution detail exactly; an identity generator reproduces the input).

    Returns:
        ``(h, w)`` float32 in [0, 1]; ≈ 1 where G kept the texture, ≈ 0 where it blurred it.
    """
    def energy(img: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2GRAY)
        lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
        return cv2.GaussianBlur(lap * lap, (0, 0), sigma)

    k = np.sqrt((energy(generated) + eps) / (energy(small) + eps))
    return np.clip(k, 0.0, 1.0).astype(np.float32)


def merge_full_resolution(full: np.ndarray, small: np.ndarray, generated: np.ndarray,
                          mode: str = "detail") -> np.ndarray:
    """Carry a working-resolution generator output to the full-resolution input's size.

    Args:
        full: full-resolution input ``(H, W, 3)`` float32 [0, 1].
        small: the working-resolution input the generator saw ``(h, w, 3)``.
        generated: ``G(small)``, same shape as ``small``.
        mode: ``detail`` | ``delta`` | ``resize`` (see module docstring).

    Returns:
        ``(H, W, 3)`` float32 [0, 1].
    """
    shape = full.shape[:2]
    if mode == "resize":
        out = resize_image(generated, shape)
    elif mode == "delta":
        out = full + resize_image(generated - small, shape)
    elif mode == "detail":
        k = detail_gain(small, generated)
        k_up = resize_image(k, shape, up="linear")[..., None]
        out = resize_image(generated - k[..., None] * small, shape)
        out += k_up * full
    else:
        raise ValueError(f"unknown merge mode {mode!r}; choose one of {', '.join(MERGE_MODES)}")
    return np.clip(out, 0.0, 1.0, out=out)


def overlay(generated: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The paper's mask overlay: ``m ⊙ original + (1 − m) ⊙ generated`` (mask resized if needed).

    Args:
        generated: ``(H, W, 3)`` [0, 1].
        original: ``(H, W, 3)`` [0, 1], the full-resolution input.
        mask: ``(h, w)`` [0, 1] subject mask, any size (resized bilinearly to ``H×W``).
    """
    m = np.ascontiguousarray(resize_image(np.asarray(mask, np.float32), original.shape[:2], up="linear"))
    # one multithreaded OpenCV pass (≈ 2× faster than numpy broadcasting at 12 MP). blendLinear divides by
    # (w1 + w2 + 1e-5); weights scaled by 1024 make that floor negligible (relative error 1e-8).
    w = m * 1024.0
    return cv2.blendLinear(np.ascontiguousarray(original, np.float32), np.ascontiguousarray(generated, np.float32),
                           w, 1024.0 - w)


@dataclass
class FullResGenerator:
    """A loaded generator plus the full-resolution strategy.

    Args:
        net: the generator (eval mode), on ``device``.
        work_size: short side of the working resolution (multiple of 4).
        merge: ``detail`` | ``delta`` | ``resize``.
        tile: when > 0, run the network on overlapping ``tile``-px blocks of the working image.
        overlap: tile overlap in working pixels.
        device: torch device of ``net``.
    """

    net: nn.Module
    work_size: int = DEFAULT_WORK_SIZE
    merge: str = "detail"
    tile: int = 0
    overlap: int = 32
    device: Any = "cpu"

    def __post_init__(self) -> None:
        if self.merge not in MERGE_MODES:
            raise UserError(f"--merge {self.merge}: choose one of {', '.join(MERGE_MODES)}")
        if self.work_size < 16 or self.work_size % 4:
            raise UserError(f"--work-size {self.work_size}: use a multiple of 4, at least 16")
        if self.tile and (self.tile < 16 or self.tile % 4):
            raise UserError(f"--tile {self.tile}: use 0 (off) or a multiple of 4, at least 16")

    @classmethod
    def from_checkpoint(cls, run_or_file: str | os.PathLike[str], direction: str = "AtoB",
                        device: Any = None, work_size: int | None = None, **kwargs: Any
                        ) -> tuple[FullResGenerator, dict[str, Any]]:
        """Load G/F from a run folder or checkpoint; ``work_size`` defaults to the training crop size."""
        from gan_bokeh.runtime import pick_device
        from gan_bokeh.train.checkpoint import load_generator

        dev = pick_device(device) if not isinstance(device, torch.device) else device
        net, state = load_generator(run_or_file, direction, map_location="cpu")
        net.to(dev)
        if work_size is None:
            work_size = crop_size_of(state)
        return cls(net=net, work_size=work_size, device=dev, **kwargs), state

    def working_input(self, image: np.ndarray) -> np.ndarray:
        """Downscale ``image`` to the working resolution."""
        return resize_image(image, working_shape(*image.shape[:2], self.work_size))

    def forward_small(self, smalls: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run the network on working-size images; same-shape images are batched together."""
        out: list[np.ndarray | None] = [None] * len(smalls)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, s in enumerate(smalls):
            groups.setdefault(s.shape, []).append(i)
        for idx in groups.values():
            if self.tile:
                for i in idx:
                    out[i] = run_tiled(self.net, smalls[i], self.tile, self.overlap, self.device)
            else:
                res = run_network(self.net, np.stack([smalls[i] for i in idx]), self.device)
                for i, r in zip(idx, res, strict=True):
                    out[i] = r
        return out  # type: ignore[return-value]

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Generate one full-resolution output; a ``mask`` turns on the test-time overlay."""
        return self.generate([image], None if mask is None else [mask])[0]

    def generate(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None
                 ) -> list[np.ndarray]:
        """Full-resolution outputs for a batch of ``(H, W, 3)`` [0, 1] images (sizes may differ).

        ``masks[i]`` (any size, resized) applies the mask overlay to image ``i``; ``None`` = no overlay.
        """
        smalls = [self.working_input(im) for im in images]
        gens = self.forward_small(smalls)
        outs = []
        for i, (im, s, g) in enumerate(zip(images, smalls, gens, strict=True)):
            y = merge_full_resolution(im, s, g, self.merge)
            m = masks[i] if masks is not None else None
            if m is not None:
                y = overlay(y, im, m)
            outs.append(y)
        return outs


def crop_size_of(state: dict[str, Any]) -> int:
    """The training crop size recorded in a checkpoint's config (256 when absent)."""
    try:
        return int(state["config"]["data"]["crop_size"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_WORK_SIZE


def overlay_default(state: dict[str, Any]) -> bool:
    """``test.mask_overlay`` of the checkpoint's config (False when absent)."""
    try:
        return bool(state["config"]["test"]["mask_overlay"])
    except (KeyError, TypeError):
        return False
