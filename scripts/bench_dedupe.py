"""Benchmark of the dedupe room on this machine; prints one line per figure.

* perceptual hashing throughput (images/s, one process) on generated ≈6 MP JPEGs, with and without
  JPEG draft mode, and with 2 worker processes;
* all-pairs Hamming search (radius 6) time for 10k / 100k / 1M random 64-bit hashes with planted near
  pairs, plus an exact check against brute force at 10k.

Usage: ``OMP_NUM_THREADS=1 python scripts/bench_dedupe.py [--images 12] [--sizes 10000 100000 1000000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from scrapers.hamming import brute_force_pairs, choose_blocks, pairs_within
from scrapers.hashing import hash_file, hash_files


def make_jpegs(d: Path, n: int, w: int = 3000, h: int = 2000) -> list[Path]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        small = Image.fromarray(rng.integers(0, 256, (12, 18, 3), dtype=np.uint8))
        img = small.resize((w, h), Image.Resampling.BICUBIC)
        # some texture so the JPEG has a realistic size (~1-2 MB)
        noise = rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
        arr = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
        p = d / f"img{i:03d}.jpg"
        Image.fromarray(arr).save(p, quality=90)
        out.append(p)
    return out


def bench_hashing(paths: list[Path]) -> None:
    for draft in (False, True):
        t, c = time.perf_counter(), time.process_time()
        for p in paths:
            hash_file(p, draft=draft)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"hash 6MP JPEG, 1 process, draft={'on ' if draft else 'off'}: {len(paths) / dt:6.1f} images/s "
              f"wall, {len(paths) / cpu:6.1f} images per CPU-second ({cpu / len(paths) * 1000:.0f} CPU-ms/image)",
              flush=True)
    t = time.perf_counter()
    hash_files(paths, workers=2, progress=False)
    dt = time.perf_counter() - t
    print(f"hash 6MP JPEG, 2 processes, draft=on : {len(paths) / dt:6.1f} images/s", flush=True)


def planted(n: int, seed: int = 0, radius: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    k = max(1, n // 1000)  # 0.1 % near copies at distance 0..radius
    src, dst = rng.integers(0, n, k), rng.integers(0, n, k)
    flips = rng.integers(0, 64, (k, radius))
    counts = rng.integers(0, radius + 1, k)
    for s, d, f, c in zip(src, dst, flips, counts, strict=True):
        v = int(h[s])
        for b in f[:c]:
            v ^= 1 << int(b)
        h[d] = v
    return h


def bench_search(sizes: list[int], radius: int, repeats: int) -> None:
    for n in sizes:
        h = planted(n, seed=n)
        times, cpus = [], []
        for _ in range(repeats if n < 1_000_000 else 1):
            t, c = time.perf_counter(), time.process_time()
            i, _j, _d = pairs_within(h, radius)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        m, k = choose_blocks(n, radius)
        print(f"all-pairs search radius {radius}, N={n:>9,}: {statistics.median(times):7.3f} s wall, "
              f"{statistics.median(cpus):7.3f} CPU-s (median of {len(times)}; m={m} blocks, keys of k={k}; "
              f"{i.size} pairs)", flush=True)
        if n == 10_000:
            t = time.perf_counter()
            ref = brute_force_pairs(h, radius)
            bt = time.perf_counter() - t
            got = pairs_within(h, radius)
            same = all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
            print(f"brute force N=10,000: {bt:.3f} s; MIH pair set identical: {same}", flush=True)
            if not same:
                raise SystemExit("MIH result differs from brute force")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=12, help="number of 6 MP JPEGs to hash")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--radius", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.images:
        with tempfile.TemporaryDirectory() as d:
            bench_hashing(make_jpegs(Path(d), args.images))
    bench_search(args.sizes, args.radius, args.repeats)


if __name__ == "__main__":
    main()
