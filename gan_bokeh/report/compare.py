"""Build the side-by-side comparison report (the paper's Fig. 9–14 layout plus Fig. 15–16 loss curves).

Per input one row: input, mask, depth, every renderer method (smoothing baselines and depth renderers)
and every GAN run without and with the test-time mask overlay. Each result is written full size under
``cells/<column>/`` with a thumbnail under ``thumbs/<column>/``; a finished cell (image of the right size
plus its metrics sidecar) is reused on the next run, so an interrupted report resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.errors import BadImageError, UserError, first_line
from gan_bokeh.report.html import DEPTH_LEGEND, Cell, Row, metrics_table, render_page

log = logging.getLogger(__name__)

DEFAULT_METHODS = ("average", "gaussian", "buckets", "interpolate", "layers")
THUMB_SIZE = 320
TABLE_KEYS = ("subject_psnr", "subject_ssim", "bg_hf_ratio", "edge_halo", "psnr", "ssim", "psnr_gain", "ssim_gain")


@dataclass
class CompareOptions:
    """Options of :func:`build_report` (mirrors ``gan-bokeh compare``)."""

    inputs: Sequence[str | os.PathLike[str]]
    out_dir: str | os.PathLike[str]
    runs: Sequence[str | os.PathLike[str]] = ()
    methods: Sequence[str] = DEFAULT_METHODS
    mask_dir: str | os.PathLike[str] | None = None
    depth_dir: str | os.PathLike[str] | None = None
    depth_kind: str = "depth"
    depth_colormap: str | None = None
    target_dir: str | os.PathLike[str] | None = None
    max_images: int = 8
    max_size: int = 1024
    work_size: int | None = None
    device: str | None = None
    segment: bool = True
    progress: bool = False
    #: per-method renderer options, e.g. ``{"layers": {"max_blur": 6.0}}`` (``--render-option layers.max_blur=6``)
    render_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: caller notes shown at the top of the report's notes (``--note TEXT``)
    notes: Sequence[str] = ()

    def validate(self) -> None:
        """Raise :class:`UserError` (exit 2) for options that cannot work, before any cell is made."""
        try:
            from gan_bokeh.render import METHODS
        except ImportError:
            METHODS = None  # noqa: N806 - renderer room not installed: cells will say "unavailable"
        if METHODS is not None:
            bad = [m for m in self.methods if m not in METHODS]
            if bad:
                raise UserError(f"--methods {','.join(bad)}: unknown; choose from {', '.join(METHODS)}")
        if self.depth_dir is not None and not Path(self.depth_dir).is_dir():
            raise UserError(f"--depth {self.depth_dir}: no such folder")
        from gan_bokeh.depth import check_colormap

        check_colormap(self.depth_colormap)
        if self.max_images < 0 or self.max_size < 0:
            raise UserError("--max-images/--max-size must be >= 0")


@dataclass
class _Column:
    key: str
    label: str
    make: Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray] | None
    needs_mask: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    #: what makes this column's output besides the row's arrays: renderer + options, or the checkpoint's
    #: content hash + overlay + working size (part of every cell key)
    identity: str = ""
    #: the output copies the input inside the mask: subject figures are high by construction
    pasted: bool = False


def array_digest(arr: np.ndarray | None) -> str:
    """Content hash of an array (shape, dtype and bytes); ``"none"`` for ``None``."""
    if arr is None:
        return "none"
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.shape}|{a.dtype}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:32]


def cell_key(identity: str, *digests: str) -> str:
    """The key a cell is stored under: what made it (column identity) and what it was made from (content
    hashes of input, mask, depth, target). A cell is reused only when its stored key equals this one."""
    return hashlib.sha256("|".join([CELL_KEY_VERSION, identity, *digests]).encode()).hexdigest()[:32]


#: Bump when what a cell shows changes for the same inputs (the thumbnail size, the metrics).
CELL_KEY_VERSION = "cell-v2"


def _checkpoint_digest(run: str | os.PathLike[str]) -> str:
    """The checkpoint's identity: a content hash of the file the run resolves to (a retrained or resumed run
    under the same name gets new cells)."""
    from gan_bokeh.train.checkpoint import resolve_checkpoint

    path = Path(resolve_checkpoint(run))
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:32]


def _mean_cell(mean: dict[str, Any], key: str) -> Any:
    """A mean for the table; PSNR means say how many identical images were left out (``31.2 (+2 identical)``)."""
    v, n_same = mean.get(key), mean.get(f"{key}_identical")
    if not n_same:
        return v
    shown = f"{v:.4g}" if isinstance(v, float) else "—"
    return f"{shown} (+{int(n_same)} identical)"


def metrics_caption(metrics: dict[str, Any], pasted: bool = False) -> str:
    """The few numbers shown under a cell (all of them are in the metrics tables). A PSNR at the cap of
    identical images reads "identical", and a column that pastes the subject back says so first."""
    from gan_bokeh.evaluate.metrics import is_identical_psnr

    names = (("subject_psnr", "subject PSNR", ".1f"), ("bg_hf_ratio", "bg HF", ".2f"), ("edge_halo", "halo", ".3f"),
             ("psnr", "PSNR", ".1f"))
    parts = ["subject pasted"] if pasted else []
    for k, label, fmt in names:
        v = metrics.get(k)
        if isinstance(v, (int, float)) and v == v:
            parts.append(f"{label} identical" if "psnr" in k and is_identical_psnr(v) else f"{label} {v:{fmt}}")
    return " · ".join(parts)


def slug(text: str) -> str:
    """A file-system and URL friendly column key."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def run_label(run: str | os.PathLike[str]) -> str:
    """``runs/mask_loss`` → ``mask_loss``; ``runs/x/ckpt/latest.pt`` → ``x``; ``model.pt`` → ``model``."""
    p = Path(run)
    if p.is_file():
        return p.parent.parent.name if p.parent.name == "ckpt" else p.stem
    return p.name


def run_metrics_file(run: str | os.PathLike[str]) -> Path | None:
    """The run folder's ``metrics.jsonl`` (also found from a checkpoint inside ``ckpt/``)."""
    p = Path(run)
    root = p if p.is_dir() else (p.parent.parent if p.parent.name == "ckpt" else p.parent)
    f = root / "metrics.jsonl"
    return f if f.is_file() else None


def depth_stems(stem: str) -> set[str]:
    """File stems accepted as the depth map of image ``stem`` (see :func:`gan_bokeh.depth.depth_stems`)."""
    from gan_bokeh.depth import depth_stems as _stems

    return set(_stems(stem))


def _thumb(src: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    from gan_bokeh.io import resize_image

    h, w = src.shape[:2]
    s = min(1.0, size / max(h, w))
    return resize_image(src, (max(1, round(h * s)), max(1, round(w * s))))


def depth_preview(depth: np.ndarray) -> np.ndarray:
    """Depth (0 near … 1 far) as an RGB image: near = bright yellow, far = dark purple (viridis)."""
    import cv2

    d = (np.clip(1.0 - depth, 0, 1) * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(d, cv2.COLORMAP_VIRIDIS)
    return bgr[..., ::-1].astype(np.float32) / 255.0


def _render_fn(method: str, options: dict[str, Any] | None = None) -> Callable[..., np.ndarray]:
    from gan_bokeh.render import render_image

    options = dict(options or {})

    def make(image: np.ndarray, mask: np.ndarray | None, depth: np.ndarray | None) -> np.ndarray:
        try:
            out, _info = render_image(image, method=method, mask=mask, depth=depth, **options)
        except TypeError as err:  # an option the method does not take
            raise UserError(f"--render-option {method}.*: {first_line(err)}") from None
        return out

    return make


def _render_column_names(method: str, options: dict[str, Any] | None) -> tuple[str, str]:
    """``(key, label)`` of a renderer column; options are part of both, so cached cells made with other
    options are never reused."""
    if not options:
        return slug(f"render-{method}"), method
    args = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    return slug(f"render-{method}-{args}"), f"{method} ({args})"


class ReportBuilder:
    """Runs every column on every input, caches cells, evaluates and writes ``index.html``."""

    def __init__(self, opts: CompareOptions) -> None:
        from gan_bokeh.io import list_images

        self.o = opts
        self.out = Path(opts.out_dir)
        self.images = list_images(opts.inputs)[: opts.max_images] if opts.max_images > 0 else list_images(opts.inputs)
        if not self.images:
            raise UserError(f"--input {', '.join(map(str, opts.inputs))}: no images found")
        in_dirs = {p.parent.resolve() for p in self.images}
        if self.out.resolve() in in_dirs:
            raise UserError(f"--out {self.out}: is an input folder; choose a separate report folder")
        self.notes: list[str] = [*opts.notes,
            (f"inputs downscaled to ≤ {opts.max_size} px (long side) before every method" if opts.max_size
             else "inputs at their original size")
            + f"; GAN runs at working size {opts.work_size or 'of their training crop'}, merged to the cell size "
              "(detail merge), AtoB direction"]
        from gan_bokeh.segment import LazySegmenter

        self._segmenter = LazySegmenter("auto", self.o.device, self._no_segmenter) if self.o.segment else None
        self.columns = self._columns()
        self.stats = {"made": 0, "reused": 0, "failed": 0, "skipped_inputs": 0}

    # ----------------------------------------------------------------------------------------- columns
    def _columns(self) -> list[_Column]:
        cols: list[_Column] = []
        unavailable: list[str] = []
        for m in self.o.methods:
            try:
                fn = _render_fn(m, self.o.render_options.get(m))
            except UserError as err:
                unavailable.append(m)
                reason = str(err)
                fn = None
            ident = "render:" + m + ":" + json.dumps(self.o.render_options.get(m) or {}, sort_keys=True, default=str)
            from gan_bokeh.render.registry import RENDERERS

            pasted = bool(RENDERERS[m].meta.get("pastes_subject")) if m in RENDERERS else False
            cols.append(_Column(*_render_column_names(m, self.o.render_options.get(m)), fn, needs_mask=False,
                                identity=ident, pasted=pasted))
        if unavailable:
            self.notes.append(f"renderers {', '.join(unavailable)}: {reason}")
        used: set[str] = set()
        for run in self.o.runs:
            label = run_label(run)
            while label in used:
                label += "_"
            used.add(label)
            gen = self._load_run(run)
            kind = "paired" if getattr(gen, "paired", False) else "GAN"
            ident = f"run:{_checkpoint_digest(run)}:work={self.o.work_size}"
            cols.append(_Column(slug(f"gan-{label}"), f"{label} ({kind})", self._gan_fn(gen, False),
                                needs_mask=bool(getattr(gen, "needs_mask", False)), identity=ident + ":overlay=0"))
            cols.append(_Column(slug(f"gan-{label}-overlay"), f"{label} + overlay", self._gan_fn(gen, True),
                                needs_mask=True, identity=ident + ":overlay=1", pasted=True))
        return cols

    def _load_run(self, run: str | os.PathLike[str]) -> Any:
        """A GAN run's :class:`FullResGenerator`, or a paired (PyNET) run's :class:`PairedGenerator`."""
        from gan_bokeh.generate import open_generator

        return open_generator(run, "AtoB", device=self.o.device, work_size=self.o.work_size)[0]

    @staticmethod
    def _gan_fn(gen: Any, with_overlay: bool) -> Callable[..., np.ndarray]:
        def make(image: np.ndarray, mask: np.ndarray | None, depth: np.ndarray | None) -> np.ndarray:
            m = mask if with_overlay else None
            extra: dict[str, Any] = {}
            if getattr(gen, "needs_depth", False):  # the report's depth (file or mask fallback)
                extra["depths"] = [depth]
            if getattr(gen, "needs_mask", False) or getattr(gen, "renders", False):  # mask input / gather
                extra["subject_masks"] = [mask]
            return gen.generate([image], None if m is None else [m], **extra)[0]

        return make

    # ------------------------------------------------------------------------------------- inputs
    def _load_input(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        from gan_bokeh.io import read_image_alpha, resize_image

        rgb, alpha = read_image_alpha(path)
        h, w = rgb.shape[:2]
        if self.o.max_size and max(h, w) > self.o.max_size:
            s = self.o.max_size / max(h, w)
            shape = (max(1, round(h * s)), max(1, round(w * s)))
            rgb = resize_image(rgb, shape)
            alpha = resize_image(alpha, shape) if alpha is not None else None
        return rgb, alpha

    def _mask(self, path: Path, image: np.ndarray, alpha: np.ndarray | None,
              image_digest: str | None = None) -> tuple[np.ndarray | None, str]:
        """The one mask rule, else the segmenter's mask cached from an input whose content hash is
        ``image_digest`` (:func:`array_digest` of ``image``; :meth:`build` passes the one it keys the row's
        cells with, so the photo is hashed once)."""
        from gan_bokeh.io import find_mask, read_mask

        src = find_mask(path, self.o.mask_dir, alpha=alpha)  # the one mask rule (gan_bokeh.io.masks)
        if src is not None:
            label = f"mask file {src.path.name}" if src.kind == "file" else "alpha channel"
            return src.load(alpha, image.shape[:2]), label
        cached = self.out / "cells" / "mask" / f"{path.stem}.png"
        side = self._paths("mask", path.stem)[2]
        if cached.is_file() and side.is_file():
            try:
                made_from = json.loads(side.read_text()).get("input")
            except (ValueError, OSError):
                made_from = None
            if made_from == (image_digest or array_digest(image)):  # segmented from this input
                m = read_mask(cached)
                if m.shape == image.shape[:2]:
                    return m, "segmenter (cached)"
        m = self._segmenter(image) if self._segmenter is not None else None
        return (None, "no mask") if m is None else (m, f"segmenter {self._segmenter.name}")

    def _no_segmenter(self, reason: str) -> None:
        self.notes.append(f"no segmenter ({reason}); rows without a mask file have no mask-based cells")

    def _depth(self, path: Path, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray | None, str]:
        from gan_bokeh.depth import find_depth_file, load_depth
        from gan_bokeh.io import resize_image

        found = find_depth_file(path, self.o.depth_dir) if self.o.depth_dir is not None else None
        if found is not None:
            d = load_depth(found, kind=self.o.depth_kind, colormap=self.o.depth_colormap)
            return resize_image(d.astype(np.float32), image.shape[:2], up="linear"), f"depth file {found.name}"
        if mask is not None:
            from gan_bokeh.depth import fallback_depth

            return fallback_depth(mask), "fallback depth from the mask"
        return None, "no depth"

    def _target(self, path: Path, image: np.ndarray) -> np.ndarray | None:
        """The paired real shallow-DoF photo ``<stem>.*`` from ``target_dir`` (resized to the input), if any."""
        from gan_bokeh.io import find_by_stem, read_image, resize_image

        if self.o.target_dir is None:
            return None
        found = find_by_stem(self.o.target_dir, path.stem, exclude=path)  # never a sidecar mask beside the input
        if found is None:
            return None
        try:
            return resize_image(read_image(found), image.shape[:2])
        except BadImageError as err:
            self.notes.append(f"target skipped: {err}")
            return None

    # ----------------------------------------------------------------------------------------- cells
    def _paths(self, key: str, stem: str) -> tuple[Path, Path, Path]:
        return (self.out / "cells" / key / f"{stem}.jpg", self.out / "thumbs" / key / f"{stem}.jpg",
                self.out / "cells" / key / f"{stem}.json")

    def _rel(self, p: Path) -> str:
        return p.relative_to(self.out).as_posix()

    def _save(self, key: str, stem: str, arr: np.ndarray, label: str, note: str = "",
              metrics: dict[str, Any] | None = None, content_key: str = "", pasted: bool = False) -> Cell:
        from gan_bokeh.io import atomic_write_text, write_image

        full, thumb, side = self._paths(key, stem)
        write_image(full, arr, quality=92)
        write_image(thumb, _thumb(arr), quality=85)
        atomic_write_text(side, json.dumps({"label": label, "note": note, "metrics": metrics or {},
                                            "key": content_key}, allow_nan=True))
        return Cell(metrics_caption(metrics or {}, pasted), self._rel(thumb), self._rel(full), note, column=label)

    def _cached(self, key: str, stem: str, content_key: str) -> dict[str, Any] | None:
        """The stored sidecar of a cell when its image files exist and it was made from exactly this
        ``content_key`` (:func:`cell_key`); else ``None`` (the cell is made again)."""
        full, thumb, side = self._paths(key, stem)
        if not (full.is_file() and thumb.is_file() and side.is_file()):
            return None
        try:
            meta = json.loads(side.read_text())
        except (ValueError, OSError):
            return None
        return meta if meta.get("key") == content_key else None

    def _cell(self, col: _Column, stem: str, image: np.ndarray, mask: np.ndarray | None,
              depth: np.ndarray | None, target: np.ndarray | None = None,
              digests: tuple[str, ...] = ()) -> Cell:
        from gan_bokeh.evaluate import evaluate_pair

        content_key = cell_key(col.identity, *digests) if digests else ""
        meta = self._cached(col.key, stem, content_key) if content_key else None
        if meta is not None:
            self.stats["reused"] += 1
            col.results.append({"name": stem, **meta["metrics"]})
            full, thumb, _ = self._paths(col.key, stem)
            return Cell(metrics_caption(meta["metrics"], col.pasted), self._rel(thumb), self._rel(full),
                        meta.get("note", ""), column=col.label)
        if col.make is None:
            return Cell("", note="renderer unavailable", column=col.label)
        if col.needs_mask and mask is None:
            return Cell("", note="needs a mask", column=col.label)
        try:
            out = np.clip(col.make(image, mask, depth), 0, 1).astype(np.float32)
        except (UserError, ValueError, RuntimeError) as err:
            self.stats["failed"] += 1
            log.warning("%s on %s failed: %s", col.label, stem, err)
            return Cell("", note=f"failed: {first_line(err, 160)}", column=col.label)
        metrics = evaluate_pair(out, image, mask, target)
        self.stats["made"] += 1
        col.results.append({"name": stem, **metrics})
        return self._save(col.key, stem, out, col.label, metrics=metrics, content_key=content_key,
                          pasted=col.pasted)

    # ------------------------------------------------------------------------------------------ build
    def build(self) -> Path:
        """Make every row, evaluate, plot, write ``index.html``; returns its path."""
        from tqdm import tqdm

        from gan_bokeh.io import atomic_write_text

        rows: list[Row] = []
        for path in tqdm(self.images, desc="compare", unit="img", disable=not self.o.progress):
            try:
                image, alpha = self._load_input(path)
                image_digest = array_digest(image)
                mask, mask_src = self._mask(path, image, alpha, image_digest)
                depth, depth_src = self._depth(path, image, mask)
                target = self._target(path, image)
            except UserError as err:  # the input or its mask/depth/target file (BadImageError included)
                self.notes.append(f"skipped {err}" if str(path) in str(err) else f"skipped {path.name}: {err}")
                self.stats["skipped_inputs"] += 1
                continue
            stem = path.stem
            digests = (image_digest, *(array_digest(a) for a in (mask, depth, target)))
            row = Row(path.name)
            row.cells.append(self._static_cell("input", stem, image, f"{image.shape[1]}×{image.shape[0]} px",
                                               digests[0]))
            row.cells.append(self._static_cell("mask", stem, mask, mask_src, digests[1], {"input": digests[0]})
                             if mask is not None else Cell("", note="no mask", column="mask"))
            row.cells.append(self._static_cell("depth", stem, depth_preview(depth), depth_src, digests[2])
                             if depth is not None else Cell("", note="no depth", column="depth"))
            if target is not None:
                row.cells.append(self._static_cell("target", stem, target, "real shallow depth of field",
                                                   digests[3]))
            for col in self.columns:
                row.cells.append(self._cell(col, stem, image, mask, depth, target, digests))
            rows.append(row)
        tables = self._tables()
        plots = self._plots()
        page = render_page(
            "gan-bokeh comparison", rows, tables_html=tables, plots=plots, notes=self.notes,
            legend="Click a thumbnail for the full-size image. bg_hf_ratio < 1 = background blurred; "
                   "subject PSNR/SSIM compare the output with the input inside the mask; edge_halo = colour "
                   "change in a thin band around the subject boundary.")
        index = self.out / "index.html"
        atomic_write_text(index, page)
        return index

    def _static_cell(self, key: str, stem: str, arr: np.ndarray, label: str, digest: str,
                     extra: dict[str, str] | None = None) -> Cell:
        """Input/mask/depth/target cells: rewritten unless the stored content hash matches."""
        from gan_bokeh.io import atomic_write_text, write_image

        full, thumb, side = self._paths(key, stem)
        if key == "mask":
            full = full.with_suffix(".png")
        content_key = cell_key(key, digest, *(extra or {}).values())
        stored = None
        if full.is_file() and thumb.is_file() and side.is_file():
            try:
                stored = json.loads(side.read_text()).get("key")
            except (ValueError, OSError):
                stored = None
        if stored != content_key:
            write_image(full, arr, quality=92)
            write_image(thumb, _thumb(arr), quality=85)
            atomic_write_text(side, json.dumps({"label": label, "key": content_key, **(extra or {})}))
        return Cell(label, self._rel(thumb), self._rel(full), column=key,
                    extra_html=DEPTH_LEGEND if key == "depth" else "")

    def _tables(self) -> str:
        from gan_bokeh.evaluate import mean_metrics, write_metrics

        keys = [k for k in TABLE_KEYS if any(k in r for c in self.columns for r in c.results)]
        header = ["method", "subject", "images", *keys]
        rows = []
        for col in self.columns:
            if not col.results:
                continue
            mean = mean_metrics(col.results)
            write_metrics({"per_image": col.results, "mean": mean, "notes": []}, self.out / "metrics" / col.key)
            rows.append([col.label, "pasted" if col.pasted else "generated", len(col.results),
                         *(_mean_cell(mean, k) for k in keys)])
        if not rows or not keys:
            return "<p>No metrics (no masks and no targets).</p>"
        html = metrics_table("Mean over images (per-image values: metrics/<column>/metrics.csv). \"pasted\": the "
                             "output copies the input inside the mask, so its subject figures are high by "
                             "construction; identical images (100 dB) are counted apart, not averaged",
                             header, rows)
        per_image = []
        for col in self.columns:
            for r in col.results:
                per_image.append([r["name"], col.label, *(r.get(k) for k in keys)])
        per_image.sort(key=lambda r: (r[0], r[1]))
        return html + metrics_table("Per image", ["image", "method", *keys], per_image)

    def _plots(self) -> list[tuple[str, str]]:
        from gan_bokeh.io import read_jsonl
        from gan_bokeh.report.plots import plot_run_losses, plot_runs_group

        runs: dict[str, list[dict[str, Any]]] = {}
        out: list[tuple[str, str]] = []
        for run in self.o.runs:
            f = run_metrics_file(run)
            if f is None:
                self.notes.append(f"{run}: no metrics.jsonl, no loss curves")
                continue
            label = run_label(run)
            records = [r for r in read_jsonl(f) if isinstance(r, dict)]
            runs[label] = records
            png = plot_run_losses(records, self.out / "plots" / f"{slug(label)}.png", title=label)
            if png is not None:
                out.append((f"{label}: losses per group", self._rel(png)))
        if len(runs) > 1:
            for group, fig in (("cycle", "Fig. 15"), ("mask", "Fig. 16")):
                png = plot_runs_group(runs, group, self.out / "plots" / f"by_run_{group}.png")
                if png is not None:
                    out.append((f"{group} loss by run (cf. the paper's {fig})", self._rel(png)))
        return out


def build_report(opts: CompareOptions) -> tuple[Path, dict[str, int], list[str]]:
    """Build the report; returns ``(index.html path, counters, notes)``.

    Raises:
        UserError: bad options (:meth:`CompareOptions.validate`), no inputs, ``out_dir`` = an input folder.
    """
    opts.validate()
    b = ReportBuilder(opts)
    index = b.build()
    return index, b.stats, b.notes
