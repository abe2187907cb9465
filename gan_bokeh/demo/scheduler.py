"""The demo's training stage: the variants trained by ``gan-bokeh train`` in parallel subprocesses (one
thread each), resumed after an interruption, with progress from each run's ``metrics.jsonl``."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_bokeh.demo.config import VARIANT, VARIANTS, DemoConfig
from gan_bokeh.demo.stages import Stages, say
from gan_bokeh.errors import UserError


def vgg_available() -> bool:
    """True when torchvision's VGG19 ImageNet weights are cached (or downloadable is *not* assumed)."""
    import torchvision

    from gan_bokeh.weights import weights_available

    return weights_available(torchvision.models.VGG19_Weights.IMAGENET1K_V1.url)


def train_overrides(cfg: DemoConfig, variant: str, n_images: int) -> list[str]:
    """``--set`` values that turn a paper config into the demo's small CPU model."""
    epochs = max(1, math.ceil(cfg.iters / max(n_images, 1)))
    # the generic ResNet: the demo chooses the block count (a name such as resnet_9blocks fixes it)
    sets = [f"model.ngf={cfg.ngf}", f"model.ndf={cfg.ndf}", "model.generator=resnet", f"model.n_blocks={cfg.n_blocks}",
            f"data.load_size={cfg.load_size}", f"data.crop_size={cfg.size}", "data.num_workers=0",
            # constant LR for the first half of the budget, then linear decay (the paper's 2:1 shape)
            f"train.n_epochs={max(1, (2 * epochs) // 3)}", f"train.n_epochs_decay={max(1, epochs // 3 + 1)}",
            f"log.latest_every={max(1, min(100, cfg.iters // 5))}", f"log.image_every={max(1, cfg.iters // 4)}",
            f"log.save_every={cfg.iters}"]
    if VARIANT[variant].uses_vgg and not cfg.vgg:
        sets.append("train.mask_vgg_weight=0")
    return sets


def train_command(cfg: DemoConfig, variant: str, n_images: int, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "gan_bokeh", "train", "--config", VARIANT[variant].config,
           "--data", str(cfg.out / "dataset"), "--name", variant, "--out", str(cfg.out / "runs"),
           "--seed", str(cfg.seed), "--device", "cpu", "--max-iters", str(cfg.iters)]
    for s in train_overrides(cfg, variant, n_images):
        cmd += ["--set", s]
    if resume:
        cmd.append("--resume")
    return cmd


def _last_iter(metrics: Path) -> int:
    """The last logged iteration in a run's ``metrics.jsonl`` (0 when none), reading only the tail."""
    try:
        with open(metrics, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        for k in ("iter", "iteration", "step"):
            if isinstance(rec.get(k), int):
                return rec[k]
    return 0


@dataclass
class _Job:
    variant: str
    cmd: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0
    last_report: int = -1


def _thread_env() -> dict[str, str]:
    env = dict(os.environ)
    # Parallel jobs share the cores: one thread each is faster than oversubscribing (measured on
    # the 2-core CI machine: docs/demo.md).
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GAN_BOKEH_THREADS": "1"})
    return env


def run_training(cfg: DemoConfig, jobs: Sequence[_Job]) -> dict[str, float]:
    """Run the training subprocesses, at most ``cfg.jobs`` at a time, with one progress line/bar each.

    Returns:
        seconds per variant. Raises :class:`UserError` naming the log of any job that failed.
    """
    from tqdm import tqdm

    pending, running, secs, failed = list(jobs), [], {}, []
    tty = sys.stderr.isatty()
    bars: dict[str, Any] = {}
    try:
        while pending or running:
            while pending and len(running) < cfg.jobs:
                job = pending.pop(0)
                job.log_path.parent.mkdir(parents=True, exist_ok=True)
                fh = open(job.log_path, "a")  # noqa: SIM115 - closed when the process ends
                fh.write(f"\n$ {' '.join(job.cmd)}\n")
                fh.flush()
                job.proc = subprocess.Popen(job.cmd, stdout=fh, stderr=subprocess.STDOUT, env=_thread_env())
                fh.close()
                job.started = time.monotonic()
                running.append(job)
                bars[job.variant] = tqdm(total=cfg.iters, desc=f"train {job.variant}", unit="it",
                                         position=len(bars), leave=True, disable=not tty)
            time.sleep(1.0)
            for job in list(running):
                it = min(_last_iter(cfg.out / "runs" / job.variant / "metrics.jsonl"), cfg.iters)
                bar = bars[job.variant]
                bar.update(max(0, it - bar.n))
                if not tty and it * 10 // cfg.iters > job.last_report:
                    job.last_report = it * 10 // cfg.iters
                    say(f"  train {job.variant}: iteration {it}/{cfg.iters} "
                         f"({time.monotonic() - job.started:.0f} s)")
                rc = job.proc.poll()
                if rc is None:
                    continue
                running.remove(job)
                bar.close()
                secs[job.variant] = time.monotonic() - job.started
                if rc != 0:
                    failed.append(f"{job.variant} (exit {rc}; see {job.log_path}: {_tail(job.log_path)})")
    except KeyboardInterrupt:
        for job in running:  # the trainer saves a checkpoint on SIGINT; --resume continues from it
            job.proc.send_signal(2)
        for job in running:
            job.proc.wait(timeout=120)
        raise
    if failed:
        raise UserError("training failed: " + "; ".join(failed))
    return secs


def _tail(path: Path, n: int = 1) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return ""
    return " | ".join(lines[-n:])[-300:]


def stage_train_all(cfg: DemoConfig, stages: Stages, n_images: int) -> dict[str, str]:
    """Train every variant that has no matching marker (in parallel), then mark each one; keys derive from
    the settings and the ``dataset`` stage's key."""
    keys, todo = {}, []
    for v in VARIANTS:
        sets = train_overrides(cfg, v, n_images)
        static = {"variant": v, "config": VARIANT[v].config, "data": stages.keys["dataset"],
                  "sets": [s for s in sets if not s.startswith("log.")], "seed": cfg.seed}
        key = stages.derive({**static, "iters": cfg.iters}, after=["dataset"])
        keys[v] = key
        if stages.done(f"train-{v}", key, [cfg.out / "runs" / v / "ckpt" / "latest.pt"]):
            say(f"[reuse] train-{v}")
            stages.reused.append(f"train-{v}")
            continue
        run_dir = cfg.out / "runs" / v
        static_file = run_dir / ".demo-static.json"
        resume = (run_dir / "ckpt" / "latest.pt").is_file()
        if resume and (not static_file.is_file() or json.loads(static_file.read_text()) != static):
            resume = False  # trained on another dataset or net: start that variant over
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        static_file.write_text(json.dumps(static))
        todo.append((_Job(v, train_command(cfg, v, n_images, resume), cfg.out / "runs" / f"{v}.log"), key))
    if todo:
        names = ", ".join(j.variant for j, _ in todo)
        say(f"[stage] train {names}: {cfg.iters} iterations each, {cfg.size} px, ngf={cfg.ngf} ndf={cfg.ndf} "
             f"n_blocks={cfg.n_blocks}, {min(cfg.jobs, len(todo))} at a time (1 thread each); logs in "
             f"{cfg.out / 'runs'}")
        secs = run_training(cfg, [j for j, _ in todo])
        for job, key in todo:
            stages.mark(f"train-{job.variant}", key, secs[job.variant],
                        {"iters": cfg.iters, "command": job.cmd[1:], "log": str(job.log_path)})
            stages.ran.append(f"train-{job.variant}")
            say(f"[done]  train-{job.variant} in {secs[job.variant]:.0f} s "
                 f"({secs[job.variant] / cfg.iters:.2f} s/iteration)")
    return keys
