"""``gan-bokeh generate``: apply a trained generator to photos at their full resolution.

Parses the flags into a :class:`gan_bokeh.batch.generate.GenerateJob` and prints the batch result of
:func:`gan_bokeh.batch.generate.generate_files`.
"""

from __future__ import annotations

import argparse

from gan_bokeh.cli.options import add_depth_arguments, add_depth_backend_arguments, requested_depth_backend
from gan_bokeh.registry import MERGE_MODES

HELP = "apply a trained generator (G: A→B by default) to photos, output at full resolution"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="RUN_OR_FILE",
                        help="run folder (uses ckpt/latest.pt) or a checkpoint file")
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="photos or folders of photos")
    parser.add_argument("--input", action="append", metavar="FILE|DIR",
                        help="a photo or a folder of photos (same as INPUT; repeatable)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (never the input folder)")
    ov = parser.add_mutually_exclusive_group()
    ov.add_argument("--overlay", dest="overlay", action="store_true", default=None,
                    help="paste the full-resolution subject back through its mask (default: the run's "
                         "test.mask_overlay)")
    ov.add_argument("--no-overlay", dest="overlay", action="store_false", help="no test-time mask overlay")
    parser.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                        help="AtoB = G (ordinary → shallow DoF, default); BtoA = F")
    parser.add_argument("--mask", metavar="FILE|DIR",
                        help="mask file (single input) or folder of <stem>.* masks; else <stem>.mask.png "
                             "sidecars, RGBA alpha unless fully opaque, or the segmenter")
    parser.add_argument("--work-size", type=int, default=None, metavar="N",
                        help="short side the generator sees (multiple of 4; default: the scale training saw, "
                             "data.load_size; a data.preprocess cyclegan run squashes to N x N; paired runs: the "
                             "photo's full size)")
    parser.add_argument("--merge", default="detail", choices=MERGE_MODES.names(),
                        help="how the working-resolution result reaches full size: " + MERGE_MODES.help_list())
    parser.add_argument("--tile", type=int, default=0, metavar="N",
                        help="run the generator on overlapping N-px blocks of the working image (0 = off)")
    parser.add_argument("--jpeg-quality", "--quality", dest="jpeg_quality", type=int, default=95, metavar="Q",
                        help="JPEG/WebP quality (95)")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="images per network batch")
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: CUDA when present)")
    add_depth_arguments(parser, "for a model that takes depth (model.inputs with depth, or a paired run): depth "
                                "file (one input) or folder of <stem>.* maps (also <stem>_depth.*, "
                                "<stem>_disparity.*); else --depth-backend")
    add_depth_backend_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.batch.generate import GenerateJob, generate_files
    from gan_bokeh.errors import UserError

    inputs = [*args.inputs, *(args.input or [])]
    if not inputs:
        raise UserError("no input: give photos or folders (generate INPUT… or --input FILE|DIR)")
    job = GenerateJob(checkpoint=args.checkpoint, out=args.out, overlay=args.overlay, direction=args.direction,
                      mask=args.mask, work_size=args.work_size, merge=args.merge, tile=args.tile,
                      quality=args.jpeg_quality, batch_size=args.batch_size, device=args.device,
                      depth=args.depth, depth_kind=args.depth_kind, depth_colormap=args.depth_colormap,
                      depth_backend=requested_depth_backend(args), depth_weights=args.depth_weights)
    return generate_files(inputs, job).report()
