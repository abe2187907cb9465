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
    from gan_bokeh.cli.options import add_depth_arguments

    add_depth_arguments(parser, "depth file (single input) or folder of <stem>.png/.npy/... (also <stem>_depth.*, "
                                "<stem>_disparity.*) for a generator trained with depth input; else --depth-backend")
    from gan_bokeh.cli.options import add_depth_backend_arguments

    add_depth_backend_arguments(parser)
    parser.add_argument("--work-size", type=int, default=None, metavar="N",
                        help="short side the generator sees (multiple of 4; default: the scale training saw, "
                             "data.load_size; a data.preprocess cyclegan run squashes to N x N; paired runs: the "
                             "photo's full size)")
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
    """The subject mask of one input and its source: the one rule of :mod:`gan_bokeh.io.masks`, else the
    segmenter."""
    from gan_bokeh.io import load_mask

    found, label = load_mask(path, alpha, mask_arg, shape=image.shape[:2])
    if found is not None:
        return found, label
    seg = get_segmenter()
    return seg(image), f"segmenter:{getattr(seg, 'name', 'auto')}"


class _Inputs:
    """Masks and depth maps for one photo: for the overlay, for a generator trained with them
    (``model.inputs``), and for a rendering generator's gather; counts where each came from."""

    def __init__(self, args: argparse.Namespace, gen, use_overlay: bool, get_segmenter) -> None:  # noqa: ANN001
        from collections import Counter

        from gan_bokeh.depth import check_colormap

        self.args, self.gen, self.use_overlay, self.get_segmenter = args, gen, use_overlay, get_segmenter
        self.want_mask = use_overlay or gen.needs_mask or gen.renders
        self.optional_mask = not (use_overlay or gen.needs_mask)  # a renderer works without one
        self.sources: dict[str, Counter[str]] = {"mask": Counter(), "depth": Counter()}
        check_colormap(args.depth_colormap)
        if args.depth is not None and not Path(args.depth).exists():
            from gan_bokeh.errors import UserError

            raise UserError(f"--depth {args.depth}: no such file or folder")

    def mask(self, path: Path, alpha, image, mask_arg: Path | None):  # noqa: ANN001, ANN201
        from gan_bokeh.errors import BadImageError, UserError

        if not self.want_mask:
            return None
        try:
            m, src = _mask_for(path, alpha, mask_arg, self.get_segmenter, image)
        except BadImageError:
            raise  # a broken mask file: the caller skips this photo
        except UserError as err:  # no segmenter: fatal when the mask is needed, else render without it
            if not self.optional_mask:
                raise
            log.warning("no subject mask for %s (%s): rendering without the subject-guided gather", path.name, err)
            self.want_mask = False
            return None
        self.sources["mask"][src] += 1
        return m

    def depth(self, path: Path, image, mask):  # noqa: ANN001, ANN201
        """The depth input of a generator trained with depth: ``--depth``, else ``--depth-backend`` (the one
        registry :func:`gan_bokeh.depth.estimate_depth`, as ``render``)."""
        from gan_bokeh.cli.options import depth_backend_of
        from gan_bokeh.depth import estimate_depth, find_depth_file, resize_depth
        from gan_bokeh.errors import UserError

        if not self.gen.needs_depth:
            return None
        a = self.args
        found = find_depth_file(path, a.depth)
        if a.depth is not None and found is None:
            raise UserError(f"{path.name}: no depth file <stem>.* in {a.depth}")
        res = estimate_depth(image, backend=depth_backend_of(a, found), mask=mask, path=found, kind=a.depth_kind,
                             colormap=a.depth_colormap, weights=a.depth_weights, device=a.device)
        self.sources["depth"][res.backend] += 1
        return resize_depth(res.depth, image.shape[:2])

    def summary(self) -> str:
        parts = [f"{k} from " + ", ".join(f"{s} ×{n}" for s, n in c.items()) for k, c in self.sources.items() if c]
        return "; ".join(parts)



def _generate_and_write(gen, batch: list[Path], images: list, alphas: list, masks: list | None,  # noqa: ANN001
                        out_dir: Path, quality: int, subject_masks: list | None = None,
                        depths: list | None = None) -> tuple[int, list[str]]:
    """Run one batch (per image again if the batch fails, e.g. out of memory); write outputs."""
    from gan_bokeh.errors import first_line
    from gan_bokeh.io import output_path, write_image

    def extra(idx: list[int]) -> dict:
        """Only the inputs some image has (keeps the plain call for RGB-only generators)."""
        kw = {}
        for k, v in (("subject_masks", subject_masks), ("depths", depths)):
            if v is not None and any(v[i] is not None for i in idx):
                kw[k] = [v[i] for i in idx]
        return kw

    try:
        outs = gen.generate(images, masks, **extra(list(range(len(images)))))
    except RuntimeError:
        outs = []
        for i, im in enumerate(images):
            try:
                outs.append(gen.generate([im], None if masks is None else [masks[i]], **extra([i]))[0])
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
                "inputs": list(gen.inputs), "renders": gen.renders,
                "depth": None if args.depth is None else str(args.depth),
                "jpeg_quality": args.jpeg_quality, "device": str(gen.device)}
    atomic_write_text(out_dir / "generate.json", json.dumps(settings, indent=2) + "\n")


def _open_generator(args: argparse.Namespace):  # noqa: ANN202 - FullResGenerator | PairedGenerator
    """A GAN run → :class:`~gan_bokeh.generate.FullResGenerator`; a paired (PyNET) run →
    :class:`~gan_bokeh.generate_paired.PairedGenerator` (fully convolutional: no work size or merge)."""
    from gan_bokeh.generate import FullResGenerator
    from gan_bokeh.generate_paired import PairedGenerator, is_paired_state
    from gan_bokeh.train.checkpoint import load_checkpoint

    if is_paired_state(load_checkpoint(args.checkpoint)):
        return PairedGenerator.from_checkpoint(args.checkpoint, device=args.device, tile=args.tile,
                                               work_short=args.work_size or 0)
    return FullResGenerator.from_checkpoint(args.checkpoint, args.direction, device=args.device,
                                            work_size=args.work_size, merge=args.merge, tile=args.tile)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gan_bokeh.errors import BadImageError, UserError, WeightsUnavailableError
    from gan_bokeh.generate import overlay_default
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
    gen, state = _open_generator(args)
    use_overlay = overlay_default(state) if args.overlay is None else args.overlay
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_settings(out_dir, args, gen, state, use_overlay)

    segmenter: list = []

    def get_segmenter():  # noqa: ANN202 - created on first need only
        if not segmenter:
            from gan_bokeh.segment import get_segmenter as _get

            try:
                segmenter.append(_get("auto", device=args.device))
            except WeightsUnavailableError as err:
                raise UserError(f"--overlay (or a generator trained with mask input) needs masks: pass --mask DIR "
                                f"or sidecar masks ({err})") from None
        return segmenter[0]

    sources = _Inputs(args, gen, use_overlay, get_segmenter)

    done, skipped, failed = 0, [], []
    bar = tqdm(total=len(inputs), unit="img", desc="generate", disable=not sys.stderr.isatty())
    for start in range(0, len(inputs), args.batch_size):
        batch, images, alphas, masks, subjects, depths = [], [], [], [], [], []
        for p in inputs[start:start + args.batch_size]:
            try:
                rgb, alpha = read_image_alpha(p)
                m = sources.mask(p, alpha, rgb, mask_arg)
                d = sources.depth(p, rgb, m)
            except BadImageError as err:  # the input, or its mask file
                skipped.append(f"{p.name}: {err.reason}" if Path(err.path) == p else f"{p.name}: {err}")
                log.warning("skip %s", err)
                bar.update(1)
                continue
            batch.append(p)
            images.append(rgb)
            alphas.append(alpha)
            masks.append(m if use_overlay else None)
            subjects.append(m)
            depths.append(d)
        if batch:
            ok, bad = _generate_and_write(gen, batch, images, alphas, masks if use_overlay else None,
                                          out_dir, args.jpeg_quality, subjects, depths)
            done += ok
            failed += bad
            bar.update(len(batch))
    bar.close()
    how = "rendered at full size" if gen.renders else f"merge {gen.merge}"
    print(f"generate: {done} done, {len(skipped)} skipped, {len(failed)} failed → {out_dir} "
          f"(work size {gen.work_size}, {how}, overlay {'on' if use_overlay else 'off'}, "
          f"device {gen.device})")
    if sources.summary():
        print(f"  inputs: {sources.summary()}")
    for s in skipped:
        print(f"  skipped {s}")
    for s in failed:
        print(f"  failed {s}")
    return 0 if done else 1
