"""``gan-bokeh generate``: apply a trained generator to photos at their full resolution."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

HELP = "apply a trained generator (G: A→B by default) to photos, output at full resolution"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="RUN_OR_FILE",
                        help="run folder (uses ckpt/latest.pt) or a checkpoint file")
    parser.add_argument("--input", required=True, metavar="FILE|DIR", help="a photo or a folder of photos")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (never the input folder)")
    ov = parser.add_mutually_exclusive_group()
    ov.add_argument("--overlay", dest="overlay", action="store_true", default=None,
                    help="paste the full-resolution subject back through its mask (default: the run's "
                         "test.mask_overlay)")
    ov.add_argument("--no-overlay", dest="overlay", action="store_false", help="no test-time mask overlay")
    parser.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                        help="AtoB = G (ordinary → shallow DoF, default); BtoA = F")
    parser.add_argument("--mask", metavar="FILE|DIR",
                        help="mask file (single input) or folder of <stem>.png masks; else RGBA alpha, "
                             "<stem>.mask.png sidecars, or the segmenter")
    parser.add_argument("--work-size", type=int, default=None, metavar="N",
                        help="short side the generator sees (multiple of 4; default: the scale training saw, "
                             "data.load_size; a data.preprocess cyclegan run squashes to N x N)")
    parser.add_argument("--merge", default="detail", choices=("detail", "delta", "resize"),
                        help="how the working-resolution result reaches full size (default: detail)")
    parser.add_argument("--tile", type=int, default=0, metavar="N",
                        help="run the generator on overlapping N-px blocks of the working image (0 = off)")
    parser.add_argument("--jpeg-quality", "--quality", dest="jpeg_quality", type=int, default=95, metavar="Q",
                        help="JPEG/WebP quality (95)")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="images per network batch")
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: CUDA when present)")


def _check_paths(inputs: list[Path], input_arg: Path, out_dir: Path) -> None:
    from gan_bokeh.errors import UserError
    from gan_bokeh.io import refuse_overwriting_inputs

    if input_arg.is_dir() and input_arg.resolve() == out_dir.resolve():
        raise UserError(f"--out {out_dir}: is the input folder; choose another folder (inputs are never "
                        "overwritten)")
    refuse_overwriting_inputs(out_dir, inputs)


def _mask_for(path: Path, alpha, mask_arg: Path | None, get_segmenter, image):  # noqa: ANN001
    """The subject mask of one input, in the same order as ``render``: --mask file, ``<mask dir>/<stem>.png``
    or a ``<stem>.mask.png`` sidecar, the RGBA alpha (unless fully opaque: then it is no mask), else the
    segmenter."""
    from gan_bokeh.io import find_mask, read_mask

    found = mask_arg if (mask_arg is not None and mask_arg.is_file()) else find_mask(path, mask_arg)
    if found is not None:
        return read_mask(found)
    if alpha is not None and float(alpha.min()) < 1.0:
        return alpha
    return get_segmenter()(image)


def _generate_and_write(gen, batch: list[Path], images: list, alphas: list, masks: list | None,  # noqa: ANN001
                        out_dir: Path, quality: int) -> tuple[int, list[str]]:
    """Run one batch (per image again if the batch fails, e.g. out of memory); write outputs."""
    from gan_bokeh.errors import first_line
    from gan_bokeh.io import output_path, write_image

    try:
        outs = gen.generate(images, masks)
    except RuntimeError:
        outs = []
        for i, im in enumerate(images):
            try:
                outs.append(gen.generate([im], None if masks is None else [masks[i]])[0])
            except RuntimeError as err:
                outs.append(first_line(err))
    done, failed = 0, []
    for p, y, alpha in zip(batch, outs, alphas, strict=True):
        if isinstance(y, str):
            failed.append(f"{p.name}: {y}")
            continue
        write_image(output_path(out_dir, p), y, quality=quality, alpha=alpha)
        done += 1
    return done, failed


def _write_settings(out_dir: Path, args: argparse.Namespace, gen, state, use_overlay: bool) -> None:  # noqa: ANN001
    """Record what made these outputs (``generate.json``) next to them."""
    import json

    from gan_bokeh.io import atomic_write_text
    from gan_bokeh.train.checkpoint import resolve_checkpoint

    settings = {"checkpoint": str(resolve_checkpoint(args.checkpoint)), "direction": args.direction,
                "iteration": state.get("iteration"), "epoch": state.get("epoch"), "work_size": gen.work_size,
                "merge": gen.merge, "tile": gen.tile, "overlay": use_overlay, "mask": args.mask,
                "jpeg_quality": args.jpeg_quality, "device": str(gen.device)}
    atomic_write_text(out_dir / "generate.json", json.dumps(settings, indent=2) + "\n")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_bokeh.errors import BadImageError, UserError, WeightsUnavailableError
    from gan_bokeh.generate import FullResGenerator, overlay_default
    from gan_bokeh.io import list_images, read_image_alpha
    from gan_bokeh.runtime import torch_threads

    if not 1 <= args.jpeg_quality <= 100:
        raise UserError(f"--jpeg-quality {args.jpeg_quality}: use 1..100")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: use at least 1")
    input_arg, out_dir = Path(args.input), Path(args.out)
    inputs = list_images(input_arg)
    if not inputs:
        raise UserError(f"--input {input_arg}: no images found")
    mask_arg = Path(args.mask) if args.mask else None
    if mask_arg is not None and not mask_arg.exists():
        raise UserError(f"--mask {mask_arg}: no such file or folder")
    if mask_arg is not None and mask_arg.is_file() and len(inputs) > 1:
        raise UserError(f"--mask {mask_arg}: a single mask file needs a single --input image; pass a folder")
    _check_paths(inputs, input_arg, out_dir)
    torch_threads()
    gen, state = FullResGenerator.from_checkpoint(
        args.checkpoint, args.direction, device=args.device, work_size=args.work_size,
        merge=args.merge, tile=args.tile)
    use_overlay = overlay_default(state) if args.overlay is None else args.overlay
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_settings(out_dir, args, gen, state, use_overlay)

    segmenter = []

    def get_segmenter():  # noqa: ANN202 - created on first need only
        if not segmenter:
            from gan_bokeh.segment import get_segmenter as _get

            try:
                segmenter.append(_get("auto", device=args.device))
            except WeightsUnavailableError as err:
                raise UserError(f"--overlay needs masks: pass --mask DIR or sidecar masks ({err})") from None
        return segmenter[0]

    done, skipped, failed = 0, [], []
    bar = tqdm(total=len(inputs), unit="img", desc="generate", disable=not sys.stderr.isatty())
    for start in range(0, len(inputs), args.batch_size):
        batch, images, alphas, masks = [], [], [], []
        for p in inputs[start:start + args.batch_size]:
            try:
                rgb, alpha = read_image_alpha(p)
                m = _mask_for(p, alpha, mask_arg, get_segmenter, rgb) if use_overlay else None
            except BadImageError as err:  # the input, or its mask file
                skipped.append(f"{p.name}: {err.reason}" if Path(err.path) == p else f"{p.name}: {err}")
                log.warning("skip %s", err)
                bar.update(1)
                continue
            batch.append(p)
            images.append(rgb)
            alphas.append(alpha)
            masks.append(m)
        if batch:
            ok, bad = _generate_and_write(gen, batch, images, alphas, masks if use_overlay else None,
                                          out_dir, args.jpeg_quality)
            done += ok
            failed += bad
            bar.update(len(batch))
    bar.close()
    print(f"generate: {done} done, {len(skipped)} skipped, {len(failed)} failed → {out_dir} "
          f"(work size {gen.work_size}, merge {gen.merge}, overlay {'on' if use_overlay else 'off'}, "
          f"device {gen.device})")
    for s in skipped:
        print(f"  skipped {s}")
    for s in failed:
        print(f"  failed {s}")
    return 0 if done else 1
