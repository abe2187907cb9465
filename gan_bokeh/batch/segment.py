"""``segment`` over files: person masks in the paper's RGBA format and/or as mask PNGs.

Outputs per input ``<stem>.<ext>`` in ``out``: ``<stem>.png`` (RGB + alpha = mask, ``fmt="rgba"``),
``<stem>.mask.png`` (8-bit mask, ``fmt="mask"``), or both. Every PNG carries text chunks naming the
backend and post-processing. Finished images are skipped unless ``overwrite``; unreadable inputs are
recorded as failed and the batch carries on; ``OUT/segment.jsonl`` records each image's outcome and
``OUT/segment.json`` the resolved settings.
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

from gan_bokeh.batch.loop import BatchResult, Outcome, failure_reason, run_batch
from gan_bokeh.errors import UserError

__all__ = ["FORMATS", "MAIN_SUBJECT", "SegmentJob", "segment_files"]

log = logging.getLogger("gan_bokeh.segment")

FORMATS = ("rgba", "mask", "both")
MAIN_SUBJECT = ("none", "largest", "central", "closest")


@dataclass
class SegmentJob:
    """Settings of one ``segment`` batch (the CLI's flags, parsed).

    ``main_subject=None`` means ``closest`` with ``depth``, else ``none``. ``segmenter_options`` go to
    :func:`gan_bokeh.segment.get_segmenter` (e.g. ``arch`` for DeepLab).
    """

    out: Path
    backend: str = "auto"
    weights: Path | None = None
    segmenter_options: dict[str, Any] = field(default_factory=dict)
    fmt: str = "rgba"
    main_subject: str | None = None
    depth: Path | None = None
    depth_kind: str = "depth"
    depth_colormap: str | None = None
    refine: bool = True
    open_close: int = 0
    min_area: float = 0.002
    max_hole: float = 0.01
    feather: float = 0.0
    batch_size: int = 4
    overwrite: bool = False
    device: str | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.depth = Path(self.depth) if self.depth is not None else None

    def validate(self) -> None:
        """Raise :class:`UserError` (exit 2) for bad settings; resolve ``main_subject``."""
        if self.depth is not None and not self.depth.exists():
            raise UserError(f"--depth {self.depth}: no such file or folder")
        from gan_bokeh.depth import check_colormap

        check_colormap(self.depth_colormap)
        if self.main_subject is None:
            self.main_subject = "closest" if self.depth is not None else "none"
        if self.main_subject == "closest" and self.depth is None:
            raise UserError("--main-subject closest needs --depth FILE|DIR")
        if self.batch_size < 1:
            raise UserError("--batch-size must be ≥ 1")
        if not 0 <= self.min_area < 1 or not 0 <= self.max_hole < 1:
            raise UserError("--min-area and --max-hole are fractions of the image in [0, 1)")
        if self.open_close < 0 or self.feather < 0:
            raise UserError("--open-close and --feather must be ≥ 0")


def _outputs(out: Path, stem: str, fmt: str) -> list[Path]:
    paths = []
    if fmt in ("rgba", "both"):
        paths.append(out / f"{stem}.png")
    if fmt in ("mask", "both"):
        paths.append(out / f"{stem}.mask.png")
    return paths


def _check_out(job: SegmentJob, images: list[Path]) -> None:
    """RGBA outputs (``<stem>.png``) in an input folder would sit beside their photos as new "photos"
    (and a later run would see two inputs with one stem); sidecar masks (``fmt="mask"``) belong there."""
    if job.fmt == "mask":
        return
    out = job.out.resolve()
    # (an input that *is* its own <stem>.png output is left to _plan, which records it as failed)
    if any(p.parent.resolve() == out and (out / f"{p.stem}.png") != p.resolve() for p in images):
        raise UserError(f"--out {job.out}: is an input folder; RGBA outputs would mix with the photos — "
                        "choose another folder, or use --format mask to write <stem>.mask.png sidecars there")


def _plan(job: SegmentJob, images: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Inputs to run, and those refused up front (colliding stems, an output that would overwrite an input)."""
    todo: list[Path] = []
    refused: list[tuple[Path, str]] = []
    seen: dict[str, Path] = {}
    inputs = {p.resolve() for p in images}
    for img in images:
        outs = _outputs(job.out, img.stem, job.fmt)
        if img.stem in seen:
            refused.append((img, f"same stem as {seen[img.stem]}; outputs would collide"))
            continue
        seen[img.stem] = img
        if any(o.resolve() in inputs for o in outs):
            refused.append((img, "output would overwrite an input; choose another --out"))
            continue
        todo.append(img)
    return todo, refused


def _postprocess(job: SegmentJob, mask: np.ndarray, depth_path: Path | None
                 ) -> tuple[np.ndarray, dict[str, str]]:
    from gan_bokeh.segment import refine_mask, select_main_subject

    info: dict[str, str] = {}
    if job.refine:
        mask = refine_mask(mask, open_close=job.open_close, min_area=job.min_area,
                           max_hole=job.max_hole, feather=job.feather)
        info["gan-bokeh:refine"] = (f"open_close={job.open_close} min_area={job.min_area} "
                                    f"max_hole={job.max_hole} feather={job.feather}")
    mode = job.main_subject or "none"
    if mode != "none":
        depth = None
        if mode == "closest":
            if depth_path is None:
                mode = "largest"
                info["gan-bokeh:note"] = "no depth file found; main subject = largest"
            else:
                from gan_bokeh.depth import load_depth

                depth = load_depth(depth_path, kind=job.depth_kind, colormap=job.depth_colormap)
                info["gan-bokeh:depth"] = depth_path.name
        mask = select_main_subject(mask, depth=depth, mode=mode)
        info["gan-bokeh:main-subject"] = mode
    return mask, info


def _write(rgb: np.ndarray, mask: np.ndarray, outs: list[Path], meta: dict[str, str]) -> None:
    from gan_bokeh.io import write_mask, write_rgba

    for p in outs:
        if p.name.endswith(".mask.png"):
            write_mask(p, mask, pnginfo=meta)
        else:
            write_rgba(p, rgb, mask, pnginfo=meta)


def _finish_one(job: SegmentJob, img: Path, rgb: np.ndarray, mask: np.ndarray, backend: str) -> dict[str, Any]:
    """Post-process and write one mask; returns its ``done`` record (raises UserError for bad side files)."""
    from gan_bokeh.depth import find_depth_file

    t0 = time.perf_counter()
    mask, info = _postprocess(job, mask, find_depth_file(img, job.depth))
    outs = _outputs(job.out, img.stem, job.fmt)
    meta = {"Software": "gan-bokeh segment", "gan-bokeh:segment-backend": backend,
            "gan-bokeh:source": img.name, **info}
    _write(rgb, mask, outs, meta)
    return {"status": "done", "backend": backend, "outputs": [o.name for o in outs],
            "coverage": round(float((mask > 0.5).mean()), 4), "post_s": round(time.perf_counter() - t0, 3),
            **info}


def segment_files(inputs: list[str | os.PathLike[str]], job: SegmentJob, *, recursive: bool = False,
                  progress: bool = True) -> BatchResult:
    """Segment every image of ``inputs`` (files or folders) into ``job.out``.

    Raises:
        UserError: before any work — bad settings, no images, one --depth file for several images, RGBA
            outputs into an input folder, no segmenter.
    """
    from gan_bokeh.io import atomic_write_text, list_images, read_image
    from gan_bokeh.segment import get_segmenter

    job.validate()
    images = list_images(inputs, recursive=recursive)
    if not images:
        raise UserError(f"no images found in {' '.join(map(str, inputs))}")
    if job.depth is not None and job.depth.is_file() and len(images) > 1:
        # a flag error, so before any work (it used to fail every image after running the model on it)
        raise UserError(f"--depth {job.depth}: a single depth file needs a single input; pass a folder")
    _check_out(job, images)
    job.out.mkdir(parents=True, exist_ok=True)
    todo, refused = _plan(job, images)

    def is_done(img: Path) -> bool:
        return not job.overwrite and all(o.is_file() for o in _outputs(job.out, img.stem, job.fmt))

    seg: Any = None
    if any(not is_done(p) for p in todo):
        seg = get_segmenter(job.backend, weights=job.weights, device=job.device, **job.segmenter_options)
        if seg.name.startswith(("deeplab", "u2net")):  # the torch backends (selfie sets its own threads)
            from gan_bokeh.runtime import torch_threads

            torch_threads()  # GAN_BOKEH_THREADS, if set
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(job).items()}
        settings["backend_resolved"] = seg.name
        atomic_write_text(job.out / "segment.json", json.dumps(settings, indent=2, default=str) + "\n")

    def work(chunk: list[Path]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        loaded = []
        for img in chunk:
            try:
                loaded.append((img, read_image(img)))
            except UserError as err:
                outcomes.append((img, {"status": "failed", "reason": failure_reason(img, err)}))
        rgbs = [rgb for _, rgb in loaded]
        masks = (seg.batch(rgbs) if hasattr(seg, "batch") else [seg(im) for im in rgbs]) if loaded else []
        for (img, rgb), mask in zip(loaded, masks, strict=True):
            try:
                outcomes.append((img, _finish_one(job, img, rgb, mask, seg.name)))
            except UserError as err:  # e.g. an unreadable depth file: record it, keep going
                outcomes.append((img, {"status": "failed", "reason": failure_reason(img, err)}))
        return outcomes

    return run_batch(todo, work, command="segment", out=job.out, is_done=is_done, failed_early=refused,
                     chunk_size=job.batch_size, journal=job.out / "segment.jsonl", item_key="image",
                     progress=progress)
