#!/usr/bin/env python
"""Seconds per 12 MP image for full-resolution generation on CPU (``gan_bokeh.generate``).

Model: full-size CycleGAN ResNet-9 (ngf 64), random init (speed does not depend on the weights).
Times the in-memory pipeline (downscale → generator at the working size → merge to 12 MP → optional
overlay) per merge mode, plus JPEG decode/encode of a 12 MP file once for reference.

    .venv/bin/python scripts/bench_generate.py [--threads 2] [--reps 3] [--work-size 256] [--tile 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gan_bokeh.generate import FullResGenerator, working_shape
from gan_bokeh.io import read_image, write_image
from gan_bokeh.nets import build_generator

MIN: list[float] = []  # fastest wall time of the last timed() call: the uncontended cost
CPU: list[float] = []  # CPU seconds of the last timed() call (median); wall time suffers on a shared machine


def timed(fn, reps: int) -> tuple[float, object]:  # noqa: ANN001
    """Median wall seconds of ``reps`` calls (median CPU seconds go to ``CPU[-1]``)."""
    times, cpu, out = [], [], None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU.append(statistics.median(cpu))
    MIN.append(min(times))
    return statistics.median(times), out


class StandInBokeh(torch.nn.Module):
    """An *ideal* working-resolution "generator" for judging the merge modes: keeps the subject (mask,
    stored per call) sharp and Gaussian-blurs the background by ``sigma`` working pixels."""

    def __init__(self, sigma: float = 3.0) -> None:
        super().__init__()
        self.sigma = sigma
        self.mask: np.ndarray | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import cv2

        img = ((x[0].permute(1, 2, 0).numpy() + 1) / 2).astype(np.float32)
        m = cv2.resize(self.mask, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)[..., None]
        out = m * img + (1 - m) * cv2.GaussianBlur(img, (0, 0), self.sigma)
        return torch.from_numpy(out * 2 - 1).permute(2, 0, 1)[None]


def merge_quality(images: Path, masks: Path, work_size: int, sigma: float = 3.0) -> None:
    """Compare merge modes against a full-resolution reference on real photos.

    Reference: the same defocus done at full resolution (σ scaled by the downscale factor). Reports PSNR
    to the reference (whole image), subject PSNR vs the input and background HF ratio vs the reference's.
    """
    import cv2

    from gan_bokeh.evaluate import bg_hf_ratio, psnr, subject_psnr
    from gan_bokeh.io import list_images, read_mask

    net = StandInBokeh(sigma)
    rows: dict[str, list[tuple[float, float, float]]] = {}
    ref_hf: list[float] = []
    for p in list_images(images):
        img = read_image(p)
        mask = cv2.resize(read_mask(masks / f"{p.stem}.png"), (img.shape[1], img.shape[0]))
        scale = min(img.shape[:2]) / min(working_shape(*img.shape[:2], work_size))
        ref = mask[..., None] * img + (1 - mask[..., None]) * cv2.GaussianBlur(img, (0, 0), sigma * scale)
        net.mask = mask
        ref_hf.append(bg_hf_ratio(ref, img, mask))
        for mode in ("detail", "delta", "resize"):
            out = FullResGenerator(net, work_size=work_size, merge=mode)(img)
            rows.setdefault(mode, []).append((psnr(out, ref), subject_psnr(out, img, mask),
                                              bg_hf_ratio(out, img, mask)))
    n = len(next(iter(rows.values())))
    print(f"merge quality on {n} photos, stand-in generator (subject kept, background σ={sigma} working px), "
          f"work size {work_size}; mean over photos:")
    print(f"  mode     PSNR→full-res reference   subject PSNR vs input   bg_hf_ratio (reference "
          f"{np.mean(ref_hf):.4f})")
    for mode, vals in rows.items():
        a = np.array(vals)
        print(f"  {mode:7s}  {a[:, 0].mean():10.2f} dB             {a[:, 1].mean():8.2f} dB          "
              f"{a[:, 2].mean():8.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work-size", type=int, default=256)
    ap.add_argument("--tile", type=int, default=0)
    ap.add_argument("--modes", default="detail,delta,resize")
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--quality", metavar="DIR", help="instead: merge-mode quality on DIR/images + DIR/masks")
    args = ap.parse_args()
    if args.quality:
        merge_quality(Path(args.quality) / "images", Path(args.quality) / "masks", args.work_size)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = build_generator("resnet_9blocks", ngf=64).eval()
    rng = np.random.default_rng(0)
    # a smooth photo-like field plus noise (content does not change the timing much)
    small = rng.random((args.height // 50, args.width // 50, 3)).astype(np.float32)
    import cv2

    img = cv2.resize(small, (args.width, args.height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img + rng.normal(0, 0.03, img.shape).astype(np.float32), 0, 1)
    mask = np.zeros(img.shape[:2], np.float32)
    mask[args.height // 4:, args.width // 3: 2 * args.width // 3] = 1.0
    mp = args.height * args.width / 1e6
    ws = working_shape(args.height, args.width, args.work_size)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"image {args.width}x{args.height} ({mp:.1f} MP), working {ws[1]}x{ws[0]}, tile {args.tile}, "
          f"torch threads {args.threads}, reps {args.reps} (median)")
    gen = FullResGenerator(net, work_size=args.work_size, tile=args.tile)
    gen(img[:64, :64])  # warm-up
    t_net, _ = timed(lambda: gen.forward_small([gen.working_input(img)]), args.reps)
    print(f"  downscale + generator only: {t_net:.2f} s wall, min {MIN[-1]:.2f} ({CPU[-1]:.2f} CPU-s)")
    for mode in args.modes.split(","):
        gen.merge = mode
        t, _ = timed(lambda: gen(img), args.reps)
        c, lo = CPU[-1], MIN[-1]
        t_ov, _ = timed(lambda: gen(img, mask), args.reps)
        print(f"  merge={mode:7s} total {t:.2f} s/image, min {lo:.2f} ({c:.2f} CPU-s); with overlay "
              f"{t_ov:.2f} s/image, min {MIN[-1]:.2f} ({CPU[-1]:.2f} CPU-s)")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.jpg"
        t_w, _ = timed(lambda: write_image(p, img, quality=95), 1)
        t_r, _ = timed(lambda: read_image(p), 1)
    print(f"  I/O for reference: JPEG q95 encode {t_w:.2f} s, decode {t_r:.2f} s")


if __name__ == "__main__":
    main()
