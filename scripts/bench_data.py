#!/usr/bin/env python
"""Data-loader benchmark: images/s of one loader process (1 thread) before and after the draft-decode +
cache change, on real photos scaled to 12 MP and 2 MP JPEGs (and 2 MP RGBA PNGs, the paper's mask format).

Real photos from ``../shared/data/pynet_bokeh_ebb`` (read only; the scaled copies go to a temporary folder
that is deleted afterwards). Paths timed, each at ``load_size`` 286:

* ``before``: the old loader — full decode (``read_image_alpha``) + OpenCV INTER_AREA resize, per image;
* ``after_uncached``: the new loader with the cache off — JPEG draft-mode decode + resize (``UnpairedDataset``);
* ``after_cached``: the new loader on a warm on-disk cache (every epoch after the first);
* ``device_aug``: the kornia crop 256 + flip on the CPU, per image (batch 8), for scale.

Prints one line per figure, e.g.::

    set=12mp_jpeg path=after_uncached images_per_s=24.1 ms_per_image=41.5 n=8 threads=1

Usage: ``python scripts/bench_data.py [--n 4] [--repeat 2] [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOAD = 286
SETS = {"12mp_jpeg": (4000, 3000, ".jpg"), "2mp_jpeg": (1732, 1155, ".jpg"), "2mp_rgba_png": (1732, 1155, ".png")}


def _make_set(src: list[Path], out: Path, w: int, h: int, ext: str) -> None:
    import cv2
    import numpy as np

    from gan_bokeh.io import read_image, write_image, write_rgba

    for d in ("trainA", "trainB"):
        (out / d).mkdir(parents=True)
    for i, p in enumerate(src):
        img = np.clip(cv2.resize(read_image(p), (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
        for d in ("trainA", "trainB"):  # B = the same photos: one item = two image loads
            if ext == ".png":
                alpha = np.zeros((h, w), np.float32)
                cv2.ellipse(alpha, (w // 2, h // 2), (w // 5, h // 3), 0, 0, 360, 1.0, -1)
                write_rgba(out / d / f"{i:02d}.png", img, alpha)
            else:
                write_image(out / d / f"{i:02d}.jpg", img, quality=92)


def _per_call(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _report(name: str, path: str, secs_per_image: list[float], threads: int) -> None:
    med = statistics.median(secs_per_image)
    print(f"set={name} path={path} images_per_s={1 / med:.1f} ms_per_image={med * 1000:.1f} "
          f"n={len(secs_per_image)} threads={threads}", flush=True)


def _bench_set(name: str, root: Path, cache: Path, repeat: int, threads: int) -> None:
    import cv2

    from gan_bokeh.data import UnpairedDataset
    from gan_bokeh.io import read_image_alpha

    masks = name.endswith("png")
    files = sorted((root / "trainA").iterdir())

    def before(p: Path) -> None:  # the replaced loader: full decode, then resize image and mask
        rgb, alpha = read_image_alpha(p)
        cv2.resize(rgb, (LOAD, LOAD), interpolation=cv2.INTER_AREA)
        if masks and alpha is not None:
            cv2.resize(alpha, (LOAD, LOAD), interpolation=cv2.INTER_AREA)

    _report(name, "before", [t for p in files for t in _per_call(lambda p=p: before(p), repeat)], threads)
    plain = UnpairedDataset(root, load_size=LOAD, need_masks=masks)
    keys = [(i, i, 0, i) for i in range(len(files))]
    _report(name, "after_uncached", [t / 2 for k in keys for t in _per_call(lambda k=k: plain[k], repeat)], threads)
    cached = UnpairedDataset(root, load_size=LOAD, need_masks=masks, cache_dir=cache / name)
    for k in keys:  # first epoch fills the cache
        cached[k]
    _report(name, "after_cached", [t / 2 for k in keys for t in _per_call(lambda k=k: cached[k], repeat)], threads)


def _bench_device_aug(repeat: int, threads: int) -> None:
    import torch

    from gan_bokeh.data import PairedAugment

    aug = PairedAugment(256)
    x, m = torch.rand(8, 3, LOAD, LOAD), torch.rand(8, 1, LOAD, LOAD)
    aug(x, m)
    _report("batch8_286px", "device_aug_cpu", [t / 8 for t in _per_call(lambda: aug(x, m), 5 * repeat)], threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=4, help="photos per set")
    ap.add_argument("--repeat", type=int, default=2, help="timed loads per photo")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = ap.parse_args()
    import cv2
    import torch

    threads = 1
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    src = sorted((args.data / "pynet_bokeh_ebb").glob("*_wide.jpg"))[: args.n]
    if not src:
        print(f"no photos in {args.data}/pynet_bokeh_ebb (pass --data)", file=sys.stderr)
        return 2
    print(f"# bench_data: load_size {LOAD}, {len(src)} real photos scaled per set, 1 loader process, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        for name in args.sets:
            w, h, ext = SETS[name]
            _make_set(src, Path(tmp) / name, w, h, ext)
            _bench_set(name, Path(tmp) / name, Path(tmp) / "cache", args.repeat, threads)
    _bench_device_aug(args.repeat, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
