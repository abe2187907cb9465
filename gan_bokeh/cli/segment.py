"""``gan-bokeh segment``: person masks for photos, in the paper's RGBA format and/or as mask PNGs.

Outputs per input ``<stem>.<ext>`` in ``--out``: ``<stem>.png`` (RGB + alpha = mask, ``--format rgba``),
``<stem>.mask.png`` (8-bit mask, ``--format mask``), or both. Every PNG carries text chunks naming the
backend and post-processing. Finished images are skipped unless ``--overwrite``; unreadable inputs are
listed and skipped; ``OUT/segment.jsonl`` records each image's outcome and ``OUT/segment.json`` the
resolved settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_bokeh.cli.options import add_depth_arguments
from gan_bokeh.errors import UserError

HELP = "person masks (DeepLabV3 or offline selfie model) as RGBA PNGs and/or mask PNGs"

log = logging.getLogger("gan_bokeh.segment")

FORMATS = ("rgba", "mask", "both")
MAIN_SUBJECT = ("none", "largest", "central", "closest")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    # == gan_bokeh.segment.BACKENDS (literal: keeps --help fast; tests/test_cli_registries.py checks it)
    parser.add_argument("--backend", choices=("auto", "deeplab", "selfie", "u2net"), default="auto",
                        help="person: deeplab, selfie (auto = DeepLab when its weights are given or cached, else "
                             "selfie; default); any salient subject: u2net")
    parser.add_argument("--weights", type=Path, default=None,
                        help="local weights: DeepLab or U²-Net state dict (.pt/.pth/.safetensors) or selfie .tflite")
    parser.add_argument("--u2net-variant", choices=("u2net", "u2netp"), default="u2net",
                        help="U²-Net size: u2net (176 MB, default) or u2netp (4.7 MB)")
    parser.add_argument("--deeplab-arch", choices=("resnet101", "resnet50", "mobilenet_v3"),
                        default="resnet101", help="DeepLabV3 backbone (default resnet101)")
    parser.add_argument("--format", choices=FORMATS, default="rgba", dest="fmt",
                        help="rgba: <stem>.png with alpha = mask; mask: <stem>.mask.png; both")
    parser.add_argument("--main-subject", choices=MAIN_SUBJECT, default=None,
                        help="keep one person (default: closest with --depth, else none)")
    add_depth_arguments(parser, "depth file (one input) or folder with <stem>.npy/.png/... (0/dark = near); "
                                "picks the closest person")
    parser.add_argument("--no-refine", action="store_true", help="write the raw model probability")
    parser.add_argument("--open-close", type=int, default=0, metavar="PX",
                        help="morphological open/close radius in px (0 = off, default)")
    parser.add_argument("--min-area", type=float, default=0.002, metavar="FRAC",
                        help="drop mask components smaller than this fraction of the image (default 0.002)")
    parser.add_argument("--max-hole", type=float, default=0.01, metavar="FRAC",
                        help="fill enclosed holes up to this fraction of the image (default 0.01)")
    parser.add_argument("--feather", type=float, default=0.0, metavar="PX",
                        help="Gaussian feather of the mask edge in px (0 = keep the model's soft edge)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (DeepLab)")
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument("--overwrite", action="store_true", help="redo images whose outputs exist")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (DeepLab; default auto)")


@dataclass
class _Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _outputs(out: Path, stem: str, fmt: str) -> list[Path]:
    paths = []
    if fmt in ("rgba", "both"):
        paths.append(out / f"{stem}.png")
    if fmt in ("mask", "both"):
        paths.append(out / f"{stem}.mask.png")
    return paths


def _depth_for(args: argparse.Namespace, image: Path, n_inputs: int) -> Path | None:
    from gan_bokeh.depth import find_depth_file

    if args.depth is not None and args.depth.is_file() and n_inputs > 1:
        raise UserError(f"--depth {args.depth}: a single depth file needs a single input; pass a folder")
    return find_depth_file(image, args.depth)


def _validate(args: argparse.Namespace) -> None:
    if args.depth is not None and not args.depth.exists():
        raise UserError(f"--depth {args.depth}: no such file or folder")
    from gan_bokeh.depth import check_colormap

    check_colormap(args.depth_colormap)
    if args.main_subject is None:
        args.main_subject = "closest" if args.depth is not None else "none"
    if args.main_subject == "closest" and args.depth is None:
        raise UserError("--main-subject closest needs --depth FILE|DIR")
    if args.batch_size < 1:
        raise UserError("--batch-size must be ≥ 1")
    if not 0 <= args.min_area < 1 or not 0 <= args.max_hole < 1:
        raise UserError("--min-area and --max-hole are fractions of the image in [0, 1)")
    if args.open_close < 0 or args.feather < 0:
        raise UserError("--open-close and --feather must be ≥ 0")


def _check_out(args: argparse.Namespace, images: list[Path]) -> None:
    """RGBA outputs (``<stem>.png``) in an input folder would sit beside their photos as new "photos"
    (and a later run would see two inputs with one stem); sidecar masks (``--format mask``) belong there."""
    if args.fmt == "mask":
        return
    out = args.out.resolve()
    # (an input that *is* its own <stem>.png output is left to _plan, which records it as failed)
    if any(p.parent.resolve() == out and (out / f"{p.stem}.png") != p.resolve() for p in images):
        raise UserError(f"--out {args.out}: is an input folder; RGBA outputs would mix with the photos — "
                        "choose another folder, or use --format mask to write <stem>.mask.png sidecars there")


def _postprocess(args: argparse.Namespace, mask: Any, depth_path: Path | None) -> tuple[Any, dict[str, str]]:
    from gan_bokeh.segment import refine_mask, select_main_subject

    info: dict[str, str] = {}
    if not args.no_refine:
        mask = refine_mask(mask, open_close=args.open_close, min_area=args.min_area,
                           max_hole=args.max_hole, feather=args.feather)
        info["gan-bokeh:refine"] = (f"open_close={args.open_close} min_area={args.min_area} "
                                    f"max_hole={args.max_hole} feather={args.feather}")
    mode = args.main_subject
    if mode != "none":
        depth = None
        if mode == "closest":
            if depth_path is None:
                mode = "largest"
                info["gan-bokeh:note"] = "no depth file found; main subject = largest"
            else:
                from gan_bokeh.depth import load_depth

                depth = load_depth(depth_path, kind=args.depth_kind, colormap=args.depth_colormap)
                info["gan-bokeh:depth"] = depth_path.name
        mask = select_main_subject(mask, depth=depth, mode=mode)
        info["gan-bokeh:main-subject"] = mode
    return mask, info


def _write(rgb: Any, mask: Any, outs: list[Path], meta: dict[str, str]) -> None:
    from gan_bokeh.io import write_mask, write_rgba

    for p in outs:
        if p.name.endswith(".mask.png"):
            write_mask(p, mask, pnginfo=meta)
        else:
            write_rgba(p, rgb, mask, pnginfo=meta)


def _plan(args: argparse.Namespace, images: list[Path], summary: _Summary) -> list[tuple[Path, list[Path]]]:
    """Pair inputs with outputs; skip finished ones (resume), refuse collisions."""
    todo: list[tuple[Path, list[Path]]] = []
    seen: dict[str, Path] = {}
    inputs = {p.resolve() for p in images}
    for img in images:
        outs = _outputs(args.out, img.stem, args.fmt)
        if img.stem in seen:
            summary.failed.append((str(img), f"same stem as {seen[img.stem]}; outputs would collide"))
            continue
        seen[img.stem] = img
        if any(o.resolve() in inputs for o in outs):
            summary.failed.append((str(img), "output would overwrite an input; choose another --out"))
            continue
        if not args.overwrite and all(o.is_file() for o in outs):
            summary.skipped += 1
            continue
        todo.append((img, outs))
    return todo


def _segment_batch(seg: Any, images: list[Any]) -> list[Any]:
    if hasattr(seg, "batch"):
        return seg.batch(images)
    return [seg(im) for im in images]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_bokeh.errors import BadImageError
    from gan_bokeh.io import append_jsonl, atomic_write_text, list_images, read_image
    from gan_bokeh.segment import get_segmenter

    _validate(args)
    images = list_images(args.inputs, recursive=args.recursive)
    if not images:
        raise UserError(f"no images found in {' '.join(args.inputs)}")
    _check_out(args, images)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = _Summary()
    todo = _plan(args, images, summary)
    seg = None
    if todo:
        seg = get_segmenter(args.backend, weights=args.weights, device=args.device, arch=args.deeplab_arch,
                            variant=args.u2net_variant)
        if seg.name.startswith("deeplab"):
            from gan_bokeh.runtime import torch_threads

            torch_threads()  # GAN_BOKEH_THREADS, if set
        log.info("segment: backend %s, %d to do, %d already done", seg.name, len(todo), summary.skipped)
        _write_settings(args, seg.name, atomic_write_text)
    journal = args.out / "segment.jsonl"
    bar = tqdm(total=len(todo), unit="img", disable=not sys.stderr.isatty())
    for start in range(0, len(todo), args.batch_size):
        chunk = todo[start:start + args.batch_size]
        loaded = []
        for img, outs in chunk:
            try:
                loaded.append((img, outs, read_image(img)))
            except BadImageError as err:
                summary.failed.append((str(img), err.reason))
                append_jsonl(journal, {"image": str(img), "status": "failed", "reason": err.reason})
                bar.update(1)
        masks = _segment_batch(seg, [rgb for _, _, rgb in loaded]) if loaded else []
        for (img, outs, rgb), mask in zip(loaded, masks, strict=True):
            _finish_one(args, img, outs, rgb, mask, seg.name, len(images), journal, summary)
            bar.update(1)
    bar.close()
    for path, reason in summary.failed:
        log.warning("failed: %s: %s", path, reason)
    print(f"segment: {summary.done} done, {summary.skipped} skipped (already done), "
          f"{len(summary.failed)} failed → {args.out}")
    return 1 if summary.failed and not summary.done and not summary.skipped else 0


def _finish_one(args: argparse.Namespace, img: Path, outs: list[Path], rgb: Any, mask: Any, backend: str,
                n_inputs: int, journal: Path, summary: _Summary) -> None:
    from gan_bokeh.io import append_jsonl

    t0 = time.perf_counter()
    try:
        mask, info = _postprocess(args, mask, _depth_for(args, img, n_inputs))
    except UserError as err:  # e.g. an unreadable depth file: skip this image, keep going
        summary.failed.append((str(img), str(err)))
        append_jsonl(journal, {"image": str(img), "status": "failed", "reason": str(err)})
        return
    meta = {"Software": "gan-bokeh segment", "gan-bokeh:segment-backend": backend,
            "gan-bokeh:source": img.name, **info}
    _write(rgb, mask, outs, meta)
    summary.done += 1
    append_jsonl(journal, {"image": str(img), "status": "done", "backend": backend,
                           "outputs": [o.name for o in outs], "coverage": round(float((mask > 0.5).mean()), 4),
                           "post_s": round(time.perf_counter() - t0, 3), **info})


def _write_settings(args: argparse.Namespace, backend: str, writer: Any) -> None:
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                if not k.startswith("_") and k != "inputs"}
    settings["backend_resolved"] = backend
    writer(args.out / "segment.json", json.dumps(settings, indent=2, default=str) + "\n")
