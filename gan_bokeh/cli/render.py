"""``gan-bokeh render``: shallow depth of field without training (comparison renderers).

Parses the flags into a :class:`gan_bokeh.batch.render.RenderJob` and prints the batch result; the work
(masks, depth, outputs, ``render.jsonl``) is :func:`gan_bokeh.batch.render.render_files`.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_bokeh.cli.options import add_depth_arguments, add_depth_backend_arguments, requested_depth_backend
from gan_bokeh.errors import UserError
from gan_bokeh.render.registry import KERNELS, RENDERERS

if TYPE_CHECKING:
    from gan_bokeh.batch.render import RenderJob

HELP = "render shallow depth of field without training (smoothing baselines, depth layers)"

METHOD_CHOICES = RENDERERS.names()
KERNEL_CHOICES = KERNELS.names()
# == gan_bokeh.segment.BACKENDS / gan_bokeh.render.layers.BLUR_CURVES / HIGHLIGHT_MODES (literal: keeps --help
# fast; tests/test_cli_registries.py and tests/test_render.py check they agree)
SEGMENTER_CHOICES = ("auto", "deeplab", "selfie", "u2net")
CURVE_CHOICES = ("thin-lens", "power")
HIGHLIGHT_MODE_CHOICES = ("points", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="layers",
                        help="renderer (default layers; table in docs/rendering.md)")
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
                             "default: thin-lens when the depth is linear in disparity (learned backends, "
                             "--depth-kind disparity), else power")
    parser.add_argument("--gamma", type=float, default=0.5,
                        help="exponent of --curve power (default 0.5)")
    parser.add_argument("--kernel", choices=KERNEL_CHOICES, default="disk", help="aperture shape (default disk)")
    parser.add_argument("--highlight", type=float, default=0.0, metavar="G",
                        help="boost small bright points by up to 1+G so they become bokeh discs (default 0)")
    parser.add_argument("--highlight-mode", choices=HIGHLIGHT_MODE_CHOICES, default="points",
                        help="restore small bright points only (default) or every near-saturated pixel")
    parser.add_argument("--kernel-softness", type=float, default=None, metavar="S",
                        help="Gaussian roll-off of the aperture edge, σ = S × radius (default: see "
                             "docs/rendering.md; 0 = hard-edged discs)")
    parser.add_argument("--no-foreground-blur", action="store_true",
                        help="keep everything in front of the focal plane sharp")
    parser.add_argument("--matting", action=argparse.BooleanOptionalAction, default=False,
                        help="closed-form matting in a 10 px band at the subject edge (slower)")
    parser.add_argument("--layers", type=int, default=6, metavar="K", help="depth layers K (default 6)")
    parser.add_argument("--ksize", type=int, default=None,
                        help="kernel size of average (default 5) / gaussian (default ≈ long side / 32)")
    parser.add_argument("--save-maps", action="store_true",
                        help="also write the mask, depth and blur-radius maps used (OUT/maps/)")
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
        if args.highlight_mode != "points":
            opts["highlight_mode"] = args.highlight_mode
        if args.kernel_softness is not None:
            if args.kernel_softness < 0:
                raise UserError("--kernel-softness must be >= 0")
            opts["kernel_softness"] = args.kernel_softness
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


def render_job(args: argparse.Namespace) -> RenderJob:
    """The library's settings from the parsed flags."""
    from gan_bokeh.batch.render import RenderJob

    return RenderJob(out=args.out, method=args.method, options=render_options(args), mask=args.mask,
                     segment=not args.no_segment, depth=args.depth, depth_kind=args.depth_kind,
                     depth_colormap=args.depth_colormap, depth_backend=requested_depth_backend(args),
                     depth_weights=args.depth_weights, segmenter=args.segmenter, save_maps=args.save_maps,
                     quality=args.quality, overwrite=args.overwrite, device=args.device)


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.batch.render import render_files

    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if not k.startswith("_")}
    return render_files(args.inputs, render_job(args), recursive=args.recursive, settings=settings).report()
