"""``gan-bokeh evaluate``: measure subject preservation, background defocus, halos, FID/KID."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "measure outputs: subject PSNR/SSIM, background blur, edge halo, paired PSNR/SSIM, FID/KID"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, metavar="DIR", help="outputs to judge")
    parser.add_argument("--input", required=True, metavar="DIR", help="the inputs they were made from (same stems)")
    parser.add_argument("--mask", metavar="DIR", help="subject masks <stem>.png (else RGBA alpha or sidecars)")
    parser.add_argument("--segmenter", choices=("auto", "deeplab", "selfie", "u2net", "none"), default="auto",
                        help="segments inputs that have no mask (default auto; none = leave them without "
                             "subject/background/halo metrics)")
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N for the segmenter")
    parser.add_argument("--target", metavar="DIR", help="paired real shallow-DoF photos (e.g. EBB!), same stems")
    parser.add_argument("--real-b", metavar="DIR", help="real domain-B photos for FID/KID")
    parser.add_argument("--inception-weights", metavar="PATH",
                        help="Inception weights for FID/KID (TorchScript .pt, or torch-fidelity .pth)")
    parser.add_argument("--out", metavar="DIR", help="where metrics.json/metrics.csv go (default: --pred)")


def run(args: argparse.Namespace) -> int:
    from gan_bokeh.errors import UserError
    from gan_bokeh.evaluate import evaluate_folders, format_table, write_metrics

    for flag in ("pred", "input", "mask", "target", "real_b"):
        v = getattr(args, flag)
        if v is not None and not Path(v).is_dir():
            raise UserError(f"--{flag.replace('_', '-')} {v}: no such folder")
    if Path(args.pred).resolve() == Path(args.input).resolve():
        raise UserError(f"--pred {args.pred}: is the --input folder; point --pred at the outputs to judge")
    result = evaluate_folders(args.pred, args.input, mask_dir=args.mask, target_dir=args.target,
                              real_b_dir=args.real_b, inception_weights=args.inception_weights,
                              progress=sys.stderr.isatty(),
                              segmenter=None if args.segmenter == "none" else args.segmenter, device=args.device)
    bad = [n.removeprefix("skipped ") for n in result["notes"] if n.startswith("skipped ")]
    if not result["per_image"] and bad:
        raise UserError(f"nothing evaluated: {len(bad)} unreadable file(s), e.g. {bad[0]}")
    if not result["per_image"]:
        raise UserError(f"--pred {args.pred}: no output matched an input by file stem in {args.input}")
    jpath, cpath = write_metrics(result, args.out or args.pred)
    print(format_table(result))
    for n in result["notes"]:
        print(f"note: {n}")
    # unmatched outputs and unreadable files are listed in the notes (see evaluate_folders)
    skipped = sum(n.endswith("; skipped") for n in result["notes"])
    failed = sum(n.startswith("skipped ") for n in result["notes"])
    print(f"evaluate: {len(result['per_image'])} done, {skipped} skipped, {failed} failed → {jpath}, {cpath}")
    return 0
