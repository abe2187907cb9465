"""``generate`` over files: a trained generator applied to photos at their full resolution.

Every input is read (EXIF applied), masked by the one rule of :mod:`gan_bokeh.io.masks` (else the segmenter)
when the test-time overlay, the generator's inputs (``model.inputs``) or a rendering generator's gather use a
mask, given a depth map (``depth`` file, else ``depth_backend``: :func:`gan_bokeh.depth.estimate_depth`) when
the generator takes depth, run through the generator in batches of ``batch_size`` (one by one again
when a batch fails, e.g. out of memory) and written as ``OUT/<name>`` at its own size; ``OUT/generate.json``
records what made the outputs. Outputs are always rewritten: they depend on the checkpoint, which a file's
existence does not tell.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.batch.loop import BatchResult, Outcome, failure_reason, run_batch
from gan_bokeh.errors import UserError

__all__ = ["GenerateJob", "InputMaps", "generate_and_write", "generate_files"]

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
    depth_backend: str = "auto"  # a key of gan_bokeh.depth.DEPTH_BACKEND_CHOICES
    depth_weights: Path | None = None

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
    if job.depth is not None and job.depth.is_file() and len(paths) > 1:  # else every photo gets this one map
        raise UserError(f"--depth {job.depth}: a single depth file needs a single input image; pass a folder")
    for raw in inputs:
        if Path(raw).is_dir() and Path(raw).resolve() == job.out.resolve():
            raise UserError(f"--out {job.out}: is the input folder; choose another folder (inputs are never "
                            "overwritten)")
    refuse_overwriting_inputs(job.out, paths)


class InputMaps:
    """Masks and depth maps for each photo — for the overlay, for a generator trained with them
    (``model.inputs``), and for a rendering generator's subject-guided gather — and where each came from."""

    def __init__(self, job: GenerateJob, gen: Any, use_overlay: bool) -> None:
        from gan_bokeh.depth import check_colormap
        from gan_bokeh.segment import LazySegmenter

        self.job, self.gen = job, gen
        self.want_mask = use_overlay or gen.needs_mask or gen.renders
        self.optional_mask = not (use_overlay or gen.needs_mask)  # a renderer works without one
        self.sources: dict[str, Counter[str]] = {"mask": Counter(), "depth": Counter()}
        self._segmenter = LazySegmenter("auto", job.device, self._no_segmenter)
        check_colormap(job.depth_colormap)
        if job.depth is not None and not job.depth.exists():
            raise UserError(f"--depth {job.depth}: no such file or folder")

    def _no_segmenter(self, reason: str) -> None:
        if self.optional_mask:  # said once; a required mask fails each photo that lacks one (mask())
            log.warning("no subject mask (%s): rendering without the subject-guided gather", reason)
            self.want_mask = False

    def mask(self, path: Path, alpha: np.ndarray | None, image: np.ndarray) -> np.ndarray | None:
        """The one mask rule of :mod:`gan_bokeh.io.masks`, else the segmenter; ``None`` when not needed."""
        from gan_bokeh.io import load_mask

        if not self.want_mask:
            return None
        m, label = load_mask(path, alpha, self.job.mask, shape=image.shape[:2])
        if m is None:
            m = self._segmenter(image)  # built on first need
            if m is None and not self.optional_mask:
                raise UserError(f"--overlay (or a generator trained with mask input) needs masks: pass --mask "
                                f"DIR or sidecar masks ({self._segmenter.error})")
            if m is None:
                return None
            label = f"segmenter:{self._segmenter.name}"
        self.sources["mask"][label.split(":")[0]] += 1
        return m

    def depth(self, path: Path, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """The depth input of a generator trained with depth (``None`` otherwise), at the photo's size."""
        from gan_bokeh.depth import estimate_depth, find_depth_file, resize_depth
        from gan_bokeh.depth.registry import backend_for

        if not self.gen.needs_depth:
            return None
        j = self.job
        found = find_depth_file(path, j.depth)
        if j.depth is not None and found is None:
            raise UserError(f"{path.name}: no depth file <stem>.* in {j.depth}")
        res = estimate_depth(image, backend=backend_for(j.depth_backend, found), mask=mask, path=found,
                             kind=j.depth_kind, colormap=j.depth_colormap, weights=j.depth_weights, device=j.device)
        self.sources["depth"][res.backend] += 1
        return resize_depth(res.depth, image.shape[:2])

    def summary(self) -> str:
        parts = [f"{k} from " + ", ".join(f"{s} ×{n}" for s, n in c.items()) for k, c in self.sources.items() if c]
        return "; ".join(parts)


def generate_and_write(gen: Any, batch: list[Path], images: list[np.ndarray], alphas: list[np.ndarray | None],
                       masks: list[np.ndarray] | None, out_dir: Path, quality: int,
                       subject_masks: list[np.ndarray | None] | None = None,
                       depths: list[np.ndarray | None] | None = None) -> list[Outcome]:
    """Run one batch (per image again if the batch fails, e.g. out of memory); write the outputs.

    Returns ``(path, record)`` per image: ``done`` with the output, or ``failed`` with the model's error line.
    """
    from gan_bokeh.errors import first_line
    from gan_bokeh.io import output_path, write_image

    def extra(idx: list[int]) -> dict[str, Any]:
        """Only the inputs some image has (keeps the plain call for RGB-only generators)."""
        kw = {}
        for k, v in (("subject_masks", subject_masks), ("depths", depths)):
            if v is not None and any(v[i] is not None for i in idx):
                kw[k] = [v[i] for i in idx]
        return kw

    try:
        outs = gen.generate(images, masks, **extra(list(range(len(images)))))
    except RuntimeError:
        outs = []
        for i, im in enumerate(images):
            try:
                outs.append(gen.generate([im], None if masks is None else [masks[i]], **extra([i]))[0])
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
    from gan_bokeh.generate import open_generator, overlay_default
    from gan_bokeh.io import atomic_write_text, list_images, read_image_alpha
    from gan_bokeh.runtime import torch_threads
    from gan_bokeh.train.checkpoint import resolve_checkpoint

    paths = list_images(inputs)
    _check(job, inputs, paths)
    torch_threads()
    gen, state = open_generator(job.checkpoint, job.direction, device=job.device, work_size=job.work_size,
                                merge=job.merge, tile=job.tile)  # the checkpoint is read once
    use_overlay = overlay_default(state) if job.overlay is None else job.overlay
    maps = InputMaps(job, gen, use_overlay)
    job.out.mkdir(parents=True, exist_ok=True)
    settings = {"checkpoint": str(resolve_checkpoint(job.checkpoint)), "direction": job.direction,
                "iteration": state.get("iteration"), "epoch": state.get("epoch"), "work_size": gen.work_size,
                "merge": gen.merge, "tile": gen.tile, "overlay": use_overlay,
                "mask": str(job.mask) if job.mask else None, "jpeg_quality": job.quality, "device": str(gen.device),
                "inputs": list(gen.inputs), "renders": gen.renders,
                "depth": None if job.depth is None else str(job.depth), "depth_backend": job.depth_backend}
    atomic_write_text(job.out / "generate.json", json.dumps(settings, indent=2) + "\n")

    def work(chunk: list[Path]) -> list[Outcome]:
        from gan_bokeh.errors import BadImageError

        outcomes: list[Outcome] = []
        batch, images, alphas, masks, depths = [], [], [], [], []
        for p in chunk:
            try:
                rgb, alpha = read_image_alpha(p)
                m = maps.mask(p, alpha, rgb)
                d = maps.depth(p, rgb, m)
            except BadImageError as err:  # the input, or its mask/depth file
                outcomes.append((p, {"status": "failed", "reason": failure_reason(p, err)}))
                log.warning("skip %s", err)
                continue
            batch.append(p)
            images.append(rgb)
            alphas.append(alpha)
            masks.append(m)  # the overlay's mask and the generator's subject mask are the same one
            depths.append(d)
        if batch:
            outcomes += generate_and_write(gen, batch, images, alphas, masks if use_overlay else None,
                                           job.out, job.quality, masks, depths)
        return outcomes

    res = run_batch(paths, work, command="generate", out=job.out, chunk_size=job.batch_size, progress=progress)
    what = "full-size rendering" if gen.renders else f"work size {gen.work_size}, merge {gen.merge}"
    res.detail = f"{what}, overlay {'on' if use_overlay else 'off'}, device {gen.device}"
    if maps.summary():
        res.detail += f"; {maps.summary()}"
    return res
