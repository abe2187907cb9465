#!/usr/bin/env python
"""PyNET bokeh benchmark: parameters, GFLOP per output megapixel, inference seconds per megapixel, peak
memory and training iterations per second at 512-px crops. One line per figure, e.g.::

    figure=params width=32 depth=1 value=47556501
    figure=gflop_per_mp width=32 level=1 value=...
    figure=infer_s_per_mp device=cpu threads=2 width=32 out=512x768 wall=... cpu=...
    figure=train_it_per_s device=cuda width=32 level=1 crop=512 batch=4 amp=1 value=... peak_gb=...

Megapixels are those of the OUTPUT (the photo's full resolution; the network sees the photo at half size).
Random-init weights and random images: speed does not depend on them. The VGG of the fine level's content
loss is a random-init VGG19 (same cost as the ImageNet one).

Usage: ``python scripts/bench_pynet.py [--width 32] [--threads 2] [--cpu-out 512 768] [--cuda-out 1024 1536]
[--train-iters 3] [--no-cpu-train] [--skip-cuda]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch


def line(**kv: object) -> None:
    print(" ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def _timed(fn, reps: int, device: str) -> tuple[float, float]:  # noqa: ANN001
    """Median wall and CPU seconds of ``fn()`` over ``reps`` calls after one warm-up call (cuDNN autotune,
    allocator)."""
    walls, cpus = [], []
    for i in range(reps + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        if i:
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _net(width: int, depth: bool, device: str) -> torch.nn.Module:
    from gan_bokeh.nets import build_generator

    torch.manual_seed(0)
    return build_generator("pynet", ngf=width, depth=depth).to(device)


def params(width: int) -> None:
    from gan_bokeh.nets.pynet import count_parameters

    for depth in (False, True):
        line(figure="params", width=width, depth=int(depth), value=count_parameters(_net(width, depth, "cpu")))


def gflop_per_mp(width: int) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    net = _net(width, True, "cpu").eval()
    x = torch.rand(1, 4, 128, 128)
    for level in (1, 3, 7):
        with FlopCounterMode(display=False) as fc, torch.inference_mode():
            net(x, level=level)
        out_mp = (2 * 128) ** 2 / 1e6  # level 1's output, the photo's resolution
        line(figure="gflop_per_mp", width=width, level=level, value=round(fc.get_total_flops() / 1e9 / out_mp, 1))


def infer(width: int, device: str, out_hw: tuple[int, int], threads: int, amp: bool = False, reps: int = 2) -> None:
    net = _net(width, True, device).eval()
    h, w = out_hw[0] // 2, out_hw[1] // 2
    x = torch.rand(1, 4, h, w, device=device) * 2 - 1
    mp = out_hw[0] * out_hw[1] / 1e6
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def run() -> None:
        with torch.inference_mode(), torch.autocast("cuda", enabled=amp and device == "cuda"):
            net(x, level=1)

    wall, cpu = _timed(run, reps, device)
    kv: dict[str, object] = {"figure": "infer_s_per_mp", "device": device, "threads": threads, "width": width,
                             "out": f"{out_hw[0]}x{out_hw[1]}", "amp": int(amp), "wall": round(wall / mp, 3)}
    if device == "cpu":
        kv["cpu"] = round(cpu / mp, 3)
        kv["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    else:
        kv["peak_gb"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
    line(**kv)


def train_speed(width: int, device: str, level: int, crop: int, batch: int, iters: int, threads: int) -> None:
    from gan_bokeh.config import load_config
    from gan_bokeh.nets.vgg import vgg19_relu5_4
    from gan_bokeh.objectives.pynet import PyNETObjective, prepare_paired
    from gan_bokeh.train.config import TrainConfig

    cfg = load_config(TrainConfig, "pynet_ebb", overrides=[f"model.ngf={width}", f"data.crop_size={crop}",
                                                            f"train.batch_size={batch}", "pynet.level_batch_size=[]"])
    dev = torch.device(device)
    obj = PyNETObjective(cfg, dev, vgg=vgg19_relu5_4())
    for e in range(200):  # the first epoch of the wanted level
        if obj.level != level:
            obj.start_epoch(e)
    g = torch.Generator().manual_seed(0)
    raw = {"input": torch.randint(0, 256, (batch, 3, crop, crop), generator=g, dtype=torch.uint8),
           "target": torch.randint(0, 256, (batch, 3, crop, crop), generator=g, dtype=torch.uint8),
           "depth": torch.rand(batch, 1, crop, crop, generator=g)}
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    wall, cpu = _timed(lambda: obj.step(prepare_paired(raw, level, dev, True)), iters, device)
    kv: dict[str, object] = {"figure": "train_it_per_s", "device": device, "threads": threads, "width": width,
                             "level": level, "crop": crop, "batch": batch, "amp": int(obj.amp),
                             "value": round(1 / wall, 3), "s_per_it": round(wall, 3)}
    if device == "cpu":
        kv["cpu_s_per_it"] = round(cpu, 3)
        kv["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    else:
        kv["peak_gb"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
    line(**kv)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cpu-out", type=int, nargs=2, default=(512, 768), metavar=("H", "W"))
    ap.add_argument("--cuda-out", type=int, nargs=2, default=(1024, 1536), metavar=("H", "W"))
    ap.add_argument("--train-iters", type=int, default=3)
    ap.add_argument("--no-cpu-train", action="store_true", help="skip the (slow) CPU training figure")
    ap.add_argument("--skip-cuda", action="store_true")
    ap.add_argument("--only-cpu-train", action="store_true", help="just the CPU training figure")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if not a.only_cpu_train:
        params(a.width)
        gflop_per_mp(a.width)
        infer(a.width, "cpu", tuple(a.cpu_out), a.threads)
    if not a.no_cpu_train:
        train_speed(a.width, "cpu", 1, 512, 1, max(1, a.train_iters // 3), a.threads)
    if torch.cuda.is_available() and not a.skip_cuda and not a.only_cpu_train:
        torch.backends.cudnn.benchmark = True
        line(figure="gpu", name=torch.cuda.get_device_name(0).replace(" ", "_"))
        for amp in (False, True):
            infer(a.width, "cuda", tuple(a.cuda_out), a.threads, amp=amp, reps=5)
        for level, batch in ((7, 32), (3, 8), (1, 4), (1, 1)):
            train_speed(a.width, "cuda", level, 512, batch, a.train_iters, a.threads)


if __name__ == "__main__":
    main()
