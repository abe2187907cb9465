"""Full-resolution inference with a paired (PyNET) run.

PyNET is fully convolutional and trained to map a photo downscaled ×2 (plus its depth map) to the bokeh
image at the photo's full resolution (level 1), so no working resolution or merge is needed: the photo is
downscaled ×2, reflect-padded to a multiple of 32, run once (or in overlapping tiles when it does not fit in
memory) and the output cropped back to the photo's size. A run that stopped before level 1 is run at its
last trained level and its output resized to full size.

Depth, when the model takes it: ``--depth`` files, else :func:`estimate_depth` (today MiDaS through
``torch.hub``; a depth-backend registry will replace this one function).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_bokeh.errors import UserError
from gan_bokeh.io import resize_image

__all__ = ["PairedGenerator", "is_paired_state", "trained_level"]


def is_paired_state(state: dict[str, Any]) -> bool:
    """Whether a checkpoint comes from a paired (PyNET) run."""
    try:
        return state["config"]["model"]["objective"] == "pynet"
    except (KeyError, TypeError):
        return False


def trained_level(state: dict[str, Any]) -> int:
    """The finest level the checkpoint has been trained at (from its config and epoch counter)."""
    from gan_bokeh.config import from_dict
    from gan_bokeh.objectives.pynet import level_at_epoch
    from gan_bokeh.train.config import TrainConfig

    if state.get("level") is not None:  # latest.pt: the level being trained when it was saved
        return int(state["level"])
    cfg = from_dict(TrainConfig, state["config"])
    epoch = int(state.get("epoch", 0))
    # ``epoch`` counts finished epochs; the level of the last finished one is the trained one.
    return level_at_epoch(cfg, max(0, epoch - 1))[0] if epoch > 0 else cfg.pynet.levels[0]


def _pad_to(x: torch.Tensor, multiple: int, minimum: int) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph = max(minimum, -(-h // multiple) * multiple) - h
    pw = max(minimum, -(-w // multiple) * multiple) - w
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


@dataclass
class PairedGenerator:
    """A loaded PyNET generator and how to run it at full resolution.

    Args:
        net: :class:`~gan_bokeh.nets.pynet.PyNETBokeh` in eval mode on ``device``.
        level: output level (1 = full resolution).
        tile: input-side tile in px (multiple of 32); 0 = whole image, tiles only after running out of memory.
        overlap: tile overlap in input px.
        device: torch device of ``net``.
        work_short: 0 = the photo's full resolution (the authors' setting: EBB! is trained at its stored
            size); N = run on the photo resized to short side N and resize the result back, for a model
            trained on photos resized to ``data.load_size = N`` (its blur is measured in those pixels).
    """

    net: nn.Module
    level: int = 1
    tile: int = 0
    overlap: int = 64
    device: Any = "cpu"
    work_short: int = 0
    fallback_tile: int = 512
    #: What ``generate.json`` records (fields shared with the GAN path's :class:`FullResGenerator`).
    work_size: str = "full (paired model)"
    merge: str = "none"
    paired: bool = True  # lets callers tell it from a GAN's FullResGenerator

    def __post_init__(self) -> None:
        if self.tile and (self.tile < 64 or self.tile % 32):
            raise UserError(f"--tile {self.tile}: use 0 (whole image) or a multiple of 32, at least 64")
        if self.work_short < 0:
            raise UserError(f"--work-size {self.work_short}: use a positive short side")
        if self.work_short:  # what generate.json and the summary line record
            self.work_size = f"short side {self.work_short} (paired model)"

    #: Shared with :class:`~gan_bokeh.generate.FullResGenerator`: a paired model never takes a mask and
    #: synthesises its output (no blur-radius map).
    needs_mask: bool = False
    renders: bool = False

    @property
    def needs_depth(self) -> bool:
        return int(getattr(self.net, "in_channels", 3)) == 4

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("rgb", "depth") if self.needs_depth else ("rgb",)

    @classmethod
    def from_checkpoint(cls, run_or_file: str | os.PathLike[str], device: Any = None, **kwargs: Any
                        ) -> tuple[PairedGenerator, dict[str, Any]]:
        from gan_bokeh.train.checkpoint import load_generator

        net, state = load_generator(run_or_file, "AtoB", map_location="cpu")
        if not is_paired_state(state):
            raise UserError(f"{run_or_file}: not a paired (PyNET) run")
        return cls.from_net(net, state, device, **kwargs), state

    @classmethod
    def from_net(cls, net: nn.Module, state: dict[str, Any], device: Any = None, **kwargs: Any) -> PairedGenerator:
        """Wrap a loaded PyNET of checkpoint ``state`` (see :meth:`from_checkpoint`)."""
        from gan_bokeh.runtime import pick_device

        dev = pick_device(device) if not isinstance(device, torch.device) else device
        return cls(net=net.to(dev), level=trained_level(state), device=dev, **kwargs)

    def _input(self, image: np.ndarray, depth: np.ndarray | None) -> torch.Tensor:
        """``(1, 3|4, h, w)`` in [-1, 1]: the photo at half size (the authors' input scale) [+ depth]."""
        h, w = max(1, round(image.shape[0] / 2)), max(1, round(image.shape[1] / 2))
        planes = [resize_image(np.asarray(image, np.float32), (h, w))]
        if self.needs_depth:
            if depth is None:
                raise UserError("this run's model takes a depth map: pass --depth FILE|DIR")
            planes.append(resize_image(np.asarray(depth, np.float32), (h, w), up="linear")[..., None])
        x = np.concatenate(planes, axis=2).transpose(2, 0, 1)[None]
        return torch.from_numpy(np.ascontiguousarray(x)).mul(2).sub(1)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        from gan_bokeh.nets.pynet import MULTIPLE, level_scale

        xp, h, w = _pad_to(x, MULTIPLE, 2 * MULTIPLE)
        s = level_scale(self.level)
        with torch.inference_mode():
            y = self.net(xp.to(self.device), level=self.level).float().cpu()
        return y[..., : round(h * s), : round(w * s)]

    def _run_tiled(self, x: torch.Tensor, tile: int) -> torch.Tensor:
        """Overlapping ``tile``-px input blocks, blended with linear ramps at the output scale."""
        from gan_bokeh.generate import ramp_window, tile_starts
        from gan_bokeh.nets.pynet import level_scale

        s = level_scale(self.level)
        h, w = x.shape[-2:]
        th, tw = min(tile, h), min(tile, w)
        ov = min(self.overlap, th // 2, tw // 2)
        acc = torch.zeros(1, 3, round(h * s), round(w * s))
        wsum = torch.zeros(1, 1, *acc.shape[-2:])
        for y0 in tile_starts(h, th, ov):
            for x0 in tile_starts(w, tw, ov):
                out = self._run(x[..., y0:y0 + th, x0:x0 + tw])
                oh, ow = out.shape[-2:]
                ovs = round(ov * s)
                wt = torch.from_numpy(np.outer(ramp_window(oh, ovs), ramp_window(ow, ovs)))[None, None]
                oy, ox = round(y0 * s), round(x0 * s)
                acc[..., oy:oy + oh, ox:ox + ow] += out * wt
                wsum[..., oy:oy + oh, ox:ox + ow] += wt
        return acc / wsum.clamp_min(1e-6)

    def __call__(self, image: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
        """Bokeh rendering of one ``(H, W, 3)`` [0, 1] photo, ``(H, W, 3)`` [0, 1]; ``depth`` ``(h, w)`` in
        [0, 1] (0 = near, any size) when the model takes it."""
        full_shape = image.shape[:2]
        if self.work_short and min(full_shape) > self.work_short:
            k = self.work_short / min(full_shape)
            image = resize_image(np.asarray(image, np.float32), (round(full_shape[0] * k), round(full_shape[1] * k)))
        x = self._input(image, depth)
        if self.tile:
            y = self._run_tiled(x, self.tile)
        else:
            try:
                y = self._run(x)
            except (torch.OutOfMemoryError, RuntimeError) as err:
                if "memory" not in str(err).lower():
                    raise
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                y = self._run_tiled(x, self.fallback_tile)
        out = y[0].add(1).mul(0.5).clamp(0, 1).permute(1, 2, 0).numpy()
        return np.clip(resize_image(np.ascontiguousarray(out), full_shape), 0.0, 1.0)

    def generate(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None, *,
                 depths: Sequence[np.ndarray | None] | None = None,
                 subject_masks: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:  # noqa: ARG002
        """Outputs for several photos (one network pass each: sizes differ). ``masks`` apply the subject overlay
        as for the GANs (:func:`gan_bokeh.generate.overlay`); ``subject_masks`` are accepted for the shared
        call and unused (the model takes no mask)."""
        from gan_bokeh.generate import overlay

        outs = []
        for i, im in enumerate(images):
            y = self(im, None if depths is None else depths[i])
            m = masks[i] if masks is not None else None
            outs.append(overlay(y, im, m) if m is not None else y)
        return outs
