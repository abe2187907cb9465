"""``gan-bokeh compare``: a static HTML report comparing renderers and GAN runs side by side."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gan_bokeh.cli.options import add_depth_arguments

HELP = "static HTML report: input, mask, depth, renderers, GAN runs (± overlay), metrics, loss curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, nargs="+", metavar="FILE|DIR", help="photos to compare on")
    parser.add_argument("--out", required=True, metavar="REPORT_DIR", help="report folder (index.html + images)")
    parser.add_argument("--runs", nargs="*", default=[], metavar="RUN",
                        help="run folders or checkpoint files (each gives a column without and with overlay)")
    parser.add_argument("--methods", default="average,gaussian,buckets,interpolate,layers",
                        help="comma-separated renderer methods ('' = none; default: all)")
    parser.add_argument("--mask", metavar="DIR", help="masks <stem>.png (else alpha, sidecars or the segmenter)")
    add_depth_arguments(parser, "depth maps: folder with <stem>.* (else a fallback from the mask)", metavar="DIR")
    parser.add_argument("--target", metavar="DIR",
                        help="paired real shallow-DoF photos <stem>.* (e.g. EBB!): shown and scored (PSNR/SSIM)")
    parser.add_argument("--max-images", type=int, default=8, metavar="N", help="first N inputs (0 = all; 8)")
    parser.add_argument("--max-size", type=int, default=1024, metavar="PX",
                        help="downscale inputs to this long side first (0 = original size; 1024)")
    parser.add_argument("--work-size", type=int, default=None, metavar="N", help="GAN working resolution")
    parser.add_argument("--no-segment", action="store_true", help="never run the segmenter for missing masks")
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N")
    parser.add_argument("--render-option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                        help="renderer option, repeatable, e.g. layers.max_blur=12 or gaussian.ksize=31")
    parser.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a note shown at the top of the report (repeatable)")


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.report import CompareOptions, build_report
    from gan_bokeh.runtime import torch_threads

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    torch_threads()
    index, stats, notes = build_report(CompareOptions(
        inputs=args.input, out_dir=args.out, runs=args.runs, methods=methods, mask_dir=args.mask,
        depth_dir=args.depth, depth_kind=args.depth_kind,
        depth_colormap=args.depth_colormap, target_dir=args.target, max_images=args.max_images, max_size=args.max_size,
        work_size=args.work_size, device=args.device, segment=not args.no_segment,
        progress=sys.stderr.isatty(), render_options=parse_render_options(args.render_option, methods),
        notes=args.note))
    for n in notes:
        print(f"note: {n}")
    print(f"compare: {stats['made']} cells made, {stats['reused']} reused, {stats['failed']} failed, "
          f"{stats['skipped_inputs']} inputs skipped → {index}")
    return 0


def parse_render_options(items: list[str], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``["layers.max_blur=12"]`` → ``{"layers": {"max_blur": 12}}`` (values parsed as YAML scalars)."""
    import yaml

    from gan_bokeh.errors import UserError

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        method, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise UserError(f"--render-option {item!r}: expected METHOD.KEY=VALUE, e.g. layers.max_blur=12")
        if method not in methods:
            raise UserError(f"--render-option {item!r}: {method} is not among --methods ({', '.join(methods)})")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        out.setdefault(method, {})[name] = value
    return out
