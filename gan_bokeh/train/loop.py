"""The training loop: it only schedules — data order, steps, logging, checkpoints, stopping.

Run folder ``<out>/<name>/``: ``config.yaml`` (resolved), ``run.json`` (package version and git commit of the
start and of every resume, with the run-length keys a resume changed), ``metrics.jsonl`` (one object per
logged iteration), ``tb/`` (TensorBoard), ``ckpt/latest.pt`` and ``ckpt/iter_NNNNNNN.pt``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_bokeh.config import dump_config, to_dict
from gan_bokeh.data import default_cache_dir
from gan_bokeh.errors import UserError
from gan_bokeh.io import append_jsonl, atomic_write_text, read_jsonl
from gan_bokeh.objectives import NonFiniteLossError, Objective, build_objective, objective_class
from gan_bokeh.runtime import pick_device
from gan_bokeh.train import checkpoint as ckpt
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.distributed import (
    DistInfo,
    any_flag,
    barrier,
    dist_info,
    init_distributed,
    is_distributed,
    shutdown_distributed,
)
from gan_bokeh.train.provenance import check_resume_config, provenance
from gan_bokeh.train.rng import rng_state, seed_everything, set_rng_state

__all__ = ["RunOptions", "TrainResult", "train"]

log = logging.getLogger("gan_bokeh.train")


@dataclass
class RunOptions:
    """Everything about a run that is not the model config.

    ``vgg`` injects a ready VGG feature extractor (tests: random init); otherwise ImageNet weights are
    resolved from ``vgg_weights``, the torch cache or a download.
    """

    data: Path
    run_dir: Path
    resume: bool = False
    max_iters: int | None = None
    device: str | None = None
    vgg_weights: str | None = None
    vgg: nn.Module | None = None
    progress: bool | None = None  # None: a bar only on a terminal


@dataclass
class TrainResult:
    iteration: int
    epoch: int
    reason: str  # "done" | "max_iters" | "signal"
    checkpoint: Path | None
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Progress:
    epoch: int = 0  # current 0-based epoch
    batch: int = 0  # batches of this epoch already consumed (trained or skipped)
    iteration: int = 0  # optimiser steps so far


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the next batch boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.pid = os.getpid()
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if os.getpid() != self.pid:
            return  # a forked loader worker inherited this handler; the main process decides
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: give up at once
        self.signum = signum
        log.warning("%s received: saving a checkpoint at the end of this iteration (Ctrl-C again to abort)",
                    signal.Signals(signum).name)

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class Trainer:
    """Owns one run: the dataset, the model, the run folder and the schedule."""

    def __init__(self, cfg: TrainConfig, opts: RunOptions) -> None:
        cfg.validate()  # resolves the preset-dependent keys of a config built in code
        self.cfg, self.opts = cfg, opts
        self.info: DistInfo = dist_info()
        self.device = self._pick_device()
        self.run_dir = Path(opts.run_dir)
        self.ckpt_dir = self.run_dir / "ckpt"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.progress = _Progress()
        self.warned: set[str] = set()
        self.resume_changes: dict[str, tuple[Any, Any]] = {}
        self.writer: Any = None
        self.bar: Any = None
        self.kind = objective_class(cfg.model.objective)  # data/schedule hooks, before any objective exists

    # -- set-up: every check happens before anything is written or the process group exists ---------------
    def _pick_device(self) -> torch.device:
        device = pick_device(self.opts.device)
        if device.type == "cuda" and self.info.enabled:
            device = torch.device("cuda", self.info.local_rank)
            torch.cuda.set_device(device)
        return device

    def _check(self) -> tuple[Any, dict[str, Any] | None, nn.Module | None]:
        c = self.cfg
        cache_dir = (c.data.cache_dir or default_cache_dir()) if c.data.cache else None
        ds = self.kind.make_dataset(c, Path(self.opts.data), cache_dir)
        if cache_dir is not None and self.info.is_main:  # after the dataset check: a bad --data is one line
            log.info("resized training images are cached in %s (data.cache=false to turn off)", cache_dir)
        if len(ds) < c.train.batch_size * self.info.world_size:
            raise UserError(f"{self.opts.data}: {len(ds)} training images are fewer than one batch "
                            f"({c.train.batch_size} x {self.info.world_size} processes)")
        latest = self.ckpt_dir / "latest.pt"
        state = None
        if self.opts.resume:
            if not latest.is_file():
                raise UserError(f"{self.run_dir}: nothing to resume (no ckpt/latest.pt); drop --resume")
            state = ckpt.load_checkpoint(latest)
            self.resume_changes = check_resume_config(self.run_dir, state.get("config") or {}, to_dict(c))
        elif latest.is_file():
            raise UserError(f"{self.run_dir} already holds a run; add --resume to continue it or pick another --name")
        vgg = None
        if c.needs_vgg:
            vgg = self.opts.vgg if self.opts.vgg is not None else self.kind.build_vgg(c, self.opts.vgg_weights)
        return ds, state, vgg

    def _setup(self) -> tuple[Any, Objective]:
        ds, state, vgg = self._check()
        if self.cfg.train.deterministic:
            torch.use_deterministic_algorithms(True)
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick the fastest kernels
        init_distributed(self.info, self.device)
        seed_everything(self.cfg.train.seed + self.info.rank)
        model = build_objective(self.cfg, self.device, vgg=vgg, rank=self.info.rank)
        if state is not None:
            self._restore(model, state)
        if self.info.enabled:
            model.wrap_ddp([self.device.index] if self.device.type == "cuda" else None)
        if self.info.is_main:
            self._open_run_dir(model)
        barrier()
        return ds, model

    def _restore(self, model: Objective, state: dict[str, Any]) -> None:
        by_rank = state.get("pools_by_rank")
        pools = by_rank[self.info.rank] if by_rank and len(by_rank) == self.info.world_size else None
        try:
            model.load_state_dict(state, pools=pools)
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            # torch's load_state_dict message spans lines (a header, then one line per bad key): join them
            why = " ".join(line.strip() for line in str(err).splitlines() if line.strip())[:300] or repr(err)
            raise UserError(f"{self.ckpt_dir / 'latest.pt'}: does not fit the networks of this config ({why}); "
                            "resume with the run's own config or start a new run") from None
        p = state["progress"]
        self.progress = _Progress(int(p["epoch"]), int(p["batch"]), int(p["iteration"]))
        rngs = state.get("rng_by_rank")
        if rngs and len(rngs) == self.info.world_size:
            set_rng_state(rngs[self.info.rank])
        if self.info.is_main:
            log.info("resuming %s at iteration %d (epoch %d)", self.run_dir, self.progress.iteration,
                     self.progress.epoch + 1)

    def _open_run_dir(self, model: Objective) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        dump_config(self.cfg, self.run_dir / "config.yaml")
        self._record_run()
        if self.opts.resume:  # drop metrics logged after the checkpoint (they will be logged again)
            it = self.progress.iteration
            kept = [r for r in read_jsonl(self.metrics_path) if int(r.get("iter", 0)) <= it]
            atomic_write_text(self.metrics_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
        self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.progress.iteration + 1)
        self._describe_losses(model)

    def _describe_losses(self, model: Objective) -> None:
        """What each loss name means, next to the curves: a text note and a Custom Scalars layout whose
        chart titles carry the descriptions (the objective's ``LOSS_DESCRIPTIONS``)."""
        desc = model.LOSS_DESCRIPTIONS
        if not desc:
            return
        table = "\n".join(f"| loss/{k} | {v} |" for k, v in desc.items())
        self.writer.add_text("loss/README", "| curve | meaning |\n|---|---|\n" + table, self.progress.iteration)
        charts = {f"{k}: {v}": ["Multiline", [f"loss/{k}"]] for k, v in desc.items()}
        self.writer.add_custom_scalars({f"losses ({model.name}, paper notation)": charts})

    def _record_run(self) -> None:
        """``run.json``: what code started the run and each resume, and the run-length keys a resume changed."""
        path = self.run_dir / "run.json"
        rec: dict[str, Any] = {}
        if self.opts.resume and path.is_file():
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("%s is unreadable; starting a new one", path)
        entry = {**provenance(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "iteration": self.progress.iteration, "max_iters": self.opts.max_iters}
        if self.opts.resume:
            entry["changed"] = {k: {"from": a, "to": b} for k, (a, b) in sorted(self.resume_changes.items())}
            rec.setdefault("resumes", []).append(entry)
            if self.resume_changes:
                log.info("resume changes %s", ", ".join(f"{k} {a!r} → {b!r}"
                                                        for k, (a, b) in sorted(self.resume_changes.items())))
        else:
            rec = {"objective": self.cfg.model.objective, "started": entry}
        atomic_write_text(path, json.dumps(rec, indent=1, sort_keys=True) + "\n")

    # -- the schedule -------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            ds, model = self._setup()
            with _StopFlag() as stop:
                return self._run(ds, model, stop)
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            if self.bar is not None:
                self.bar.close()
            if self.writer is not None:
                self.writer.close()
            shutdown_distributed()

    def _total_epochs(self) -> int:
        return self.kind.total_epochs(self.cfg)

    def _run(self, ds: Any, model: Objective, stop: _StopFlag) -> TrainResult:
        from tqdm import tqdm

        p, max_iters = self.progress, self.opts.max_iters
        total = sum(self._sampler(ds, e, 0).batches_per_epoch for e in range(self._total_epochs()))
        if max_iters is not None:
            total = min(total, max_iters)
        show = self.opts.progress if self.opts.progress is not None else sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=min(p.iteration, total), unit="it", dynamic_ncols=True,
                        disable=not (show and self.info.is_main))
        if max_iters is not None and p.iteration >= max_iters:
            log.info("already at iteration %d >= --max-iters %d; nothing to do", p.iteration, max_iters)
            return TrainResult(p.iteration, p.epoch, "max_iters", self.ckpt_dir / "latest.pt")
        while p.epoch < self._total_epochs():
            model.start_epoch(p.epoch)
            reason = self._run_epoch(ds, model, stop)
            if reason is not None:
                path = self._save(model)
                if self.info.is_main and reason == "signal":
                    log.warning("stopped by signal at iteration %d; checkpoint saved to %s (continue with --resume)",
                                p.iteration, path)
                elif self.info.is_main:
                    log.info("stopped at --max-iters %d; checkpoint saved to %s", p.iteration, path)
                return TrainResult(p.iteration, p.epoch, reason, path, sorted(self.warned))
            model.end_epoch()
            p.epoch, p.batch = p.epoch + 1, 0
            self._save(model, numbered=False)
        path = self._save(model)
        if self.info.is_main:
            log.info("training done: %d iterations, %d epochs; checkpoint %s", p.iteration, p.epoch, path)
        return TrainResult(p.iteration, p.epoch, "done", path, sorted(self.warned))

    def _sampler(self, ds: Any, epoch: int, start: int) -> Any:
        return self.kind.make_sampler(ds, self.cfg, epoch=epoch, start=start, rank=self.info.rank,
                                      world_size=self.info.world_size)

    def _loader(self, ds: Any) -> torch.utils.data.DataLoader:
        nw = self.cfg.data.num_workers
        sampler = self._sampler(ds, self.progress.epoch, self.progress.batch)
        # Own generator: a DataLoader otherwise draws its workers' base seed from torch's global RNG, which
        # the device-side augmentation uses, so a loader created at a resume point would shift every crop.
        gen = torch.Generator().manual_seed(self.cfg.train.seed)
        return torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=self.kind.collate, num_workers=nw,
                                           pin_memory=self.device.type == "cuda", persistent_workers=False,
                                           generator=gen)

    def _run_epoch(self, ds: Any, model: Objective, stop: _StopFlag) -> str | None:
        p, t0 = self.progress, time.monotonic()
        sums: dict[str, float] = defaultdict(float)
        steps, skipped = 0, 0
        loader = iter(self._loader(ds))
        while True:
            try:
                batch = next(loader, None)
            except RuntimeError:
                if stop.signum is None:
                    raise
                batch = None  # a loader worker died of the same Ctrl-C
            if batch is None and stop.signum is None:
                break
            for path, reason in (batch or {}).get("bad", []):
                skipped += 1
                self._warn_bad(path, reason, model.SKIPPED)
            no_batch, stopping = any_flag(batch is None or batch[model.BATCH_KEY] is None, stop.signum is not None,
                                          device=self.device)
            if stopping:
                return "signal"
            p.batch += 1
            if no_batch:
                continue
            losses = self._step(model, batch)
            p.iteration += 1
            steps += 1
            for k, v in losses.items():
                sums[k] += v
            self._log(model, losses)
            if self.opts.max_iters is not None and p.iteration >= self.opts.max_iters:
                return "max_iters"
            self._periodic_save(model)
        if steps == 0 and skipped > 0:
            # Every drawn image was unreadable: running on would "finish" having trained nothing.
            raise UserError(f"epoch {p.epoch + 1}: no trainable batch, all {skipped} drawn item(s) were skipped as "
                            f"{model.SKIPPED}s (listed above); fix or remove them and run again")
        self._epoch_summary(model, steps, skipped, sums, time.monotonic() - t0)
        return None

    def _step(self, model: Objective, batch: dict[str, Any]) -> dict[str, float]:
        batch = model.prepare_batch(batch)  # crop/flip/jitter (or scaling) on the training device
        try:
            return model.step(batch)
        except NonFiniteLossError as err:
            latest = self.ckpt_dir / "latest.pt"
            kept = f"the last good checkpoint is {latest}" if latest.is_file() else "no checkpoint was written yet"
            raise UserError(f"training stopped at iteration {self.progress.iteration + 1}: {err}; {kept} "
                            "(resume with --resume, e.g. with a lower --set train.lr=...)") from None

    def _warn_bad(self, path: str, reason: str, what: str = "unreadable image") -> None:
        if path not in self.warned:
            self.warned.add(path)
            log.warning("skipping %s %s: %s", what, path, reason)

    # -- logging ------------------------------------------------------------------------------------------
    def _log(self, model: Objective, losses: dict[str, float]) -> None:
        p = self.progress
        self.bar.update(1)
        if not self.info.is_main:
            return
        if p.iteration % self.cfg.log.every == 0:
            rec = {"epoch": p.epoch + 1, "iter": p.iteration, "lr": model.lr, **model.log_extra(), **losses}
            append_jsonl(self.metrics_path, rec, fsync=False)
            for k, v in losses.items():
                self.writer.add_scalar(f"loss/{k}", v, p.iteration)
            self.writer.add_scalar("lr", model.lr, p.iteration)
            self.bar.set_postfix({k: f"{losses[k]:.3f}" for k in model.BAR_TERMS if k in losses},
                                 refresh=False)
        if p.iteration % self.cfg.log.image_every == 0 or p.iteration == 1:
            self._log_images(model)

    def _log_images(self, model: Objective) -> None:
        from torchvision.utils import make_grid

        v = model.visuals
        for side, names in model.VISUAL_ROWS:
            tiles = []
            for n in names:
                if n not in v:
                    continue
                x = v[n][:1].detach().float().cpu()
                x = x.expand(-1, 3, -1, -1) if n.startswith("mask") else (x + 1) / 2
                if tiles and x.shape[2:] != tiles[0].shape[2:]:  # multi-scale visuals (PyNET levels)
                    x = torch.nn.functional.interpolate(x, size=tiles[0].shape[2:], mode="nearest")
                tiles.append(x.clamp(0, 1))
            self.writer.add_image(f"images/{side}: " + " | ".join(n for n in names if n in v),
                                  make_grid(torch.cat(tiles), nrow=len(tiles)), self.progress.iteration)

    def _epoch_summary(self, model: Objective, steps: int, skipped: int, sums: dict[str, float], dt: float) -> None:
        if not self.info.is_main:
            return
        p = self.progress
        order = (*model.LOSS_TERMS, *sorted(set(sums) - set(model.LOSS_TERMS)))
        means = " ".join(f"{k} {sums[k] / steps:.3f}" for k in order if k in sums) if steps else "no steps"
        log.info("epoch %d/%d%s: %d it in %.0f s (%.2f s/it), lr %.2e, %s%s", p.epoch + 1, self._total_epochs(),
                 model.epoch_note(), steps, dt, dt / max(steps, 1), model.lr, means,
                 f", skipped {skipped} {model.SKIPPED}(s)" if skipped else "")

    # -- checkpoints --------------------------------------------------------------------------------------
    def _periodic_save(self, model: Objective) -> None:
        it, lg = self.progress.iteration, self.cfg.log
        if it % lg.save_every == 0:
            self._save(model, numbered=True)
        elif it % lg.latest_every == 0:
            self._save(model, numbered=False)

    def _state(self, model: Objective) -> dict[str, Any]:
        p = self.progress
        state = {**model.state_dict(), "config": to_dict(self.cfg), "provenance": provenance(),
                 "iteration": p.iteration, "epoch": p.epoch,
                 "progress": {"epoch": p.epoch, "batch": p.batch, "iteration": p.iteration},
                 "world_size": self.info.world_size}
        pools, rng = model.pools_state(), rng_state()
        if is_distributed():  # every rank's pools and RNGs, so a DDP run resumes exactly too
            import torch.distributed as dist

            gathered: list[Any] = [None] * self.info.world_size
            dist.all_gather_object(gathered, {"pools": pools, "rng": rng})
            state["pools_by_rank"] = [g["pools"] for g in gathered]
            state["rng_by_rank"] = [g["rng"] for g in gathered]
        else:
            state["pools_by_rank"], state["rng_by_rank"] = [pools], [rng]
        return state

    def _save(self, model: Objective, numbered: bool = True) -> Path:
        state = self._state(model)  # collective under DDP: every rank takes part
        latest = self.ckpt_dir / "latest.pt"
        if self.info.is_main:
            ckpt.save_checkpoint(latest, state)
            if numbered:  # nets only (~1/4 of latest.pt): for generate / comparisons, not for resuming
                light = {k: state[k] for k in ("arch", "nets", "config", "provenance", "iteration", "epoch")}
                ckpt.save_checkpoint(self.ckpt_dir / f"iter_{self.progress.iteration:07d}.pt", light)
        barrier()
        return latest


def train(cfg: TrainConfig, opts: RunOptions) -> TrainResult:
    """Train (or resume) one run; see :class:`RunOptions`.

    Raises:
        UserError: bad data folder, missing masks, missing VGG weights, non-finite loss, ...
    """
    return Trainer(cfg, opts).run()
