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


def ramp_window(tile: int, overlap: int) -> np.ndarray:
    """1-D blending window: 1 in the middle, linear ramps over ``overlap`` px at both ends."""
    r = np.ones(tile, np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        r[:overlap] = ramp
        r[-overlap:] = ramp[::-1]
    return r


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def network_input(images: np.ndarray, extras: np.ndarray | None = None) -> torch.Tensor:
    """``(B, H, W, 3)`` [0, 1] images (+ ``(B, H, W, k)`` [0, 1] extra inputs: mask, depth) → the generator's
    ``(B, 3 + k, H, W)`` input: RGB in [-1, 1], extras in [0, 1], as in training."""
    from gan_bokeh.data.tensors import images_to_tensor

    x = images_to_tensor(images)
    if extras is None:
        return x
    e = torch.from_numpy(np.ascontiguousarray(np.asarray(extras, np.float32).transpose(0, 3, 1, 2)))
    return torch.cat([x, e], 1)


def run_network(net: nn.Module, images: np.ndarray, device: torch.device | str = "cpu",
                extras: np.ndarray | None = None) -> np.ndarray:
    """Run ``net`` on a same-shape batch ``(B, H, W, 3)`` [0, 1] → ``(B, H, W, 3)`` [0, 1]; ``extras``
    ``(B, H, W, k)`` are the extra input channels of a generator trained with ``model.inputs``."""
    from gan_bokeh.data.tensors import tensor_to_images

    with torch.inference_mode():
        out = net(network_input(images, extras).to(device))
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
    boxes = [(y, x) for y in tile_starts(h, th, ov) for x in tile_starts(w, tw, ov)]
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w, 1), np.float32)
    weight = np.outer(ramp_window(th, ov), ramp_window(tw, ov))[..., None]
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
        work_size: short side of the working resolution (multiple of 4); with ``squash``, the side of the
            square the whole photo is squashed to (the geometry a ``data.preprocess: cyclegan`` run saw).
        merge: ``detail`` | ``delta`` | ``resize``.
        tile: when > 0, run the network on overlapping ``tile``-px blocks of the working image.
        overlap: tile overlap in working pixels.
        device: torch device of ``net``.
        inputs: the generator's inputs (``model.inputs`` of its run): ``rgb`` and optionally ``mask`` and
            ``depth``, which :meth:`generate` then needs per image.

    A rendering generator (``renders = True``, e.g. ``defocus_resnet``) takes another path: its radius map
    is predicted at the working resolution, upsampled and scaled by the size ratio, and the blur runs on
    the full-resolution photo (``merge`` and ``tile`` do not apply); a subject mask, when given, guides
    its gather.
    """

    net: nn.Module
    work_size: int = DEFAULT_WORK_SIZE
    merge: str = "detail"
    tile: int = 0
    overlap: int = 32
    device: Any = "cpu"
    inputs: tuple[str, ...] = ("rgb",)
    squash: bool = False  # work on a work_size² square (a run trained with data.preprocess cyclegan)

    def __post_init__(self) -> None:
        if self.merge not in MERGE_MODES:
            raise UserError(f"--merge {self.merge}: choose one of {', '.join(MERGE_MODES)}")
        if self.work_size < 16 or self.work_size % 4:
            raise UserError(f"--work-size {self.work_size}: use a multiple of 4, at least 16")
        if self.tile and (self.tile < 16 or self.tile % 4):
            raise UserError(f"--tile {self.tile}: use 0 (off) or a multiple of 4, at least 16")
        if self.tile and len(self.inputs) > 1:
            raise UserError(f"--tile: not supported for a generator with inputs {list(self.inputs)}; drop --tile")

    @property
    def renders(self) -> bool:
        """The generator renders its output from a blur-radius map (see the class docstring)."""
        return bool(getattr(self.net, "renders", False))

    @property
    def needs_mask(self) -> bool:
        return "mask" in self.inputs

    @property
    def needs_depth(self) -> bool:
        return "depth" in self.inputs
    @classmethod
    def from_checkpoint(cls, run_or_file: str | os.PathLike[str], direction: str = "AtoB",
                        device: Any = None, work_size: int | None = None, **kwargs: Any
                        ) -> tuple[FullResGenerator, dict[str, Any]]:
        """Load G/F from a run folder or checkpoint, working in the geometry training saw (see
        :func:`training_geometry`); an explicit ``work_size`` changes only the size."""
        from gan_bokeh.train.checkpoint import load_generator

        net, state = load_generator(run_or_file, direction, map_location="cpu")
        return cls.from_net(net, state, device, work_size, **kwargs), state

    @classmethod
    def from_net(cls, net: nn.Module, state: dict[str, Any], device: Any = None, work_size: int | None = None,
                 **kwargs: Any) -> FullResGenerator:
        """Wrap a loaded generator of checkpoint ``state`` (see :meth:`from_checkpoint`)."""
        from gan_bokeh.runtime import pick_device

        dev = pick_device(device) if not isinstance(device, torch.device) else device
        size, squash = training_geometry(state)
        kwargs.setdefault("squash", squash)
        return cls(net=net.to(dev), work_size=size if work_size is None else work_size, device=dev,
                   inputs=inputs_of(state), **kwargs)

    def working_input(self, image: np.ndarray) -> np.ndarray:
        """Downscale ``image`` to the working resolution."""
        if self.squash:
            side = max(4, self.work_size // 4 * 4)
            return resize_image(image, (side, side))
        return resize_image(image, working_shape(*image.shape[:2], self.work_size))

    def working_extras(self, shape: tuple[int, int], mask: np.ndarray | None,
                       depth: np.ndarray | None) -> np.ndarray | None:
        """The extra inputs at working size ``(h, w, k)`` [0, 1], in ``inputs`` order (``None``: RGB only)."""
        names = self.inputs[1:]
        if not names:
            return None
        maps = {"mask": mask, "depth": depth}
        for n in names:
            if maps[n] is None:
                raise UserError(f"this generator was trained with inputs {list(self.inputs)}: give it a {n}")
        return np.dstack([resize_image(np.asarray(maps[n], np.float32), shape, up="linear") for n in names])

    def forward_small(self, smalls: Sequence[np.ndarray],
                      extras: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
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
                ext = None if extras is None or extras[idx[0]] is None else np.stack([extras[i] for i in idx])
                res = run_network(self.net, np.stack([smalls[i] for i in idx]), self.device, ext)
                for i, r in zip(idx, res, strict=True):
                    out[i] = r
        return out  # type: ignore[return-value]

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Generate one full-resolution output; a ``mask`` turns on the test-time overlay."""
        return self.generate([image], None if mask is None else [mask])[0]

    def generate(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None, *,
                 subject_masks: Sequence[np.ndarray | None] | None = None,
                 depths: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """Full-resolution outputs for a batch of ``(H, W, 3)`` [0, 1] images (sizes may differ).

        ``masks[i]`` (any size, resized) applies the mask overlay to image ``i``; ``None`` = no overlay.
        ``subject_masks[i]`` / ``depths[i]`` (any size; depth 0 = near … 1 = far) feed a generator trained
        with those inputs, and the subject mask guides a rendering generator's gather.
        """
        n = len(images)
        sub = list(subject_masks) if subject_masks is not None else [None] * n
        dep = list(depths) if depths is not None else [None] * n
        smalls = [self.working_input(im) for im in images]
        extras = [self.working_extras(s.shape[:2], m, d) for s, m, d in zip(smalls, sub, dep, strict=True)]
        if self.renders:
            gens = [self._render_full(im, s, e, m) for im, s, e, m in zip(images, smalls, extras, sub, strict=True)]
        else:
            gens = self.forward_small(smalls, extras)
        outs = []
        for i, (im, s, g) in enumerate(zip(images, smalls, gens, strict=True)):
            y = g if self.renders else merge_full_resolution(im, s, g, self.merge)
            m = masks[i] if masks is not None else None
            if m is not None:
                y = overlay(y, im, m)
            outs.append(y)
        return outs

    def _render_full(self, image: np.ndarray, small: np.ndarray, extras: np.ndarray | None,
                     mask: np.ndarray | None) -> np.ndarray:
        """A rendering generator at full resolution: radius map at working size, blur on the full photo."""
        with torch.inference_mode():
            x = network_input(small[None], None if extras is None else extras[None]).to(self.device)
            radius = self.net.radius_map(x)
            full = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), np.float32))[None]
            m = None
            if mask is not None:
                m_full = resize_image(np.asarray(mask, np.float32), image.shape[:2], up="linear")
                m = torch.from_numpy(np.ascontiguousarray(m_full))[None, None].to(self.device)
            out = self.net.render_full(full.to(self.device), radius, m)
        return np.ascontiguousarray(out[0].permute(1, 2, 0).float().cpu().numpy())


def open_generator(run_or_file: str | os.PathLike[str], direction: str = "AtoB", device: Any = None,
                   work_size: int | None = None, merge: str = "detail", tile: int = 0) -> tuple[Any, dict[str, Any]]:
    """The generator of a run, read once: a GAN run → :class:`FullResGenerator`, a paired (PyNET) run →
    :class:`~gan_bokeh.generate_paired.PairedGenerator` (fully convolutional: ``work_size`` is the short side
    of a model trained on resized photos, 0/None = full size; no merge). Returns ``(generator, state)``."""
    from gan_bokeh.generate_paired import PairedGenerator, is_paired_state
    from gan_bokeh.train.checkpoint import generator_from_state, load_checkpoint

    state = load_checkpoint(run_or_file)
    if is_paired_state(state):
        net = generator_from_state(state, "AtoB", run_or_file)
        return PairedGenerator.from_net(net, state, device, tile=tile, work_short=work_size or 0), state
    net = generator_from_state(state, direction, run_or_file)
    return FullResGenerator.from_net(net, state, device, work_size, merge=merge, tile=tile), state


def inputs_of(state: dict[str, Any]) -> tuple[str, ...]:
    """``model.inputs`` of a checkpoint's config (``("rgb",)`` when absent)."""
    try:
        return tuple(state["config"]["model"]["inputs"])
    except (KeyError, TypeError):
        return ("rgb",)


def training_geometry(state: dict[str, Any]) -> tuple[int, bool]:
    """``(work_size, squash)``: the pixel scale and shape the generator saw in training, from the
    checkpoint's ``data`` config.

    - ``keep_aspect``: short side ``load_size`` (training cut its crops from a ``load_size`` square of a photo
      whose short side was ``load_size``).
    - ``paper``: short side ``crop_size`` (= ``load_size``: the central square scaled to the crop).
    - ``cyclegan``: the whole photo squashed to ``load_size²``; so are checkpoints whose config predates
      ``data.preprocess`` (that was the only geometry then).
    """
    data = (state.get("config") or {}).get("data") or {}
    preset = data.get("preprocess", "cyclegan")
    try:
        crop = int(data["crop_size"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_WORK_SIZE, False
    load = data.get("load_size")
    size = int(load) if isinstance(load, (int, float)) and preset != "paper" else crop
    return size, preset == "cyclegan"


def overlay_default(state: dict[str, Any]) -> bool:
    """``test.mask_overlay`` of the checkpoint's config (False when absent)."""
    try:
        return bool(state["config"]["test"]["mask_overlay"])
    except (KeyError, TypeError):
        return False
