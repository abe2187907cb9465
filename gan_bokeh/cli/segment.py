"""``gan-bokeh segment``: person masks for photos, in the paper's RGBA format and/or as mask PNGs.

Outputs per input ``<stem>.<ext>`` in ``--out``: ``<stem>.png`` (RGB + alpha = mask, ``--format rgba``),
``<stem>.mask.png`` (8-bit mask, ``--format mask``), or both. Every PNG carries text chunks naming the
backend and post-processing. Finished images are skipped unless ``--overwrite``; unreadable inputs are
listed and skipped; ``OUT/segment.jsonl`` records each image's outcome and ``OUT/segment.json`` the
resolved settings. The work is :func:`gan_bokeh.batch.segment.segment_files`; this module parses and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_bokeh.cli.options import add_depth_arguments

HELP = "subject masks (person: DeepLabV3 or offline selfie model; any subject: U²-Net) as RGBA and/or mask PNGs"

FORMATS = ("rgba", "mask", "both")  # == gan_bokeh.batch.segment.FORMATS (literal: keeps --help light)
MAIN_SUBJECT = ("none", "largest", "central", "closest")  # == gan_bokeh.batch.segment.MAIN_SUBJECT


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
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (DeepLab, U²-Net; default auto)")


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.batch.segment import SegmentJob, segment_files

    job = SegmentJob(out=args.out, backend=args.backend, weights=args.weights,
                     segmenter_options={"arch": args.deeplab_arch, "variant": args.u2net_variant}, fmt=args.fmt,
                     main_subject=args.main_subject,
                     depth=args.depth, depth_kind=args.depth_kind, depth_colormap=args.depth_colormap,
                     refine=not args.no_refine, open_close=args.open_close, min_area=args.min_area,
                     max_hole=args.max_hole, feather=args.feather, batch_size=args.batch_size,
                     overwrite=args.overwrite, device=args.device)
    return segment_files(args.inputs, job, recursive=args.recursive).report()
