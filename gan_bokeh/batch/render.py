"""``render`` over files: masks and depth for each photo, the renderer, outputs and ``render.jsonl``.

For each input writes ``OUT/<stem>.<input extension>`` at the input's size (EXIF orientation applied),
appends a record to ``OUT/render.jsonl`` (settings, focus, depth source, timings) and writes the resolved
settings to ``OUT/render.json``. With ``save_maps``: ``OUT/maps/<stem>.depth.png`` (0 = near, black)
and, for ``layers``, ``OUT/maps/<stem>.radius.png`` (blur radius, white = ``max_radius_px`` of the record).

Depth: ``depth`` file/folder, else ``depth_backend`` through :func:`gan_bokeh.depth.estimate_depth` (``auto``:
Depth Anything V2, MiDaS, then an offline guess from the mask), recorded as ``depth_backend`` /
``depth_source``. Masks: the one rule of :mod:`gan_bokeh.io.masks`, else the ``segmenter`` (``segment=False``
skips it); ``save_maps`` also writes the mask used (``OUT/maps/<stem>.mask.png``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.batch.loop import BatchResult, each, run_batch
from gan_bokeh.errors import UserError

__all__ = ["RenderJob", "Sources", "render_file", "render_files"]

log = logging.getLogger("gan_bokeh.render")


@dataclass
class RenderJob:
    """Settings of one ``render`` batch (the CLI's flags, parsed).

    ``options`` are the renderer's keyword options (:func:`gan_bokeh.render.render_image`).
    """

    out: Path
    method: str = "layers"
    options: dict[str, Any] = field(default_factory=dict)
    mask: Path | None = None
    segment: bool = True
    depth: Path | None = None
    depth_kind: str = "depth"
    depth_colormap: str | None = None
    depth_backend: str = "auto"  # a key of gan_bokeh.depth.DEPTH_BACKEND_CHOICES
    depth_weights: Path | None = None
    segmenter: str = "auto"  # a key of gan_bokeh.segment.BACKENDS
    save_maps: bool = False
    quality: int = 95
    overwrite: bool = False
    device: str | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.mask = Path(self.mask) if self.mask is not None else None
        self.depth = Path(self.depth) if self.depth is not None else None


class Sources:
    """Finds masks and depth for each image; remembers unavailable models so it warns only once."""

    def __init__(self, job: RenderJob, n_inputs: int) -> None:
        from gan_bokeh.segment import LazySegmenter

        self.job = job
        self.segmenter = LazySegmenter(job.segmenter, job.device, self._no_segmenter) if job.segment else None
        from gan_bokeh.depth import check_colormap

        check_colormap(job.depth_colormap)
        for flag, path in (("--mask", job.mask), ("--depth", job.depth)):
            if path is not None and not path.exists():
                raise UserError(f"{flag} {path}: not found")
            if path is not None and path.is_file() and n_inputs > 1:
                raise UserError(f"{flag} {path}: a single file needs a single input; give a folder")

    def mask(self, path: Path, image: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray | None, str]:
        """``(mask (H, W) in [0, 1] or None, source label)``: the one mask rule, else the segmenter."""
        from gan_bokeh.io import load_mask

        found, label = load_mask(path, alpha, self.job.mask, shape=image.shape[:2])
        if found is not None:
            return found, label
        m = self.segmenter(image) if self.segmenter is not None else None
        return (None, "none") if m is None else (m, f"segmenter:{self.segmenter.name}")

    @staticmethod
    def _no_segmenter(reason: str) -> None:
        log.warning("no mask and no segmenter (%s); rendering without a subject mask (make masks with "
                    "`gan-bokeh segment` and pass --mask DIR)", reason)

    def depth(self, path: Path, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
        """``(depth (H, W), metadata)``: a depth file, else ``depth_backend`` (the one registry,
        :func:`gan_bokeh.depth.estimate_depth`)."""
        from gan_bokeh.depth import estimate_depth, find_depth_file
        from gan_bokeh.depth.registry import backend_for

        j = self.job
        src = find_depth_file(path, j.depth)
        if src is None and j.depth is not None:
            raise UserError(f"{path.name}: no depth file <stem>.* in {j.depth}")
        res = estimate_depth(image, backend=backend_for(j.depth_backend, src), mask=mask, path=src,
                             kind=j.depth_kind, colormap=j.depth_colormap, weights=j.depth_weights,
                             device=j.device)
        return res.depth, res.metadata()


def _save_maps(out: Path, stem: str, depth: np.ndarray | None, info: dict[str, Any], size: tuple[int, int],
               mask: np.ndarray | None = None) -> None:
    from gan_bokeh.depth import resize_depth
    from gan_bokeh.io import write_mask

    maps = out / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    if depth is not None:
        write_mask(maps / f"{stem}.depth.png", resize_depth(depth, size))
    if mask is not None:
        write_mask(maps / f"{stem}.mask.png", mask)
    if "radius_map" in info:
        rmax = max(float(info.get("max_radius_px", 0.0)), 1e-6)
        write_mask(maps / f"{stem}.radius.png", resize_depth(np.asarray(info["radius_map"]) / rmax, size),
                   pnginfo={"max_radius_px": f"{rmax:.3f}"})
    if "interpolation_mask" in info:
        write_mask(maps / f"{stem}.interpolation.png", info["interpolation_mask"])


def render_file(path: Path, job: RenderJob, sources: Sources) -> dict[str, Any]:
    """Render one file; returns its ``done`` record for ``render.jsonl``.

    Raises:
        UserError: bad input (BadImageError: the photo, its mask or depth file), bad options for this image.
    """
    from gan_bokeh.io import output_path, read_image_alpha, write_image
    from gan_bokeh.render import NEEDS_DEPTH, render_image

    t0 = time.perf_counter()
    image, alpha = read_image_alpha(path)
    mask, mask_src = sources.mask(path, image, alpha)
    depth, depth_meta = None, {"depth_source": "not needed"}
    if job.method in NEEDS_DEPTH:
        depth, depth_meta = sources.depth(path, image, mask)
    if job.method in ("average", "gaussian") and mask is None:
        log.warning("%s: no mask — the whole image is smoothed", path.name)
    options = job.options
    if job.method == "layers" and "curve" not in options:
        # the thin-lens model is exact only when the depth is linear in disparity (docs/rendering.md)
        options = {**options, "curve": "thin-lens" if depth_meta.get("depth_linear_in") == "disparity" else "power"}
    try:
        out, info = render_image(image, method=job.method, mask=mask, depth=depth, **options)
    except ValueError as err:
        raise UserError(f"{path}: {err}") from err
    dest = output_path(job.out, path)
    meta = {"method": job.method, "mask": mask_src, **depth_meta,
            "focus": info.get("focus"), "max_radius_px": info.get("max_radius_px"),
            **({"curve": options["curve"]} if "curve" in options else {})}
    write_image(dest, out, quality=job.quality, pnginfo={"gan-bokeh": json.dumps(meta)})
    if job.save_maps:
        _save_maps(job.out, path.stem, depth, info, image.shape[:2], mask)
    return {"output": str(dest), **meta, "layers": info.get("layers"),
            "seconds": round(time.perf_counter() - t0, 3),
            "render_seconds": {k: round(v, 3) for k, v in info.get("seconds", {}).items()}}


def render_files(inputs: list[str | os.PathLike[str]], job: RenderJob, *, recursive: bool = False,
                 settings: dict[str, Any] | None = None, progress: bool = True) -> BatchResult:
    """Render every image of ``inputs`` (files or folders) into ``job.out``.

    Args:
        settings: extra entries for ``OUT/render.json`` (e.g. the command line's flags).

    Raises:
        UserError: before any work — no images, a missing ``--mask``/``--depth``, ``--out`` = an input folder.
    """
    from gan_bokeh.io import atomic_write_text, list_images, output_path, refuse_overwriting_inputs

    paths = list_images(inputs, recursive=recursive)
    if not paths:
        raise UserError(f"no images found in {' '.join(map(str, inputs))}")
    sources = Sources(job, len(paths))
    refuse_overwriting_inputs(job.out, paths)
    job.out.mkdir(parents=True, exist_ok=True)
    record = {**(settings or {}), **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(job).items()}}
    atomic_write_text(job.out / "render.json", json.dumps(record, indent=2, default=str) + "\n")
    return run_batch(paths, each(lambda p: render_file(p, job, sources)), command="render", out=job.out,
                     is_done=None if job.overwrite else (lambda p: output_path(job.out, p).exists()),
                     journal=job.out / "render.jsonl", progress=progress)
