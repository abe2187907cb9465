#!/usr/bin/env python
"""Benchmark ``gan_bokeh.render`` on a synthetic 12-megapixel portrait scene.

Prints the median wall-clock and CPU seconds per method after one warm-up call (``layers`` with a strong
blur, max radius ≥ 60 px, with and without matting) and the thread count. Run on an otherwise idle machine::

    OMP_NUM_THREADS=2 .venv/bin/python scripts/bench_render.py [--size 4000x3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def synthetic_scene(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textured background on a depth ramp, a sharp 'person' ellipse in front, a few highlights."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((h // 16, w // 16, 3)).astype(np.float32)
    image = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    image += 0.15 * rng.standard_normal((h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(40):
        cy, cx = rng.integers(0, h // 2), rng.integers(0, w)
        image[max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3] = 1.0
    mask = ((((xx - w / 2) / (w * 0.18)) ** 2 + ((yy - h * 0.6) / (h * 0.4)) ** 2) < 1).astype(np.float32)
    image[mask > 0] = image[mask > 0] * 0.5 + np.array([0.6, 0.4, 0.3], np.float32) * 0.5
    depth = np.clip(1.0 - yy / h * 0.7, 0, 1).astype(np.float32)
    depth = depth * (1 - mask) + 0.3 * mask
    depth = cv2.resize(depth, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return np.clip(image, 0, 1), mask, depth


def main() -> None:
    from gan_bokeh.render import METHODS, render_image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="4000x3000", help="WxH (default 12 MP)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-blur", type=float, default=80.0)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--no-matting", action="store_true", help="skip the layers+matting run")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    image, mask, depth = synthetic_scene(h, w)
    print(f"image {w}x{h} ({w * h / 1e6:.1f} MP), max blur {args.max_blur:g} px, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"cv2 threads={__import__('cv2').getNumThreads()}")
    runs = [(m, {}) for m in args.methods]
    if "layers" in args.methods and not args.no_matting:
        runs.append(("layers", {"matting": True}))
    for method, extra in runs:
        opts = dict(extra)
        if method == "layers":
            opts["max_blur"] = args.max_blur
        times, cpu = [], []
        render_image(image, method=method, mask=mask, depth=depth, **opts)  # warm-up (allocator, JIT)
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            _, info = render_image(image, method=method, mask=mask, depth=depth, **opts)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        label = method + (" +matting" if extra.get("matting") else "")
        detail = ""
        if method == "layers":
            detail = f"  max radius {info['max_radius_px']:.0f} px, {len(info['layers'])} layers"
        print(f"{label:>18s}: median {statistics.median(times):6.2f} s wall (min {min(times):.2f}), "
              f"{statistics.median(cpu):6.2f} CPU-s{detail}")


if __name__ == "__main__":
    main()
