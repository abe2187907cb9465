#!/usr/bin/env python
"""Segmentation speed on CPU: images/s at 512 px and at 12 MP for each backend.

DeepLab runs with **random-init weights** (same architecture and cost as the pretrained checkpoints, which
cannot be downloaded on the benchmark machine); the selfie backend uses the real model (fetched on first
use). Inputs are synthetic noise images: speed does not depend on content. Reports the median of
``--reps`` timed calls after one warm-up, with the thread count used.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_segment.py --threads 1 --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SIZES = {"512px": (384, 512), "12MP": (3000, 4000)}


def _time(fn, image: np.ndarray, reps: int) -> float:
    fn(image)  # warm-up (allocations, XNNPACK / oneDNN kernel selection)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _segmenters(archs: list[str]):
    import torch

    from gan_bokeh.segment import get_segmenter
    from gan_bokeh.segment.deeplab import DeepLabSegmenter, build_deeplab

    yield "selfie (multi-view, default)", get_segmenter("selfie")
    yield "selfie (global pass only)", get_segmenter("selfie", tile_shorts=(), portrait_aspect=0.0)
    for arch in archs:
        torch.manual_seed(0)
        yield f"deeplab-{arch} (random init)", DeepLabSegmenter(arch, build_deeplab(arch).state_dict())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--archs", default="mobilenet_v3,resnet50,resnet101")
    args = parser.parse_args()

    import os

    import torch

    torch.set_num_threads(args.threads)
    os.environ["GAN_BOKEH_THREADS"] = str(args.threads)
    rng = np.random.default_rng(0)
    images = {k: rng.random((h, w, 3), dtype=np.float32) for k, (h, w) in SIZES.items()}
    print(f"threads={args.threads} reps={args.reps} (median seconds per image; images/s)")
    print(f"| backend | {' | '.join(SIZES)} |\n|---|{'---|' * len(SIZES)}")
    for name, seg in _segmenters([a for a in args.archs.split(",") if a]):
        cells = []
        for key, img in images.items():
            reps = args.reps if key == "512px" or "resnet" not in name else 1
            s = _time(seg, img, reps)
            cells.append(f"{s:.3f} s ({1 / s:.2f}/s)")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
