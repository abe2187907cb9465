#!/usr/bin/env python
"""Training-step benchmark: time/iteration and peak memory per variant, size, batch and precision mode.

Full-size nets (each variant's config: ResNet-9 ngf = 64 …), synthetic images + masks + depth (no data
loading), a random-init VGG (timing does not depend on its weights). Each (variant, size, batch) runs in a
fresh process; on CUDA every mode inside it starts from a freshly built model with the peak-memory counter
reset. Prints one line per figure.

CPU (unchanged): fp32 only, seconds and CPU-seconds per iteration and peak RSS::

    variant=cyclegan size=128 device=cpu threads=1 wall_s/it=7.9 cpu_s/it=7.8 peak_rss_gb=1.62 iters=3

CUDA (``--device cuda``): iterations/s and peak GPU memory per mode, each as a ratio to the same model in
fp32 eager mode (``x_fp32``)::

    variant=cyclegan size=256 batch=1 device=cuda mode=fp16 it/s=21.4 x_fp32=1.85 peak_gb=1.9 iters=20

Modes: ``fp32`` (eager, contiguous), ``fp16`` (autocast float16 + GradScaler, the trainer's ``train.amp``),
``bf16`` (autocast bfloat16, no scaler: ``train.amp_dtype=bfloat16``), ``channels_last`` (fp32),
``fp16+cl`` (the trainer's CUDA default), ``compile`` (fp32, every net through ``torch.compile``) and
``fp16+cl+compile``; the compile modes only with ``--compile`` (their first steps compile, excluded as warm-up).

Usage: ``python scripts/bench_train.py [--sizes 128 256] [--variants cyclegan cut] [--iters 3] [--warmup 1]
[--threads 1] [--device cpu|cuda] [--batches 1 8] [--modes fp32 fp16 bf16] [--compile]``
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

VARIANTS = ("cyclegan", "mask_loss", "mask_overlay", "mask_loss_overlay", "cut", "fastcut", "defocus",
            "portrait_bokeh")
#: mode → (train.amp, train.amp_dtype, train.channels_last, torch.compile)
MODES: dict[str, tuple[bool, str, bool, bool]] = {
    "fp32": (False, "float16", False, False),
    "fp16": (True, "float16", False, False),
    "bf16": (True, "bfloat16", False, False),
    "channels_last": (False, "float16", True, False),
    "fp16+cl": (True, "float16", True, False),
    "compile": (False, "float16", False, True),
    "fp16+cl+compile": (True, "float16", True, True),
}


def _batch(size: int, batch: int):
    import torch

    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(batch, 1, size, size)
    mask[:, :, size // 4: size, size // 4: 3 * size // 4] = 1.0  # a "person" in the lower middle
    depth = torch.linspace(0, 1, size).view(1, 1, size, 1).expand(batch, 1, size, size).clone()
    return {"A": torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
            "B": torch.rand(batch, 3, size, size, generator=g) * 2 - 1, "mask_A": mask, "mask_B": mask.clone(),
            "depth_A": depth, "depth_B": depth.clone()}


def _build(variant: str, size: int, batch: int, device: str, mode: str = "fp32"):
    import torch

    from gan_bokeh.config import load_config
    from gan_bokeh.nets.vgg import vgg19_relu3_2
    from gan_bokeh.objectives import build_objective
    from gan_bokeh.train.config import TrainConfig

    amp, dtype, cl, compile_ = MODES[mode]
    cfg = load_config(TrainConfig, variant, overrides=[
        f"data.crop_size={size}", f"data.load_size={size}", f"train.batch_size={batch}", f"train.amp={amp}",
        f"train.amp_dtype={dtype}", f"train.channels_last={cl}"])
    model = build_objective(cfg, torch.device(device), vgg=vgg19_relu3_2() if cfg.needs_vgg else None)
    if compile_:
        model.nets = {k: torch.compile(n) for k, n in model.nets.items()}
    return model


def _time_steps(model, batch: dict, iters: int, warmup: int, cuda: bool) -> tuple[list[float], list[float]]:
    import torch

    walls, cpus = [], []
    for i in range(warmup + iters):
        if cuda:
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        model.step(batch)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    return walls, cpus


def _child_cpu(variant: str, size: int, iters: int, warmup: int, threads: int) -> list[dict[str, object]]:
    import resource

    import torch

    torch.set_num_threads(threads)
    model = _build(variant, size, 1, "cpu")
    walls, cpus = _time_steps(model, _batch(size, 1), iters, warmup, cuda=False)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    return [{"variant": variant, "size": size, "device": "cpu", "threads": threads,
             "wall_s/it": round(statistics.median(walls), 3), "cpu_s/it": round(statistics.median(cpus), 3),
             "peak_rss_gb": round(rss_gb, 2), "iters": iters}]


def _child_cuda(variant: str, size: int, batch: int, iters: int, warmup: int, modes: list[str]
                ) -> list[dict[str, object]]:
    import torch

    out: list[dict[str, object]] = []
    base = None
    for mode in modes:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        row: dict[str, object] = {"variant": variant, "size": size, "batch": batch, "device": "cuda", "mode": mode}
        try:
            model = _build(variant, size, batch, "cuda", mode)
            walls, _ = _time_steps(model, _batch(size, batch), iters, warmup + (3 if MODES[mode][3] else 0),
                                   cuda=True)
        except Exception as err:  # noqa: BLE001 - one failing mode (e.g. bf16 unsupported) must not hide the rest
            first = str(err).splitlines()[0][:160] if str(err) else ""
            row["FAILED"] = f"{type(err).__name__}: {first}"
            out.append(row)
            continue
        ips = 1.0 / statistics.median(walls)
        if mode == "fp32":
            base = ips
        row.update({"it/s": round(ips, 2), "x_fp32": round(ips / base, 2) if base else None,
                    "img/s": round(ips * batch, 1), "peak_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 2),
                    "iters": iters})
        out.append(row)
        del model
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="default: 128 256 (CPU), 256 (CUDA)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--iters", type=int, default=None, help="timed iterations, median reported (3 CPU, 20 CUDA)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed iterations first (1 CPU, 5 CUDA)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="CUDA: batch sizes")
    ap.add_argument("--modes", nargs="+", default=None, choices=list(MODES),
                    help="CUDA: default fp32 fp16 bf16 channels_last fp16+cl (+ the compile modes with --compile)")
    ap.add_argument("--compile", action="store_true", help="CUDA: also time torch.compile modes")
    ap.add_argument("--child", nargs=3, metavar=("VARIANT", "SIZE", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    cuda = args.device == "cuda"
    iters = args.iters or (20 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    modes = args.modes or ["fp32", "fp16", "bf16", "channels_last", "fp16+cl",
                           *(["compile", "fp16+cl+compile"] if args.compile else [])]
    if "fp32" not in modes:
        modes = ["fp32", *modes]  # every ratio is to fp32 eager
    if args.child:
        v, size, batch = args.child[0], int(args.child[1]), int(args.child[2])
        rows = _child_cuda(v, size, batch, iters, warmup, modes) if cuda else _child_cpu(v, size, iters, warmup,
                                                                                            args.threads)
        print(json.dumps(rows))
        return 0
    if cuda:
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA device visible to PyTorch", file=sys.stderr)
            return 2
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    sizes = args.sizes or ([256] if cuda else [128, 256])
    batches = args.batches if cuda else [1]
    extra = f"modes {' '.join(modes)}, batches {batches}" if cuda else "batch 1"
    print(f"# bench_train: each variant's config (ResNet-9 ngf=64 …), {extra}, {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    failed = 0
    for size in sizes:
        for batch in batches:
            for variant in args.variants:
                cmd = [sys.executable, __file__, "--child", variant, str(size), str(batch), "--iters", str(iters),
                       "--warmup", str(warmup), "--threads", str(args.threads), "--device", args.device,
                       "--modes", *modes]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    failed += 1
                    print(f"variant={variant} size={size} batch={batch} FAILED: "
                          f"{out.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                for res in json.loads(out.stdout.strip().splitlines()[-1]):
                    print(" ".join(f"{k}={v}" for k, v in res.items()), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
