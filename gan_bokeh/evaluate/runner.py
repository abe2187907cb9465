"""Evaluate a folder of results: match files by stem, compute per-image metrics, means, FID/KID."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gan_bokeh.errors import BadImageError, UserError, WeightsUnavailableError
from gan_bokeh.evaluate import metrics as M

#: Column order of metrics.csv and the printed table (the contract's metric keys).
METRIC_KEYS = ("subject_psnr", "subject_ssim", "bg_hf_ratio", "edge_halo", "psnr", "ssim", "psnr_gain",
               "ssim_gain", "lpips", "fid", "kid_mean", "kid_std")
#: Per-image metrics (FID/KID are set-level and only appear in ``mean``).
PER_IMAGE_KEYS = METRIC_KEYS[:9]  # all but FID/KID (set-level)
#: PSNR keys: capped at 100 dB for identical images, which means count apart (:func:`mean_metrics`).
PSNR_KEYS = frozenset({"subject_psnr", "psnr", "psnr_gain"})


def evaluate_pair(pred: np.ndarray, inp: np.ndarray, mask: np.ndarray | None = None,
                  target: np.ndarray | None = None) -> dict[str, float]:
    """All per-image metrics of one output.

    Args:
        pred: the output ``(H, W, 3)`` [0, 1].
        inp: the input it was made from, same shape.
        mask: subject mask ``(H, W)`` or ``None`` (→ no subject/background/halo metrics); subject PSNR/SSIM
            are measured inside its eroded interior (:func:`~gan_bokeh.evaluate.metrics.subject_interior`).
        target: a real shallow-DoF photo of the same scene or ``None`` (→ no psnr/ssim).
    """
    out: dict[str, float] = {}
    if mask is not None:
        interior = M.subject_interior(mask)  # the subject's rim is left out (see subject_interior)
        out["subject_psnr"] = M.subject_psnr(pred, inp, interior)
        out["subject_ssim"] = M.subject_ssim(pred, inp, interior)
        out["bg_hf_ratio"] = M.bg_hf_ratio(pred, inp, mask)
        out["edge_halo"] = M.edge_halo(pred, inp, mask)
    if target is not None:
        out["psnr"] = M.psnr(pred, target)
        out["ssim"] = M.ssim(pred, target)
        fitted = M.fit_gain(pred, target)
        out["psnr_gain"] = M.psnr(fitted, target)
        out["ssim_gain"] = M.ssim(fitted, target)
    return out


def index_by_stem(folder: str | os.PathLike[str] | None) -> dict[str, Path]:
    """``stem → path`` of the images in ``folder`` (sidecar ``*.mask.png`` excluded)."""
    from gan_bokeh.io import list_images

    if folder is None:
        return {}
    return {p.stem: p for p in list_images(folder)}


def _load_mask(inp_path: Path, alpha: np.ndarray | None, mask_dir: Path | None,
               shape: tuple[int, int]) -> np.ndarray | None:
    """The one mask rule (:mod:`gan_bokeh.io.masks`): a fully opaque alpha is no mask, not a full-frame subject."""
    from gan_bokeh.io import load_mask

    return load_mask(inp_path, alpha, mask_dir, shape=shape)[0]


def mean_metrics(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Mean of every metric key over the rows, ignoring missing and NaN values.

    PSNR values at the cap for identical images (100 dB) are not measurements: they are left out of the
    mean and counted as ``<key>_identical`` (with ``<key>_n`` the number of images averaged), so one
    untouched image does not lift a mean by tens of dB.
    """
    acc: dict[str, list[float]] = {}
    identical: dict[str, int] = {}
    for r in rows:
        for k in PER_IMAGE_KEYS:
            v = r.get(k)
            if isinstance(v, (int, float)) and not math.isnan(v):
                if k in PSNR_KEYS and M.is_identical_psnr(float(v)):
                    identical[k] = identical.get(k, 0) + 1
                    continue
                acc.setdefault(k, []).append(float(v))
    out = {k: float(np.mean(v)) for k, v in acc.items()}
    for k, n in identical.items():
        out[f"{k}_identical"] = float(n)
        out[f"{k}_n"] = float(len(acc.get(k, [])))
    return out


def evaluate_folders(pred_dir: str | os.PathLike[str], input_dir: str | os.PathLike[str], *,
                     mask_dir: str | os.PathLike[str] | None = None,
                     target_dir: str | os.PathLike[str] | None = None,
                     real_b_dir: str | os.PathLike[str] | None = None,
                     inception_weights: str | os.PathLike[str] | None = None,
                     progress: bool = False, segmenter: str | None = None,
                     device: Any = None) -> dict[str, Any]:
    """Evaluate every output in ``pred_dir`` against the input (and target) with the same stem.

    An input without a mask (``mask_dir``, sidecar, alpha) gets one from ``segmenter`` (a name of
    :data:`gan_bokeh.segment.BACKENDS`, run on the input; ``None`` = leave it without) and a note says so.

    Returns:
        ``{"per_image": [{"name", metric: value, ...}], "mean": {...}, "notes": [...]}``; NaN values are
        ``None``. FID/KID (with ``real_b_dir``) are added to ``mean`` only.
    """
    from tqdm import tqdm

    from gan_bokeh.io import read_image, read_image_alpha, resize_image

    preds = index_by_stem(pred_dir)
    inputs = index_by_stem(input_dir)
    targets = index_by_stem(target_dir)
    mdir = Path(mask_dir) if mask_dir is not None else None
    if not preds:
        raise UserError(f"--pred {pred_dir}: no images found")
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    no_mask, resized, segmented = [], [], []
    masker = None
    if segmenter is not None:
        from gan_bokeh.segment import LazySegmenter

        masker = LazySegmenter(segmenter, device, lambda err: notes.append(f"no segmenter for masks ({err})"))
    lpips_model = _lpips_or_note(notes) if targets else None
    for stem, p in tqdm(sorted(preds.items()), desc="evaluate", unit="img", disable=not progress):
        if stem not in inputs:
            notes.append(f"{p.name}: no input with stem {stem!r} in {input_dir}; skipped")
            continue
        try:
            pred = read_image(p)
            inp, alpha = read_image_alpha(inputs[stem])
            target = read_image(targets[stem]) if stem in targets else None
        except BadImageError as err:
            notes.append(f"skipped {err}")
            continue
        if pred.shape != inp.shape:
            resized.append(p.name)
            pred = resize_image(pred, inp.shape[:2], up="linear")
        if target is not None and target.shape != inp.shape:
            target = resize_image(target, inp.shape[:2], up="linear")
        try:
            mask = _load_mask(inputs[stem], alpha, mdir, inp.shape[:2])
        except BadImageError as err:  # a broken mask file: record it, carry on with the others
            notes.append(f"skipped {p.name}: mask {err}")
            continue
        if mask is None:
            mask = masker(inp) if masker is not None else None
            (no_mask if mask is None else segmented).append(p.name)
        row: dict[str, Any] = {"name": p.name}
        row.update(evaluate_pair(pred, inp, mask, target))
        if lpips_model is not None and target is not None:
            from gan_bokeh.evaluate.lpips import lpips_distance

            row["lpips"] = lpips_distance(lpips_model, pred, target)
        rows.append(row)
    if no_mask:
        notes.append(f"no mask for {len(no_mask)} image(s) (subject/background/halo metrics omitted): "
                     + ", ".join(no_mask[:5]) + (" …" if len(no_mask) > 5 else ""))
    if segmented:
        notes.append(f"masks computed with the {masker.name} segmenter for {len(segmented)} image(s) without "
                     "--mask, sidecar or alpha: " + ", ".join(segmented[:5]) + (" …" if len(segmented) > 5 else ""))
    if resized:
        notes.append(f"{len(resized)} output(s) differ in size from their input and were resized to it")
    if target_dir is not None and not any("psnr" in r for r in rows):
        notes.append(f"--target {target_dir}: no file matched an output by stem")
    mean = mean_metrics(rows)
    if real_b_dir is not None:
        mean.update(_fid_kid(list(preds.values()), real_b_dir, inception_weights, notes))
    return without_nan({"per_image": rows, "mean": mean, "notes": notes})


def _lpips_or_note(notes: list[str]) -> Any:
    """The LPIPS model, or ``None`` with one note saying why (offline: no backbone weights)."""
    from gan_bokeh.evaluate.lpips import load_lpips

    try:
        return load_lpips()
    except WeightsUnavailableError as err:
        notes.append(f"LPIPS skipped: {err}")
        return None


def _fid_kid(fake: list[Path], real_b_dir: str | os.PathLike[str], weights: Any, notes: list[str]
             ) -> dict[str, float]:
    from gan_bokeh.evaluate.fid import fid_kid, kid_subset, load_feature_extractor
    from gan_bokeh.io import list_images

    real = list_images(real_b_dir)
    try:
        feature, desc = load_feature_extractor(weights)
    except WeightsUnavailableError as err:
        notes.append(str(err))
        return {}
    try:
        res = fid_kid(fake, real, feature)
    except ValueError as err:
        notes.append(f"FID/KID skipped: {err}")
        return {}
    except BadImageError as err:
        notes.append(f"FID/KID skipped: {err}")
        return {}
    notes.append(f"FID/KID: {len(fake)} generated vs {len(real)} real-B images; features: {desc}; "
                 f"KID subset size {kid_subset(len(fake), len(real))}"
                 + ("; few images: FID is strongly biased upwards below ~2000 images" if len(fake) < 2000 else ""))
    return res


def write_metrics(result: dict[str, Any], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``metrics.csv`` (one row per image plus a ``mean`` row), atomically."""
    from gan_bokeh.io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jpath, cpath = out / "metrics.json", out / "metrics.csv"
    result = without_nan(result)
    atomic_write_text(jpath, json.dumps(result, indent=2, allow_nan=False) + "\n")
    keys = [k for k in METRIC_KEYS if k in result["mean"] or any(k in r for r in result["per_image"])]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", *keys])
    for r in result["per_image"]:
        w.writerow([r["name"], *(_fmt(r.get(k)) for k in keys)])
    w.writerow(["mean", *(_fmt(result["mean"].get(k)) for k in keys)])
    atomic_write_text(cpath, buf.getvalue())
    return jpath, cpath


def without_nan(obj: Any) -> Any:
    """NaN → ``None`` everywhere (JSON has no NaN)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: without_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [without_nan(v) for v in obj]
    return obj


def _fmt(v: Any) -> str:
    return "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def format_table(result: dict[str, Any], max_rows: int = 50) -> str:
    """A fixed-width text table of the per-image metrics and the mean."""
    keys = [k for k in METRIC_KEYS if k in result["mean"] or any(k in r for r in result["per_image"])]
    rows = [[r["name"], *(_fmt(r.get(k)) for k in keys)] for r in result["per_image"][:max_rows]]
    if len(result["per_image"]) > max_rows:
        rows.append([f"… {len(result['per_image']) - max_rows} more", *([""] * len(keys))])
    rows.append(["mean", *(_fmt(result["mean"].get(k)) for k in keys)])
    head = ["name", *keys]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    widths[0] = min(widths[0], 40)

    def line(cells: list[str]) -> str:
        return "  ".join(str(c)[:widths[0]].ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                         for i, c in enumerate(cells))

    return "\n".join([line(head), *(line(r) for r in rows)])
