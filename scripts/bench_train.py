#!/usr/bin/env python
"""Training-step benchmark: seconds/iteration, CPU-seconds/iteration and peak RSS per variant and size.

Full-size nets (ResNet-9, ngf = ndf = 64), batch 1, synthetic images + masks (no data loading), a
random-init VGG (timing does not depend on its weights). Each figure runs in a fresh process so its peak
RSS is its own. Prints one line per figure, e.g.::

    variant=cyclegan size=128 device=cpu threads=1 wall_s/it=7.9 cpu_s/it=7.8 peak_rss_gb=1.62 iters=3

Usage: ``python scripts/bench_train.py [--sizes 128 256] [--variants cyclegan mask_loss_overlay]
[--iters 3] [--warmup 1] [--threads 1] [--device cpu|cuda]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("cyclegan", "mask_loss", "mask_overlay", "mask_loss_overlay", "cut", "fastcut", "defocus", "portrait_bokeh")


def _child(variant: str, size: int, iters: int, warmup: int, threads: int, device: str) -> dict[str, object]:
    import resource

    import torch

    from gan_bokeh.config import load_config
    from gan_bokeh.nets.vgg import vgg19_relu3_2
    from gan_bokeh.objectives import build_objective
    from gan_bokeh.train.config import TrainConfig

    torch.set_num_threads(threads)
    cfg = load_config(TrainConfig, variant, overrides=[f"data.crop_size={size}", f"data.load_size={size}"])
    dev = torch.device(device)
    model = build_objective(cfg, dev, vgg=vgg19_relu3_2() if cfg.needs_vgg else None)
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(1, 1, size, size)
    mask[:, :, size // 4: size, size // 4: 3 * size // 4] = 1.0  # a "person" in the lower middle
    batch = {"A": torch.rand(1, 3, size, size, generator=g) * 2 - 1,
             "B": torch.rand(1, 3, size, size, generator=g) * 2 - 1, "mask_A": mask, "mask_B": mask.clone()}
    walls, cpus = [], []
    for i in range(warmup + iters):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        model.step(batch)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    out: dict[str, object] = {"variant": variant, "size": size, "device": device, "threads": threads,
                              "wall_s/it": round(statistics.median(walls), 3),
                              "cpu_s/it": round(statistics.median(cpus), 3), "peak_rss_gb": round(rss_gb, 2),
                              "iters": iters}
    if dev.type == "cuda":
        out["peak_cuda_gb"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--iters", type=int, default=3, help="timed iterations (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--child", nargs=2, metavar=("VARIANT", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = _child(args.child[0], int(args.child[1]), args.iters, args.warmup, args.threads, args.device)
        print(json.dumps(res))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    print(f"# bench_train: batch 1, ResNet-9 ngf=64, PatchGAN ndf=64, {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for size in args.sizes:
        for variant in args.variants:
            cmd = [sys.executable, __file__, "--child", variant, str(size), "--iters", str(args.iters),
                   "--warmup", str(args.warmup), "--threads", str(args.threads), "--device", args.device]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"variant={variant} size={size} FAILED: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(" ".join(f"{k}={v}" for k, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
