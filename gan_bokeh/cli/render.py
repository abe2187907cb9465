"""``gan-bokeh render``: shallow depth of field without training (comparison renderers).

For each input writes ``OUT/<stem>.<input extension>`` at the input's size (EXIF orientation applied),
appends a record to ``OUT/render.jsonl`` (settings, focus, depth source, timings) and writes the resolved
settings to ``OUT/render.json``. With ``--save-maps``: ``OUT/maps/<stem>.depth.png`` (0 = near, black)
and, for ``layers``, ``OUT/maps/<stem>.radius.png`` (blur radius, white = ``max_radius_px`` of the record).

Depth: ``--depth`` file/folder, else ``--depth-backend`` (``auto``: Depth Anything V2, MiDaS, then an
offline guess from the mask; see :func:`gan_bokeh.depth.estimate_depth`), recorded as ``depth_backend`` /
``depth_source``. Masks: the one rule of :mod:`gan_bokeh.io.masks` (``--mask`` file/folder, a ``<stem>.mask.png``
sidecar, the input's alpha channel unless fully opaque), else ``--segmenter`` (``--no-segment`` skips);
``--save-maps`` also writes the mask used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from gan_bokeh.cli.options import add_depth_arguments, add_depth_backend_arguments, depth_backend_of
from gan_bokeh.errors import UserError

HELP = "render shallow depth of field without training (smoothing baselines, depth layers)"

log = logging.getLogger("gan_bokeh.render")

METHOD_CHOICES = ("average", "gaussian", "buckets", "interpolate", "layers")  # == gan_bokeh.render.METHODS
# == gan_bokeh.segment.BACKENDS (not imported: keeps --help fast; tests/test_cli_registries.py checks they agree)
SEGMENTER_CHOICES = ("auto", "deeplab", "selfie", "u2net")
CURVE_CHOICES = ("thin-lens", "power")  # == gan_bokeh.render.layers.BLUR_CURVES
KERNEL_CHOICES = ("disk", "triangle", "square", "pentagon", "hexagon", "heptagon", "octagon")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="layers", help="renderer (default layers)")
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument("--mask", type=Path, default=None,
                        help="mask file (one input) or folder with <stem>.png; white = subject")
    parser.add_argument("--no-segment", action="store_true",
                        help="do not run the segmenter when no mask is found")
    parser.add_argument("--segmenter", choices=SEGMENTER_CHOICES, default="auto",
                        help="segmenter for inputs without a mask: person (deeplab, selfie; auto = deeplab when "
                             "cached, else selfie) or any salient subject (u2net)")
    add_depth_arguments(parser, "depth file (one input) or folder with <stem>.png/.jpg/.npy/.npz (also "
                                "<stem>_depth.*, <stem>_disparity.*)")
    add_depth_backend_arguments(parser)
    parser.add_argument("--focus", default="auto",
                        help="auto (median subject depth), a depth in [0,1], or X,Y pixel (default auto)")
    strength = parser.add_mutually_exclusive_group()
    strength.add_argument("--aperture", type=float, default=None, metavar="F",
                          help="f-number-like strength, smaller = more blur (default 1.8, calibrated on "
                               "real f/1.8 photos)")
    strength.add_argument("--max-blur", type=float, default=None, metavar="PX",
                          help="blur radius in pixels of the pixel farthest from the focal plane")
    parser.add_argument("--curve", choices=CURVE_CHOICES, default=None,
                        help="blur radius vs depth: thin-lens (linear in disparity) or power (|Δdepth|^gamma); "
                             "default: see docs/rendering.md")
    parser.add_argument("--gamma", type=float, default=0.5,
                        help="exponent of --curve power (default 0.5)")
    parser.add_argument("--kernel", choices=KERNEL_CHOICES, default="disk", help="aperture shape")
    parser.add_argument("--highlight", type=float, default=0.0, metavar="G",
                        help="boost small bright points by up to 1+G so they become bokeh discs (default 0)")
    parser.add_argument("--no-foreground-blur", action="store_true",
                        help="keep everything in front of the focal plane sharp")
    parser.add_argument("--matting", action=argparse.BooleanOptionalAction, default=False,
                        help="closed-form matting in a 10 px band at the subject edge (slower)")
    parser.add_argument("--layers", type=int, default=6, metavar="K", help="depth layers K (default 6)")
    parser.add_argument("--ksize", type=int, default=None,
                        help="kernel size of average (default 5) / gaussian (default ≈ long side / 32)")
    parser.add_argument("--save-maps", action="store_true", help="also write the depth and blur-radius maps")
    parser.add_argument("--quality", "--jpeg-quality", dest="quality", type=int, default=95,
                        help="JPEG/WebP quality (default 95)")
    parser.add_argument("--overwrite", action="store_true", help="re-render existing outputs")
    parser.add_argument("--device", default=None,
                        help="cpu | cuda | cuda:N for the segmenter and MiDaS (default: CUDA when present)")


def parse_focus(text: str) -> float | str | tuple[float, float]:
    """``auto`` | depth in [0, 1] | ``X,Y`` pixel."""
    t = str(text).strip().lower()
    if t == "auto":
        return "auto"
    try:
        if "," in t:
            x, y = (float(v) for v in t.split(","))
            return (x, y)
        f = float(t)
    except ValueError as err:
        raise UserError(f"--focus {text}: use auto, a depth in [0,1] or X,Y pixel coordinates") from err
    if not 0.0 <= f <= 1.0:
        raise UserError(f"--focus {text}: a focal depth must be in [0, 1] (0 = nearest)")
    return f


def render_options(args: argparse.Namespace) -> dict[str, Any]:
    """Method options from the command line (only the ones the method takes)."""
    if args.method == "layers":
        opts: dict[str, Any] = {"focus": parse_focus(args.focus), "kernel": args.kernel,
                                "highlight": args.highlight, "foreground_blur": not args.no_foreground_blur,
                                "matting": args.matting, "n_layers": args.layers, "gamma": args.gamma}
        if args.curve is not None:
            opts["curve"] = args.curve
        if args.gamma <= 0:
            raise UserError("--gamma must be > 0")
        if args.max_blur is not None:
            if args.max_blur < 0:
                raise UserError("--max-blur must be >= 0")
            opts["max_blur"] = args.max_blur
        if args.aperture is not None:
            if args.aperture <= 0:
                raise UserError("--aperture must be > 0")
            opts["aperture"] = args.aperture
        return opts
    if args.method in ("average", "gaussian") and args.ksize is not None:
        if args.ksize < 1 or args.ksize % 2 == 0:
            raise UserError(f"--ksize {args.ksize}: must be odd and positive")
        return {"ksize": args.ksize}
    return {}


class _Sources:
    """Finds masks and depth for each image; remembers unavailable models so it warns only once."""

    def __init__(self, args: argparse.Namespace, n_inputs: int) -> None:
        self.args = args
        self.segmenter: Any = None
        self.segmenter_failed = args.no_segment
        from gan_bokeh.depth import check_colormap

        check_colormap(args.depth_colormap)
        for flag, path in (("--mask", args.mask), ("--depth", args.depth)):
            if path is not None and not path.exists():
                raise UserError(f"{flag} {path}: not found")
            if path is not None and path.is_file() and n_inputs > 1:
                raise UserError(f"{flag} {path}: a single file needs a single input; give a folder")

    def mask(self, path: Path, image, alpha) -> tuple[Any, str]:
        import numpy as np

        from gan_bokeh.io import load_mask

        a = self.args
        found, label = load_mask(path, alpha, a.mask, shape=image.shape[:2])  # the one mask rule (gan_bokeh.io.masks)
        if found is not None:
            return found, label
        if self.segmenter_failed:
            return None, "none"
        if self.segmenter is None:
            try:
                from gan_bokeh.segment import get_segmenter

                self.segmenter = get_segmenter(a.segmenter, device=a.device)
            except (ImportError, UserError) as err:  # WeightsUnavailableError is a UserError
                log.warning("no mask and no segmenter (%s); rendering without a subject mask", err)
                self.segmenter_failed = True
                return None, "none"
        return np.clip(self.segmenter(image), 0, 1).astype(np.float32), f"segmenter:{self.segmenter.name}"

    def depth(self, path: Path, image, mask) -> tuple[Any, dict[str, Any]]:
        """``(depth, metadata)`` from ``--depth`` or ``--depth-backend`` (:func:`gan_bokeh.depth.estimate_depth`)."""
        from gan_bokeh.depth import estimate_depth

        a = self.args
        src = self._depth_file(path)
        if src is None and a.depth is not None:
            raise UserError(f"{path.name}: no depth file <stem>.* in {a.depth}")
        res = estimate_depth(image, backend=depth_backend_of(a, src), mask=mask, path=src, kind=a.depth_kind,
                             colormap=a.depth_colormap, weights=a.depth_weights, device=a.device)
        return res.depth, res.metadata()

    def _depth_file(self, path: Path) -> Path | None:
        from gan_bokeh.depth import find_depth_file

        return find_depth_file(path, self.args.depth)


def _fit(mask, shape):
    import cv2

    if mask.shape == tuple(shape):
        return mask
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _save_maps(out: Path, stem: str, depth, info: dict[str, Any], size: tuple[int, int], mask=None) -> None:
    import numpy as np

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


def render_one(path: Path, args: argparse.Namespace, sources: _Sources, options: dict[str, Any]
               ) -> dict[str, Any]:
    """Render one file; returns its record for ``render.jsonl``."""
    from gan_bokeh.io import output_path, read_image_alpha, write_image
    from gan_bokeh.render import NEEDS_DEPTH, render_image

    t0 = time.perf_counter()
    image, alpha = read_image_alpha(path)
    mask, mask_src = sources.mask(path, image, alpha)
    depth, depth_meta = None, {"depth_source": "not needed"}
    if args.method in NEEDS_DEPTH:
        depth, depth_meta = sources.depth(path, image, mask)
    if args.method in ("average", "gaussian") and mask is None:
        log.warning("%s: no mask — the whole image is smoothed", path.name)
    try:
        out, info = render_image(image, method=args.method, mask=mask, depth=depth, **options)
    except ValueError as err:
        raise UserError(f"{path}: {err}") from err
    dest = output_path(args.out, path)
    meta = {"method": args.method, "mask": mask_src, **depth_meta,
            "focus": info.get("focus"), "max_radius_px": info.get("max_radius_px")}
    write_image(dest, out, quality=args.quality, pnginfo={"gan-bokeh": json.dumps(meta)})
    if args.save_maps:
        _save_maps(args.out, path.stem, depth, info, image.shape[:2], mask)
    record = {"input": str(path), "output": str(dest), "status": "done", **meta,
              "layers": info.get("layers"), "seconds": round(time.perf_counter() - t0, 3),
              "render_seconds": {k: round(v, 3) for k, v in info.get("seconds", {}).items()}}
    return record


def _failure_reason(path: Path, err: UserError) -> str:
    """One line naming the file that is wrong: the input, or the mask/depth file that failed to load."""
    from gan_bokeh.errors import BadImageError

    if isinstance(err, BadImageError) and Path(err.path) == path:
        return err.reason
    return str(err)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_bokeh.io import append_jsonl, atomic_write_text, list_images, output_path, refuse_overwriting_inputs

    paths = list_images(args.inputs, recursive=args.recursive)
    if not paths:
        raise UserError(f"no images found in {' '.join(map(str, args.inputs))}")
    options = render_options(args)
    sources = _Sources(args, len(paths))
    refuse_overwriting_inputs(args.out, paths)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    settings["options"] = {k: v for k, v in options.items()}
    atomic_write_text(args.out / "render.json", json.dumps(settings, indent=2, default=str) + "\n")
    done = skipped = 0
    failed: list[tuple[Path, str]] = []
    bar = tqdm(paths, desc="render", unit="img", disable=not sys.stderr.isatty())
    for path in bar:
        if not args.overwrite and output_path(args.out, path).exists():
            skipped += 1
            continue
        try:
            record = render_one(path, args, sources, options)
            done += 1
        except UserError as err:  # BadImageError included: record it, carry on
            reason = _failure_reason(path, err)
            failed.append((path, reason))
            record = {"input": str(path), "status": "failed", "reason": reason}
            log.debug("failed: %s: %s", path, reason)  # listed once, at the end
        append_jsonl(args.out / "render.jsonl", record)
    for path, reason in failed:
        print(f"failed: {reason if str(path) in reason else f'{path}: {reason}'}", file=sys.stderr)
    print(f"render: {done} done, {skipped} skipped (already rendered), {len(failed)} failed → {args.out}")
    return 1 if failed else 0
