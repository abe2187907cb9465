"""``generate`` over files: a trained generator applied to photos at their full resolution.

Every input is read (EXIF applied), masked by the one rule of :mod:`gan_bokeh.io.masks` (else the segmenter)
when the test-time overlay is on, run through the generator in batches of ``batch_size`` (one by one again
when a batch fails, e.g. out of memory) and written as ``OUT/<name>`` at its own size; ``OUT/generate.json``
records what made the outputs. Outputs are always rewritten: they depend on the checkpoint, which a file's
existence does not tell.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.batch.loop import BatchResult, Outcome, failure_reason, run_batch
from gan_bokeh.errors import UserError

__all__ = ["GenerateJob", "generate_and_write", "generate_files"]

log = logging.getLogger(__name__)


@dataclass
class GenerateJob:
    """Settings of one ``generate`` batch (the CLI's flags, parsed). ``overlay=None``: the run's
    ``test.mask_overlay``; ``work_size=None``: the training crop (paired runs: the photo's full size)."""

    checkpoint: Path
    out: Path
    overlay: bool | None = None
    direction: str = "AtoB"
    mask: Path | None = None
    work_size: int | None = None
    merge: str = "detail"
    tile: int = 0
    quality: int = 95
    batch_size: int = 4
    device: str | None = None
    depth: Path | None = None
    depth_kind: str = "depth"
    depth_colormap: str | None = None

    def __post_init__(self) -> None:
        self.checkpoint, self.out = Path(self.checkpoint), Path(self.out)
        self.mask = Path(self.mask) if self.mask is not None else None
        self.depth = Path(self.depth) if self.depth is not None else None


def _check(job: GenerateJob, inputs: list[str | os.PathLike[str]], paths: list[Path]) -> None:
    from gan_bokeh.io import refuse_overwriting_inputs

    if not 1 <= job.quality <= 100:
        raise UserError(f"--jpeg-quality {job.quality}: use 1..100")
    if job.batch_size < 1:
        raise UserError(f"--batch-size {job.batch_size}: use at least 1")
    if not paths:
        raise UserError(f"{' '.join(map(str, inputs))}: no images found")
    if job.mask is not None and not job.mask.exists():
        raise UserError(f"--mask {job.mask}: no such file or folder")
    if job.mask is not None and job.mask.is_file() and len(paths) > 1:
        raise UserError(f"--mask {job.mask}: a single mask file needs a single input image; pass a folder")
    for raw in inputs:
        if Path(raw).is_dir() and Path(raw).resolve() == job.out.resolve():
            raise UserError(f"--out {job.out}: is the input folder; choose another folder (inputs are never "
                            "overwritten)")
    refuse_overwriting_inputs(job.out, paths)


def open_generator(job: GenerateJob) -> tuple[Any, dict[str, Any]]:
    """A GAN run → :class:`~gan_bokeh.generate.FullResGenerator`; a paired (PyNET) run →
    :class:`~gan_bokeh.generate_paired.PairedGenerator` (fully convolutional: no work size or merge)."""
    from gan_bokeh.generate import FullResGenerator
    from gan_bokeh.generate_paired import PairedGenerator, is_paired_state
    from gan_bokeh.train.checkpoint import load_checkpoint

    if is_paired_state(load_checkpoint(job.checkpoint)):
        return PairedGenerator.from_checkpoint(job.checkpoint, device=job.device, tile=job.tile,
                                               work_short=job.work_size or 0)
    return FullResGenerator.from_checkpoint(job.checkpoint, job.direction, device=job.device,
                                            work_size=job.work_size, merge=job.merge, tile=job.tile)


def _depth_reader(job: GenerateJob) -> Callable[[Path, np.ndarray], np.ndarray]:
    """``(path, rgb) → depth (H, W)``: ``depth`` file/folder, else a depth model (offline: one-line error)."""
    from gan_bokeh.depth import check_colormap, find_depth_file, load_depth
    from gan_bokeh.generate_paired import estimate_depth

    check_colormap(job.depth_colormap)

    def read(path: Path, rgb: np.ndarray) -> np.ndarray:
        src = find_depth_file(path, job.depth)
        if src is not None:
            return load_depth(src, kind=job.depth_kind, colormap=job.depth_colormap)
        if job.depth is not None:
            raise UserError(f"{path.name}: no depth file <stem>.* in {job.depth}")
        return estimate_depth(rgb, device=job.device)

    return read


def generate_and_write(gen: Any, batch: list[Path], images: list[np.ndarray], alphas: list[np.ndarray | None],
                       masks: list[np.ndarray] | None, out_dir: Path, quality: int,
                       depths: list[np.ndarray] | None = None) -> list[Outcome]:
    """Run one batch (per image again if the batch fails, e.g. out of memory); write the outputs.

    Returns ``(path, record)`` per image: ``done`` with the output, or ``failed`` with the model's error line.
    """
    from gan_bokeh.errors import first_line
    from gan_bokeh.io import output_path, write_image

    extra = {} if depths is None else {"depths": depths}  # paired runs whose model takes depth
    try:
        outs = gen.generate(images, masks, **extra)
    except RuntimeError:
        outs = []
        for i, im in enumerate(images):
            one = {} if depths is None else {"depths": [depths[i]]}
            try:
                outs.append(gen.generate([im], None if masks is None else [masks[i]], **one)[0])
            except RuntimeError as err:
                outs.append(first_line(err))
    outcomes: list[Outcome] = []
    for p, y, alpha in zip(batch, outs, alphas, strict=True):
        if isinstance(y, str):
            outcomes.append((p, {"status": "failed", "reason": y}))
            continue
        dest = write_image(output_path(out_dir, p), y, quality=quality, alpha=alpha)
        outcomes.append((p, {"status": "done", "output": str(dest)}))
    return outcomes


def generate_files(inputs: list[str | os.PathLike[str]], job: GenerateJob, *, progress: bool = True
                   ) -> BatchResult:
    """Apply the generator of ``job.checkpoint`` to every image of ``inputs`` (files or folders).

    Raises:
        UserError: before any work — bad settings, no images, ``--out`` = an input folder, a bad checkpoint,
            overlay on and no mask nor segmenter.
    """
    from gan_bokeh.errors import WeightsUnavailableError
    from gan_bokeh.generate import overlay_default
    from gan_bokeh.io import atomic_write_text, list_images, read_image_alpha
    from gan_bokeh.runtime import torch_threads
    from gan_bokeh.train.checkpoint import resolve_checkpoint

    paths = list_images(inputs)
    _check(job, inputs, paths)
    torch_threads()
    gen, state = open_generator(job)
    depth_of = _depth_reader(job) if getattr(gen, "uses_depth", False) else None
    use_overlay = overlay_default(state) if job.overlay is None else job.overlay
    job.out.mkdir(parents=True, exist_ok=True)
    settings = {"checkpoint": str(resolve_checkpoint(job.checkpoint)), "direction": job.direction,
                "iteration": state.get("iteration"), "epoch": state.get("epoch"), "work_size": gen.work_size,
                "merge": gen.merge, "tile": gen.tile, "overlay": use_overlay,
                "mask": str(job.mask) if job.mask else None, "jpeg_quality": job.quality, "device": str(gen.device)}
    atomic_write_text(job.out / "generate.json", json.dumps(settings, indent=2) + "\n")
    segmenter: list[Any] = []

    def segment(image: np.ndarray) -> np.ndarray:  # the segmenter is created on first need only
        if not segmenter:
            from gan_bokeh.segment import get_segmenter

            try:
                segmenter.append(get_segmenter("auto", device=job.device))
            except WeightsUnavailableError as err:
                raise UserError(f"--overlay needs masks: pass --mask DIR or sidecar masks ({err})") from None
        return segmenter[0](image)

    def work(chunk: list[Path]) -> list[Outcome]:
        from gan_bokeh.errors import BadImageError
        from gan_bokeh.io import load_mask

        outcomes: list[Outcome] = []
        batch, images, alphas, masks, depths = [], [], [], [], []
        for p in chunk:
            try:
                rgb, alpha = read_image_alpha(p)
                if use_overlay:
                    m, _ = load_mask(p, alpha, job.mask, shape=rgb.shape[:2])  # the one mask rule
                    masks.append(m if m is not None else segment(rgb))
                if depth_of is not None:
                    depths.append(depth_of(p, rgb))
            except BadImageError as err:  # the input, or its mask/depth file
                outcomes.append((p, {"status": "failed", "reason": failure_reason(p, err)}))
                log.warning("skip %s", err)
                if use_overlay and len(masks) > len(batch):
                    masks.pop()
                continue
            batch.append(p)
            images.append(rgb)
            alphas.append(alpha)
        if batch:
            outcomes += generate_and_write(gen, batch, images, alphas, masks if use_overlay else None,
                                           job.out, job.quality, depths if depth_of is not None else None)
        return outcomes

    res = run_batch(paths, work, command="generate", out=job.out, chunk_size=job.batch_size, progress=progress)
    res.detail = (f"work size {gen.work_size}, merge {gen.merge}, overlay {'on' if use_overlay else 'off'}, "
                  f"device {gen.device}")
    return res
