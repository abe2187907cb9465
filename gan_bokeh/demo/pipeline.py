"""The demo pipeline: the product's main job on the embedded demonstration set, resumable stage by stage.

Stages (each leaves ``<out>/.stages/<name>.done``, a JSON marker with the stage's key, so a second run
reuses every finished stage whose inputs did not change; ``--force`` starts over):

1. ``photos``   — load the sample photos shipped by scikit-image / matplotlib (:mod:`gan_bokeh.demo.data`);
2. ``masks``    — subject masks: the offline ``selfie`` person segmenter for people, GrabCut otherwise;
3. ``dataset``  — domain B rendered with ``layers``; augmented ``trainA/ trainB/ testA/ testB/``;
4. ``train-*``  — the paper's four variants (``gan-bokeh train`` in subprocesses, small nets, a fixed
   iteration budget each, ``--resume`` after an interruption);
5. ``generate-*`` — held-out test photos through every run, with and without test-time overlay;
6. ``render-*`` — the comparison renderers (the paper's ``gaussian`` baseline and ``layers``);
7. ``evaluate-*`` — subject PSNR / SSIM, background high-frequency ratio, edge halo per output set;
8. ``compare``  — the static HTML report; then the summary table is printed and saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError, first_line

log = logging.getLogger(__name__)

__all__ = ["BUDGETS", "DemoConfig", "Stages", "VARIANTS", "make_config", "run_demo", "summary_rows"]

#: The paper's four models (configs/<name>.yaml), in the paper's order.
VARIANTS: tuple[str, ...] = ("cyclegan", "mask_loss", "mask_overlay", "mask_loss_overlay")
#: Comparison renderers run on the test photos.
RENDER_METHODS: tuple[str, ...] = ("gaussian", "layers")


@dataclass(frozen=True)
class Budget:
    """How much work the demo does. ``full``: the README's ~15-minute demo; ``smoke``: CI."""

    iters: int            # training iterations per variant
    size: int             # training crop (px); images are stored at load = size * 9/8
    n_per_domain: int     # augmented training images per domain
    ngf: int
    ndf: int
    n_blocks: int


BUDGETS: dict[str, Budget] = {
    "full": Budget(iters=2000, size=64, n_per_domain=96, ngf=16, ndf=16, n_blocks=6),
    "smoke": Budget(iters=4, size=32, n_per_domain=8, ngf=8, ndf=8, n_blocks=1),
}


@dataclass
class DemoConfig:
    """Resolved demo settings (written to ``<out>/demo.json``)."""

    out: Path
    budget: str = "full"
    iters: int = 2000
    size: int = 64
    n_per_domain: int = 96
    ngf: int = 16
    ndf: int = 16
    n_blocks: int = 6
    seed: int = 0
    jobs: int = 2
    masks: str = "auto"          # auto | selfie | grabcut
    force: bool = False
    vgg: bool = field(default=False)  # filled in: VGG19 ImageNet weights available offline

    @property
    def load_size(self) -> int:
        return self.size + self.size // 8 // 4 * 4 if self.size >= 32 else self.size

    @property
    def source_px(self) -> int:
        """Short side of the sample photos the crops are cut from (3 × the training crop)."""
        return 3 * self.size

    @property
    def test_px(self) -> int:
        """Short side of the held-out test photos (2 × the training crop: generate works at full size)."""
        return 2 * self.size

    def validate(self) -> None:
        if self.budget not in BUDGETS:
            raise UserError(f"--budget {self.budget}: use one of {', '.join(BUDGETS)}")
        if self.iters < 1:
            raise UserError(f"--iters {self.iters}: use at least 1")
        if self.size < 16 or self.size % 4:
            raise UserError(f"--size {self.size}: use a multiple of 4, at least 16")
        if self.masks not in ("auto", "selfie", "grabcut"):
            raise UserError(f"--masks {self.masks}: use auto, selfie or grabcut")
        if self.jobs < 1:
            raise UserError(f"--jobs {self.jobs}: use at least 1")


def make_config(out: str | os.PathLike[str], budget: str = "full", **overrides: Any) -> DemoConfig:
    """A :class:`DemoConfig` from a budget name plus explicit overrides (``None`` values ignored)."""
    if budget not in BUDGETS:
        raise UserError(f"--budget {budget}: use one of {', '.join(BUDGETS)}")
    base = asdict(BUDGETS[budget])
    base.update({k: v for k, v in overrides.items() if v is not None})
    cfg = DemoConfig(out=Path(out), budget=budget, **base)
    cfg.validate()
    return cfg


# --------------------------------------------------------------------------------------------- stages
def stage_key(params: dict[str, Any]) -> str:
    """A short stable hash of a stage's parameters (and its upstream keys)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Stages:
    """Stage markers in ``<out>/.stages/<name>.done`` (JSON: key, seconds, finished, info)."""

    def __init__(self, out: Path) -> None:
        self.dir = out / ".stages"
        self.reused: list[str] = []
        self.ran: list[str] = []

    def marker(self, name: str) -> dict[str, Any] | None:
        p = self.dir / f"{name}.done"
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def done(self, name: str, key: str, outputs: Sequence[Path] = ()) -> dict[str, Any] | None:
        """The marker of ``name`` when its key matches and its ``outputs`` still exist, else ``None``."""
        m = self.marker(name)
        if m is None or m.get("key") != key or not all(Path(p).exists() for p in outputs):
            return None
        return m

    def mark(self, name: str, key: str, seconds: float, info: dict[str, Any]) -> None:
        from gan_bokeh.io import atomic_write_text

        rec = {"stage": name, "key": key, "seconds": round(seconds, 2),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "info": info}
        atomic_write_text(self.dir / f"{name}.done", json.dumps(rec, indent=2, default=str))

    def run(self, name: str, params: dict[str, Any], fn: Callable[[], dict[str, Any]],
            outputs: Sequence[Path] = ()) -> tuple[str, dict]:
        """Run ``fn`` unless a marker with the same key exists (and ``outputs`` do); return ``(key, info)``."""
        key = stage_key(params)
        m = self.done(name, key, outputs)
        if m is not None:
            _say(f"[reuse] {name} (finished {m['finished']}, {m['seconds']:.0f} s)")
            self.reused.append(name)
            return key, m.get("info", {})
        _say(f"[stage] {name} …")
        t0 = time.monotonic()
        info = fn() or {}
        secs = time.monotonic() - t0
        self.mark(name, key, secs, info)
        self.ran.append(name)
        _say(f"[done]  {name} in {secs:.1f} s")
        return key, info


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(total: int, desc: str):  # -> tqdm
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", leave=False, disable=not sys.stderr.isatty())


# --------------------------------------------------------------------------------------------- data
def stage_photos(cfg: DemoConfig) -> dict[str, Any]:
    import numpy as np

    from gan_bokeh.demo.data import SOURCES, load_photo
    from gan_bokeh.io import write_image

    d = cfg.out / "sources"
    recs = []
    bar = _progress(len(SOURCES), "photos")
    for src in SOURCES:
        img, depth = load_photo(src, cfg.source_px)
        write_image(d / f"{src.name}.png", img)
        if depth is not None:
            np.save(d / f"{src.name}.depth.npy", depth)
        recs.append({"name": src.name, "role": src.role, "origin": src.origin, "credit": src.credit,
                     "size": [int(img.shape[1]), int(img.shape[0])], "true_depth": depth is not None})
        bar.update(1)
    bar.close()
    return {"photos": recs}


def _selfie_segmenter(mode: str) -> tuple[Any | None, str]:
    """The offline person segmenter, or ``(None, reason)`` when it is unavailable and mode allows that."""
    if mode == "grabcut":
        return None, "--masks grabcut"
    from gan_bokeh.errors import WeightsUnavailableError

    try:
        from gan_bokeh.segment import get_segmenter

        return get_segmenter("selfie"), ""
    except (WeightsUnavailableError, ImportError) as err:
        if mode == "selfie":
            raise UserError(f"--masks selfie: the selfie segmenter is unavailable ({err})") from None
        return None, f"selfie segmenter unavailable ({first_line(err)})"


def stage_masks(cfg: DemoConfig, seg: Any | None, why: str) -> dict[str, Any]:
    """Subject masks of the sample photos: ``seg`` (the person segmenter) for people, else GrabCut."""
    from gan_bokeh.demo.data import SOURCES, grabcut_subject_mask
    from gan_bokeh.io import read_image, write_mask

    d = cfg.out / "sources"
    recs = []
    bar = _progress(len(SOURCES), "masks")
    for src in SOURCES:
        img = read_image(d / f"{src.name}.png")
        if src.person and seg is not None:
            from gan_bokeh.segment import refine_mask, select_main_subject

            # cleaned (holes, specks) and reduced to the largest person, as the paper's subject mask
            mask = select_main_subject(refine_mask(seg(img)), mode="largest")
            method = f"{getattr(seg, 'name', 'selfie')} person segmenter (refined, largest person)"
        else:
            mask = grabcut_subject_mask(img, src.box)
            method = "grabcut (no person in this photo)" if not src.person else f"grabcut ({why})"
        write_mask(d / f"{src.name}.mask.png", mask, pnginfo={"gan-bokeh:mask": method})
        recs.append({"name": src.name, "method": method, "subject_fraction": round(float(mask.mean()), 4)})
        bar.update(1)
    bar.close()
    for r in recs:
        _say(f"  mask {r['name']:<18} {r['method']}  (subject {100 * r['subject_fraction']:.0f} % of frame)")
    return {"masks": recs}


def stage_dataset(cfg: DemoConfig) -> dict[str, Any]:
    import numpy as np

    from gan_bokeh.demo.data import SOURCES, build_split, render_shallow_dof
    from gan_bokeh.io import read_image, read_mask, write_image, write_mask

    src_dir, root = cfg.out / "sources", cfg.out / "dataset"
    if root.exists():
        shutil.rmtree(root)  # a half-written dataset from an interrupted run
    rng = np.random.default_rng(cfg.seed)
    loaded = {s.name: (read_image(src_dir / f"{s.name}.png"), read_mask(src_dir / f"{s.name}.mask.png"))
              for s in SOURCES}

    def write(path: Path, img: np.ndarray, msk: np.ndarray) -> None:
        write_image(path, img)
        write_mask(path.with_name(path.stem + ".mask.png"), msk)

    # Domain B: each B photo at two blur strengths (radius as a fraction of the short side).
    b_items, renders = [], []
    for s in (s for s in SOURCES if s.role == "B"):
        img, msk = loaded[s.name]
        depth_file = src_dir / f"{s.name}.depth.npy"
        depth = np.load(depth_file) if depth_file.is_file() else None
        for strength in (0.035, 0.055):
            out, info = render_shallow_dof(img, msk, depth, max_blur=strength * min(img.shape[:2]))
            tag = f"{s.name}_r{int(strength * 1000)}"
            write_image(root / "rendered_B" / f"{tag}.png", out)
            b_items.append((tag, out, msk))
            renders.append({"name": tag, "max_blur_px": round(strength * min(img.shape[:2]), 1), **info})
    a_items = [(s.name, *loaded[s.name]) for s in SOURCES if s.role == "A"]

    n_test = sum(1 + len(TEST_FRAMINGS) for s in SOURCES if s.role == "test")
    bar = _progress(2 * cfg.n_per_domain + n_test + 4, "dataset")
    upd = bar.update
    rec_a = build_split(a_items, root / "trainA", cfg.n_per_domain, cfg.load_size, rng, write, upd)
    rec_b = build_split(b_items, root / "trainB", cfg.n_per_domain, cfg.load_size, rng, write, upd)
    rec_tb = build_split(b_items, root / "testB", 4, cfg.load_size, rng, write, upd)
    rec_test = _write_test(cfg, loaded, root, upd)
    bar.close()
    return {"trainA": len(rec_a), "trainB": len(rec_b), "testA": len(rec_test), "testB": len(rec_tb),
            "renders_B": renders, "test": rec_test,
            "sources": {r: [s.name for s in SOURCES if s.role == r] for r in ("A", "B", "test")}}


#: Square crops of each test photo besides the whole frame: (name, fraction of the short side).
TEST_FRAMINGS: tuple[tuple[str, float], ...] = (("medium", 0.85), ("closeup", 0.65))


def subject_crop(mask: Any, frac: float) -> tuple[int, int, int]:
    """A square crop (``frac`` of the short side) around the subject's top: a head-and-shoulders close-up.

    Returns:
        ``(y, x, side)``.
    """
    import numpy as np

    h, w = mask.shape
    side = max(1, int(round(min(h, w) * frac)))
    ys, xs = np.nonzero(mask > 0.5)
    cx, top = (float(xs.mean()), float(ys.min())) if ys.size else (w / 2, 0.0)
    x = int(np.clip(round(cx - side / 2), 0, w - side))
    y = int(np.clip(round(top - 0.05 * side), 0, h - side))
    return y, x, side


def _write_test(cfg: DemoConfig, loaded: dict[str, Any], root: Path, upd: Callable[[int], None]
                ) -> list[dict[str, Any]]:
    """Held-out test photos: the whole frame and the :data:`TEST_FRAMINGS` crops, with masks and depth.

    Also writes ``testA_masks/<stem>.png`` and ``testA_depth/<stem>.npy`` (the mask-only fallback depth),
    the inputs of ``render``/``evaluate``/``compare``.
    """
    import numpy as np

    from gan_bokeh.demo.data import SOURCES, resize_short_side
    from gan_bokeh.depth import fallback_depth
    from gan_bokeh.io import write_image, write_mask

    recs = []
    for s in (s for s in SOURCES if s.role == "test"):
        img, msk = loaded[s.name]
        framings = [("full", img, msk)]
        for tag, frac in TEST_FRAMINGS:
            y, x, side = subject_crop(msk, frac)
            framings.append((tag, img[y:y + side, x:x + side], msk[y:y + side, x:x + side]))
        for tag, im, mk in framings:
            im = np.clip(resize_short_side(im, cfg.test_px), 0, 1).astype(np.float32)
            mk = np.clip(resize_short_side(mk, cfg.test_px), 0, 1).astype(np.float32)
            stem = f"{s.name}_{tag}"
            write_image(root / "testA" / f"{stem}.png", im)
            write_mask(root / "testA" / f"{stem}.mask.png", mk)
            write_mask(root / "testA_masks" / f"{stem}.png", mk)
            (root / "testA_depth").mkdir(parents=True, exist_ok=True)
            np.save(root / "testA_depth" / f"{stem}.npy", fallback_depth(mk))
            recs.append({"file": f"{stem}.png", "source": s.name, "size": [int(im.shape[1]), int(im.shape[0])]})
            upd(1)
    return recs


# --------------------------------------------------------------------------------------------- training
def vgg_available() -> bool:
    """True when torchvision's VGG19 ImageNet weights are cached (or downloadable is *not* assumed)."""
    import torchvision

    from gan_bokeh.weights import weights_available

    return weights_available(torchvision.models.VGG19_Weights.IMAGENET1K_V1.url)


def train_overrides(cfg: DemoConfig, variant: str, n_images: int) -> list[str]:
    """``--set`` values that turn a paper config into the demo's small CPU model."""
    epochs = max(1, math.ceil(cfg.iters / max(n_images, 1)))
    sets = [f"model.ngf={cfg.ngf}", f"model.ndf={cfg.ndf}", "model.generator=resnet", f"model.n_blocks={cfg.n_blocks}",
            f"data.load_size={cfg.load_size}", f"data.crop_size={cfg.size}", "data.num_workers=0",
            # constant LR for the first half of the budget, then linear decay (the paper's 2:1 shape)
            f"train.n_epochs={max(1, (2 * epochs) // 3)}", f"train.n_epochs_decay={max(1, epochs // 3 + 1)}",
            f"log.latest_every={max(1, min(100, cfg.iters // 5))}", f"log.image_every={max(1, cfg.iters // 4)}",
            f"log.save_every={cfg.iters}"]
    if variant in ("mask_loss", "mask_loss_overlay") and not cfg.vgg:
        sets.append("train.mask_vgg_weight=0")
    return sets


def train_command(cfg: DemoConfig, variant: str, n_images: int, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "gan_bokeh", "train", "--config", variant, "--data", str(cfg.out / "dataset"),
           "--name", variant, "--out", str(cfg.out / "runs"), "--seed", str(cfg.seed), "--device", "cpu",
           "--max-iters", str(cfg.iters)]
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
    # Parallel jobs share the cores: one thread each is faster than oversubscribing (ENVIRONMENT.md).
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
                    _say(f"  train {job.variant}: iteration {it}/{cfg.iters} "
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


def stage_train_all(cfg: DemoConfig, stages: Stages, data_key: str, n_images: int) -> dict[str, str]:
    """Train every variant that has no matching marker (in parallel), then mark each one."""
    keys, todo = {}, []
    for v in VARIANTS:
        sets = train_overrides(cfg, v, n_images)
        static = {"variant": v, "data": data_key, "sets": [s for s in sets if not s.startswith("log.")],
                  "seed": cfg.seed}
        key = stage_key({**static, "iters": cfg.iters})
        keys[v] = key
        if stages.done(f"train-{v}", key, [cfg.out / "runs" / v / "ckpt" / "latest.pt"]):
            _say(f"[reuse] train-{v}")
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
        _say(f"[stage] train {names}: {cfg.iters} iterations each, {cfg.size} px, ngf={cfg.ngf} ndf={cfg.ndf} "
             f"n_blocks={cfg.n_blocks}, {min(cfg.jobs, len(todo))} at a time (1 thread each); logs in "
             f"{cfg.out / 'runs'}")
        secs = run_training(cfg, [j for j, _ in todo])
        for job, key in todo:
            stages.mark(f"train-{job.variant}", key, secs[job.variant],
                        {"iters": cfg.iters, "command": job.cmd[1:], "log": str(job.log_path)})
            stages.ran.append(f"train-{job.variant}")
            _say(f"[done]  train-{job.variant} in {secs[job.variant]:.0f} s "
                 f"({secs[job.variant] / cfg.iters:.2f} s/iteration)")
    return keys


# --------------------------------------------------------------------------------------------- outputs
def _cli(argv: list[str]) -> None:
    """Run a ``gan-bokeh`` subcommand in this process (no interpreter start-up per call)."""
    from gan_bokeh.cli import main

    rc = main(argv)
    if rc:
        raise UserError(f"`gan-bokeh {' '.join(argv)}` failed with exit status {rc}")


def output_sets() -> list[tuple[str, str, bool | None]]:
    """``(set name, variant or render method, test-time overlay)`` for every output set, report order."""
    sets: list[tuple[str, str, bool | None]] = [(f"render-{m}", m, None) for m in RENDER_METHODS]
    for v in VARIANTS:
        sets += [(v, v, False), (f"{v}+overlay", v, True)]
    return sets


def stage_generate(cfg: DemoConfig, variant: str, overlay: bool, dest: Path) -> dict[str, Any]:
    test = cfg.out / "dataset" / "testA"
    if dest.exists():
        shutil.rmtree(dest)
    _cli(["generate", "--checkpoint", str(cfg.out / "runs" / variant), "--input", str(test), "--out", str(dest),
          "--overlay" if overlay else "--no-overlay", "--mask", str(cfg.out / "dataset" / "testA_masks"),
          "--device", "cpu"])
    return {"variant": variant, "overlay": overlay, "images": len(list(dest.glob("*.png")))}


#: ``layers`` blur radius as a fraction of the short side: the middle of the domain-B training renders.
LAYERS_BLUR = 0.045


def render_options(method: str, image: Any) -> dict[str, Any]:
    """Renderer options for the demo's table: ``layers`` blurs as strongly as the domain-B photos the GANs
    were trained to imitate (its default f/1.8 gives about 1 px of blur on a 128-px photo)."""
    return {"max_blur": LAYERS_BLUR * min(image.shape[:2])} if method == "layers" else {}


def stage_render(cfg: DemoConfig, method: str, dest: Path) -> dict[str, Any]:
    """Render the test photos with a comparison method (mask + fallback depth written by ``dataset``)."""
    import numpy as np

    from gan_bokeh.io import list_images, read_image, read_mask, write_image
    from gan_bokeh.render import render_image

    root = cfg.out / "dataset"
    files = list_images(root / "testA")
    info: dict[str, Any] = {}
    bar = _progress(len(files), f"render {method}")
    for p in files:
        img = read_image(p)
        mask = read_mask(root / "testA_masks" / f"{p.stem}.png")
        depth = np.load(root / "testA_depth" / f"{p.stem}.npy")
        out, info = render_image(img, method=method, mask=mask, depth=depth, **render_options(method, img))
        write_image(dest / p.name, out)
        bar.update(1)
    bar.close()
    keep = {k: v for k, v in dict(info).items() if isinstance(v, (str, int, float, bool))}
    return {"method": method, "images": len(files), "info": keep, "depth": "fallback (mask only)",
            "options": render_options(method, img) if files else {}}


def stage_evaluate(cfg: DemoConfig, pred: Path, dest: Path) -> dict[str, Any]:
    from gan_bokeh.evaluate import evaluate_folders, write_metrics

    root = cfg.out / "dataset"
    result = evaluate_folders(pred, root / "testA", mask_dir=root / "testA_masks", progress=sys.stderr.isatty())
    write_metrics(result, dest)
    return {"mean": result["mean"], "notes": result["notes"]}


def stage_compare(cfg: DemoConfig, notes: list[str]) -> dict[str, Any]:
    """``gan-bokeh compare`` on the test photos, with the demo's notes and its ``layers`` blur strength."""
    from gan_bokeh.io import list_images, read_image

    report = cfg.out / "report"
    root = cfg.out / "dataset"
    tests = list_images(root / "testA")
    short = min(min(read_image(p).shape[:2]) for p in tests)
    _cli(["compare", "--input", str(root / "testA"), "--out", str(report), "--mask", str(root / "testA_masks"),
          "--depth", str(root / "testA_depth"), "--runs", *(str(cfg.out / "runs" / v) for v in VARIANTS),
          "--methods", ",".join(RENDER_METHODS), "--max-images", "0", "--no-segment", "--device", "cpu",
          "--render-option", f"layers.max_blur={LAYERS_BLUR * short:.2f}",
          *[a for n in notes for a in ("--note", n)]])
    return {"report": str(report / "index.html")}


# --------------------------------------------------------------------------------------------- summary
def summary_rows(metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per output set: subject PSNR / SSIM, background HF ratio, edge halo (means)."""
    rows = []
    for name, mean in metrics.items():
        rows.append({"set": name, **{k: mean.get(k) for k in ("subject_psnr", "subject_ssim", "bg_hf_ratio",
                                                              "edge_halo")}})
    return rows


def paper_test_overlay(variant: str) -> bool:
    """The variant's own test-time overlay setting (``test.mask_overlay`` in ``configs/<variant>.yaml``)."""
    from gan_bokeh.config import load_config
    from gan_bokeh.train.config import TrainConfig

    return bool(load_config(TrainConfig, variant).test.mask_overlay)


def claim_check(metrics: dict[str, dict[str, Any]], paper_overlay: dict[str, bool] | None = None) -> list[str]:
    """Check the paper's claim on this set, one line per mask variant.

    Claim: the mask variants keep the subject better than plain CycleGAN (higher subject PSNR) while the
    background is still blurred (background high-frequency ratio < 1). Each variant is judged at its
    configured test-time overlay (``paper_overlay``; the paper pastes the subject back only for
    ``mask_overlay``, where a high subject PSNR is then by construction — said in the line), and again
    without any test-time overlay, which measures what the generator itself learned.
    """
    paper_overlay = paper_overlay or {}
    lines = []
    base = metrics.get("cyclegan", {}).get("subject_psnr")
    for v in VARIANTS[1:]:
        for overlay in sorted({bool(paper_overlay.get(v, False)), False}, reverse=True):
            name = f"{v}+overlay" if overlay else v
            m = metrics.get(name, {})
            psnr, hf = m.get("subject_psnr"), m.get("bg_hf_ratio")
            label = f"{name} ({'paper setting, subject pasted back' if overlay else 'generator alone'})"
            if base is None or psnr is None or hf is None:
                lines.append(f"{label}: metrics missing")
                continue
            better, blurred = psnr > base, hf < 1.0
            lines.append(f"{label}: subject PSNR {psnr:.2f} dB vs cyclegan {base:.2f} dB "
                         f"({'higher' if better else 'not higher'}), background HF ratio {hf:.3f} "
                         f"({'blurred' if blurred else 'not blurred'}) → claim "
                         f"{'holds' if better and blurred else 'does NOT hold'}")
    return lines


def format_summary(metrics: dict[str, dict[str, Any]]) -> str:
    def f(v: Any, nd: int) -> str:
        if v is None:
            return "—"
        if isinstance(v, float) and math.isinf(v):
            return "inf"
        return f"{v:.{nd}f}"

    head = f"{'output set':<26}{'subject PSNR':>14}{'subject SSIM':>14}{'bg HF ratio':>13}{'edge halo':>11}"
    out = [head, "-" * len(head)]
    for r in summary_rows(metrics):
        out.append(f"{r['set']:<26}{f(r['subject_psnr'], 2):>14}{f(r['subject_ssim'], 3):>14}"
                   f"{f(r['bg_hf_ratio'], 3):>13}{f(r['edge_halo'], 4):>11}")
    return "\n".join(out)


def write_summary(cfg: DemoConfig, metrics: dict[str, dict[str, Any]], notes: list[str], claims: list[str],
                  timings: dict[str, float], report: str) -> Path:
    from gan_bokeh.io import atomic_write_text

    data = {"config": {**asdict(cfg), "out": str(cfg.out)}, "metrics": metrics, "notes": notes,
            "claim": claims, "timings_s": timings, "report": report}
    atomic_write_text(cfg.out / "summary.json", json.dumps(data, indent=2, default=str))
    md = ["# gan-bokeh demo summary", "", f"Report: `{report}`", "", "```", format_summary(metrics), "```", "",
          "## Paper claim on this demonstration set", "", *(f"- {c}" for c in claims), "", "## Notes", "",
          *(f"- {n}" for n in notes), ""]
    atomic_write_text(cfg.out / "summary.md", "\n".join(md))
    return cfg.out / "summary.md"


# --------------------------------------------------------------------------------------------- driver
def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run (or resume) every stage; return the summary dict. Raises :class:`UserError` on a failed stage."""
    t_start = time.monotonic()
    cfg.out.mkdir(parents=True, exist_ok=True)
    if cfg.force:  # forget finished stages and the runs (which would otherwise resume at their end)
        for d in (cfg.out / ".stages", cfg.out / "runs"):
            if d.exists():
                shutil.rmtree(d)
    cfg = replace(cfg, vgg=vgg_available())
    stages = Stages(cfg.out)
    notes = ["Demonstration set: 7 sample photos shipped with scikit-image and matplotlib, augmented, at "
             f"{cfg.size} px; not the paper's Flickr dataset — a smoke-scale demonstration, not a reproduction."]
    notes.append(f"'layers' renders with max_blur = {LAYERS_BLUR:.1%} of the short side (the strength of the "
                 "domain-B training photos) in the demo's table and in the report.")
    if not cfg.vgg:
        notes.append("VGG19 ImageNet weights are not available offline: the mask-loss variants were trained "
                     "with the L1 part of the mask loss only (train.mask_vgg_weight=0); no VGG features "
                     "were used.")
    from gan_bokeh.io import atomic_write_text

    atomic_write_text(cfg.out / "demo.json", json.dumps({**asdict(cfg), "out": str(cfg.out)}, indent=2))
    _say(f"gan-bokeh demo: budget {cfg.budget}, {cfg.iters} iterations × {len(VARIANTS)} variants at "
         f"{cfg.size} px → {cfg.out}")

    k_photos, _ = stages.run("photos", {"size": cfg.source_px, "v": 2}, lambda: stage_photos(cfg),
                             [cfg.out / "sources"])
    seg, why = _selfie_segmenter(cfg.masks)  # resolved first: the masks' key names the backend used
    backend = getattr(seg, "name", "selfie") if seg is not None else "grabcut"
    k_masks, masks_info = stages.run("masks", {"up": k_photos, "backend": backend, "v": 1},
                            lambda: stage_masks(cfg, seg, why), [cfg.out / "sources"])
    k_data, data_info = stages.run("dataset", {"up": k_masks, "n": cfg.n_per_domain, "size": cfg.size,
                                               "seed": cfg.seed, "v": 2}, lambda: stage_dataset(cfg),
                                    [cfg.out / "dataset" / "testA_depth"])
    notes.append("Masks: " + "; ".join(f"{m['name']}: {m['method']}" for m in masks_info.get("masks", [])) + ".")
    notes.append("Domain A (all in focus): " + ", ".join(data_info.get("sources", {}).get("A", []))
                 + "; domain B: " + ", ".join(data_info.get("sources", {}).get("B", []))
                 + " given a shallow depth of field by the layers renderer (true stereo depth for the left "
                 "view, mask-only fallback depth otherwise); held-out test photos: "
                 + ", ".join(data_info.get("sources", {}).get("test", [])) + ".")
    n_images = max(int(data_info.get("trainA", cfg.n_per_domain)), int(data_info.get("trainB", 0)))
    train_keys = stage_train_all(cfg, stages, k_data, n_images)

    metrics: dict[str, dict[str, Any]] = {}
    for name, what, overlay in output_sets():
        dest = cfg.out / "outputs" / name
        if overlay is None:
            k_out, _ = stages.run(f"render-{what}", {"up": k_data, "blur": LAYERS_BLUR, "v": 1},
                                  lambda what=what, dest=dest: stage_render(cfg, what, dest), [dest])
        else:
            k_out, _ = stages.run(f"generate-{name}", {"up": train_keys[what], "overlay": overlay, "v": 1},
                                  lambda what=what, overlay=overlay, dest=dest:
                                  stage_generate(cfg, what, overlay, dest), [dest])
        _, ev = stages.run(f"evaluate-{name}", {"up": k_out, "v": 1},
                           lambda dest=dest, name=name: stage_evaluate(cfg, dest, cfg.out / "metrics" / name),
                           [cfg.out / "metrics" / name / "metrics.json"])
        metrics[name] = ev.get("mean", {})

    claims = claim_check(metrics, {v: paper_test_overlay(v) for v in VARIANTS})
    k_cmp, cmp_info = stages.run("compare", {"up": sorted(train_keys.values()), "data": k_data, "v": 2},
                                 lambda: stage_compare(cfg, notes + claims), [cfg.out / "report" / "index.html"])
    report = cmp_info.get("report", str(cfg.out / "report" / "index.html"))
    timings = _stage_seconds(stages)
    timings["this_run_wall"] = round(time.monotonic() - t_start, 1)
    summary = write_summary(cfg, metrics, notes, claims, timings, report)

    _say("")
    _say(format_summary(metrics))
    _say("")
    _say("Paper claim (mask variants keep the subject better than plain CycleGAN, background blurred):")
    for c in claims:
        _say(f"  {c}")
    for n in notes:
        _say(f"note: {n}")
    _say(f"stages: {len(stages.ran)} ran, {len(stages.reused)} reused; wall time this run "
         f"{timings['this_run_wall']:.0f} s")
    _say(f"summary: {summary}")
    _say(f"report:  {report}")
    return {"metrics": metrics, "claims": claims, "notes": notes, "report": report, "ran": stages.ran,
            "reused": stages.reused, "timings": timings}


def _stage_seconds(stages: Stages) -> dict[str, float]:
    out = {}
    for p in sorted(stages.dir.glob("*.done")):
        try:
            m = json.loads(p.read_text())
        except json.JSONDecodeError:
            continue
        out[m["stage"]] = m["seconds"]
    return out
