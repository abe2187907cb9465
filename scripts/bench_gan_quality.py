#!/usr/bin/env python
"""GAN quality benchmark with a known answer: does a variant learn bokeh, and how well?

An unpaired task built from the real photos in ``$GAN_BOKEH_SHARED_DATA`` (read there, never copied into
the repository; the work folder is ``--out``):

* **domain A** (all in focus): portraits with person masks (``u2net_human_seg``, ``cihp_pgn``,
  ``rembg_examples``) and scenes with depth or disparity (``mpib``, ``depthy``, ``bokehme``,
  ``pynet_bokeh_ebb``, the Middlebury motorcycle);
* **domain B** (shallow depth of field): the real f/1.8 and f/2.8 photos of ``vabm/VABD`` plus ``layers``
  renders (real depth where the photo has one, else the mask-only fallback depth) of *other* photos of the
  same pool, so A and B stay unpaired;
* **test**: held-out all-in-focus photos of the pool (neither A nor B) whose ``layers`` renders at the same
  settings are their ground truth, and the real f/16 → f/1.8 pairs of ``vabm/EBB`` (not in B).

The pool is split by a fixed rule (sorted names, every 5th → test; the rest alternate A / B), never by
scores. Scenes without a person mask get a depth-derived subject mask (the nearest quarter of the depth,
largest component). Training crops are square, 80–100 % of the short side, colour-jittered, at
``load = size · 9/8``; test photos are whole frames at a short side of ``2 · size`` (``generate``'s
full-resolution path, working size = the crop size).

Each variant trains with the same budget (iterations, size, net width), ``--jobs`` at a time with
``--threads`` threads each, then generates the test set **without** test-time overlay (mask / depth inputs
and the rendering generator's subject-guided gather get the test photo's mask and depth) and is scored:

* ``psnr_gt``/``ssim_gt``: against the ground-truth render (synthetic test photos);
* ``psnr_real``/``ssim_real``: against the real f/1.8 photo after a per-channel gain fit (EBB! pairs differ
  slightly in exposure), ``psnr_real_raw`` without the fit;
* ``subj_psnr``/``subj_ssim``: output vs input inside the subject mask eroded by 2 % of the short side;
* ``bg_hf``: background high-frequency ratio output / input (< 1 = blurred);
* ``fid``/``kid``: outputs (synthetic + real test) vs the domain-B training crops (fid-helper Inception;
  tens of images: strongly biased, compare rows with each other only);
* ``iters``, ``cpu_s``: training iterations and training CPU-seconds (user + system of the process).

Figures are the **final** ones (the last checkpoint), not the best seen during training. A variant whose
``psnr_gt`` does not beat the unmodified input is flagged ``LEARNED NOTHING USEFUL``.

Resumable: the dataset, each run and each score are keyed on the source files, the budget and the
resolved training config; a second invocation reuses what matches (``--force`` retrains the chosen rows).
A change of the training *code* does not change the key: pass ``--force`` after one.

Usage::

    python scripts/bench_gan_quality.py                       # the full table (see docs/benchmark.md)
    python scripts/bench_gan_quality.py --quick               # smoke run, ~1-2 minutes
    python scripts/bench_gan_quality.py --variants cut defocus --jobs 2 --threads 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: ``layers`` blur radius of domain B and of the ground truth, as a fraction of the photo's short side.
LAYERS_BLUR = 0.045
#: Training crops: this fraction of the short side up to all of it (keeps the blur scale near the test's).
MIN_CROP = 0.8
#: Subject metrics are taken inside the mask eroded by this fraction of the short side (edges excluded).
ERODE = 0.02
#: Bump when the dataset construction changes (invalidates the dataset and every run).
DATA_VERSION = 1
#: Bump when scoring changes (invalidates scores, keeps trained runs).
SCORE_VERSION = 1


@dataclass(frozen=True)
class Budget:
    """One fixed training budget for every variant."""

    size: int          # training crop (px); generate's working size
    iters: int
    ngf: int
    ndf: int
    n_blocks: int
    n_per_domain: int  # augmented training crops per domain
    batch: int = 1


BUDGETS: dict[str, Budget] = {
    "full": Budget(size=96, iters=250, ngf=16, ndf=16, n_blocks=6, n_per_domain=120),
    "quick": Budget(size=32, iters=4, ngf=8, ndf=8, n_blocks=1, n_per_domain=8),
    # GPU check (scripts/gpu_check.sh): the 256 px for a short budget
    "gpu256": Budget(size=256, iters=1000, ngf=32, ndf=64, n_blocks=9, n_per_domain=200),
}

#: Row name → (config in configs/, extra ``--set`` overrides). The paper's four first.
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cyclegan": ("cyclegan", ()),
    "mask_loss": ("mask_loss", ()),
    "mask_overlay": ("mask_overlay", ()),
    "mask_loss_overlay": ("mask_loss_overlay", ()),
    "cut": ("cut", ()),
    "fastcut": ("fastcut", ()),
    "defocus": ("defocus", ()),
    "mask_loss+mask,depth": ("mask_loss", ("model.inputs=[rgb, mask, depth]",)),
    "cut+mask,depth": ("cut", ("model.inputs=[rgb, mask, depth]",)),
    "defocus+mask,depth": ("defocus", ("model.inputs=[rgb, mask, depth]",)),
    "portrait_bokeh": ("portrait_bokeh", ()),  # the recommended config: defocus + mask input
}
#: Reference rows: not trained.
REFERENCES = ("input (unmodified)", "layers (renderer = ground truth)")


def say(msg: str) -> None:
    print(msg, flush=True)


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- photos
@dataclass(frozen=True)
class Photo:
    """One real photo of the pool: its file, how to get its subject mask and depth (0 near … 1 far)."""

    name: str
    image: Path
    mask: Path | None = None
    mask_kind: str = "gray"        # gray | alpha | labels | focal
    depth: Path | None = None
    depth_kind: str = "depth"      # depth | disparity
    colormap: str | None = None
    kind: str = "portrait"         # portrait | scene


def discover_pool(data: Path) -> list[Photo]:
    """All-in-focus photos with a person mask or a depth map (the pool split into A / B renders / test)."""
    pool: list[Photo] = []
    for p in sorted((data / "u2net_human_seg" / "images").glob("*.jp*g")):
        pool.append(Photo(f"u2net_{p.stem}", p, data / "u2net_human_seg" / "masks" / f"{p.stem}.png"))
    for p in sorted((data / "cihp_pgn" / "images").glob("*.jpg")):
        pool.append(Photo(f"cihp_{p.stem}", p, data / "cihp_pgn" / "labels" / f"{p.stem}.png", "labels"))
    for p in sorted((data / "rembg_examples").glob("*.jpg")):
        pool.append(Photo(f"rembg_{p.stem}", p, p.with_name(f"{p.stem}.out.png"), "alpha"))
    for p in sorted((data / "mpib").glob("*_all-in-focus.jpg")):
        base = p.stem.removesuffix("_all-in-focus")
        pool.append(Photo(f"mpib_{base}", p, depth=p.with_name(f"{base}_disparity.jpg"), depth_kind="disparity",
                          kind="scene"))
    for p in sorted((data / "depthy").glob("*-alternative.jpg")):
        base = p.stem.removesuffix("-alternative")
        pool.append(Photo(f"depthy_{base}", p, depth=p.with_name(f"{base}-depth.jpg"), depth_kind="disparity",
                          kind="scene"))
    for p in sorted((data / "bokehme" / "inputs").glob("*.jpg")):
        pool.append(Photo(f"bokehme_{p.stem}", p, depth=p.with_suffix(".png"), depth_kind="disparity", kind="scene"))
    for p in sorted((data / "pynet_bokeh_ebb").glob("*_wide.jpg")):
        base = p.stem.removesuffix("_wide")
        # MegaDepth maps as PyNET feeds them: bright = near (checked: the bottom rows are brighter)
        pool.append(Photo(f"pynet_{base}", p, depth=p.with_name(f"{base}_depth.png"), depth_kind="disparity",
                          kind="scene"))
    moto = data / "skimage_data" / "motorcycle_left.png"
    if moto.is_file():
        pool.append(Photo("motorcycle", moto, depth=moto.with_name("motorcycle_disp.npz"), depth_kind="disparity",
                          kind="scene"))
    return [p for p in pool if p.image.is_file() and (p.mask is None or p.mask.is_file())
            and (p.depth is None or p.depth.is_file())]


def real_b_photos(data: Path) -> list[Photo]:
    """Real shallow-depth-of-field photos of domain B (VABD f/1.8 and f/2.8), focal mask as subject."""
    root = data / "vabm" / "VABD" / "train"
    out = []
    for stop in ("1_8", "2_8"):
        for p in sorted((root / stop).glob("*.JPG")):
            out.append(Photo(f"vabd_{p.stem}_f{stop}", p, root / "focal" / f"{p.stem}.png", "focal",
                             root / "depth" / f"{p.stem}.png", "depth", "Spectral", "scene"))
    return out


def real_pairs(data: Path) -> list[tuple[Photo, Path]]:
    """EBB! real pairs: the f/16 input (with its focal mask and depth) and its f/1.8 target."""
    root = data / "vabm" / "EBB" / "train"
    out = []
    for p in sorted((root / "input").glob("*.jpg")):
        ph = Photo(f"ebb_{p.stem}", p, root / "focal" / f"{p.stem}.jpg", "focal", root / "depth" / f"{p.stem}.png",
                   "depth", "Spectral", "scene")
        out.append((ph, root / "target" / p.name))
    return out


def split_pool(pool: Sequence[Photo]) -> dict[str, list[Photo]]:
    """Fixed split: within portraits and scenes (sorted by name), every 5th photo → test, the rest
    alternate A / B (rendered). Decided before any score was seen; never changed to suit one."""
    roles: dict[str, list[Photo]] = {"A": [], "B": [], "test": []}
    for kind in ("portrait", "scene"):
        group = sorted((p for p in pool if p.kind == kind), key=lambda p: p.name)
        rest = 0
        for i, p in enumerate(group):
            if i % 5 == 2:
                roles["test"].append(p)
            else:
                roles["A" if rest % 2 == 0 else "B"].append(p)
                rest += 1
    return roles


def depth_subject_mask(depth: np.ndarray) -> np.ndarray:
    """Subject of a scene without a person mask: the nearest quarter of the depth, largest component,
    holes filled. float32 ``(H, W)`` in {0, 1}."""
    from gan_bokeh.segment.refine import largest_component

    return largest_component(depth <= np.quantile(depth, 0.25))


def load_photo(ph: Photo, short: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(image (H, W, 3), mask (H, W), depth (H, W) or None)`` at short side ``short``, all float32 [0, 1]."""
    from PIL import Image

    from gan_bokeh.demo.data import resize_short_side
    from gan_bokeh.depth import load_depth
    from gan_bokeh.io import read_image, read_mask, resize_image

    img = np.clip(resize_short_side(read_image(ph.image), short), 0, 1).astype(np.float32)
    shape = img.shape[:2]
    depth = None
    if ph.depth is not None:
        d = load_depth(ph.depth, kind=ph.depth_kind, colormap=ph.colormap)
        depth = np.clip(resize_image(d.astype(np.float32), shape, up="linear"), 0, 1).astype(np.float32)
    if ph.mask is None:
        assert depth is not None, ph.name
        mask = depth_subject_mask(depth)
    else:
        if ph.mask_kind == "labels":
            raw = (np.asarray(Image.open(ph.mask)) > 0).astype(np.float32)
        else:
            raw = read_mask(ph.mask)
        mask = np.clip(resize_image(raw, shape, up="linear"), 0, 1).astype(np.float32)
        if ph.mask_kind == "focal":
            mask = (mask > 0.5).astype(np.float32)
    return img, mask, depth


def render_gt(img: np.ndarray, mask: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
    """The ``layers`` render that is both domain B's look and the test's ground truth (fixed settings)."""
    from gan_bokeh.demo.data import render_shallow_dof

    out, _ = render_shallow_dof(img, mask, depth, max_blur=LAYERS_BLUR * min(img.shape[:2]))
    return out


# --------------------------------------------------------------------------------------------- dataset
def source_identity(photos: Sequence[Photo]) -> list[Any]:
    ids = []
    for ph in photos:
        for f in (ph.image, ph.mask, ph.depth):
            if f is not None:
                st = f.stat()
                ids.append([str(f), st.st_size, int(st.st_mtime)])
    return ids


def random_crop(arrays: Sequence[np.ndarray], rng: np.random.Generator, out_px: int) -> list[np.ndarray]:
    """The same random square crop (:data:`MIN_CROP`–1 of the short side), resize and flip of each array."""
    import cv2

    h, w = arrays[0].shape[:2]
    side = int(round(min(h, w) * rng.uniform(MIN_CROP, 1.0)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    flip = rng.random() < 0.5
    out = []
    for a in arrays:
        c = cv2.resize(np.ascontiguousarray(a[y:y + side, x:x + side]), (out_px, out_px), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(c[:, ::-1] if flip else c, np.float32))
    return out


def write_domain(items: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], folder: Path, depth_dir: Path,
                 n: int, px: int, rng: np.random.Generator) -> None:
    """``n`` augmented crops (image, ``.mask.png`` sidecar, ``depth_dir/<stem>.npy``) drawn round-robin."""
    from gan_bokeh.demo.data import colour_jitter
    from gan_bokeh.io import write_image, write_mask

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name, img, mask, depth = items[i % len(items)]
        ci, cm, cd = random_crop([img, mask, depth], rng, px)
        stem = f"{name}_{i:03d}"
        write_image(folder / f"{stem}.png", colour_jitter(ci, rng))
        write_mask(folder / f"{stem}.mask.png", np.clip(cm, 0, 1))
        np.save(depth_dir / f"{stem}.npy", np.clip(cd, 0, 1).astype(np.float32))


def build_dataset(data: Path, out: Path, b: Budget, seed: int) -> dict[str, Any]:
    """Build (or reuse) ``out/dataset``; return its manifest (with ``key``)."""
    from gan_bokeh.depth import fallback_depth
    from gan_bokeh.io import atomic_write_text, write_image, write_mask

    pool = discover_pool(data)
    real_b, pairs = real_b_photos(data), real_pairs(data)
    if len(pool) < 5 or not real_b or not pairs:
        raise SystemExit(f"{data}: expected the shared photos (u2net_human_seg, mpib, vabm, …); set "
                         "GAN_BOKEH_SHARED_DATA or pass --data")
    roles = split_pool(pool)
    key = digest({"v": DATA_VERSION, "size": b.size, "n": b.n_per_domain, "seed": seed, "blur": LAYERS_BLUR,
                  "crop": MIN_CROP, "src": source_identity(pool + real_b + [p for p, _ in pairs])})
    root = out / "dataset"
    man_path = root / "manifest.json"
    if man_path.is_file():
        man = json.loads(man_path.read_text())
        if man.get("key") == key:
            return man
    if root.exists():
        shutil.rmtree(root)
    t0 = time.monotonic()
    rng = np.random.default_rng(seed)
    load_px, src_px, test_px = b.size + b.size // 8 // 4 * 4, 3 * b.size, 2 * b.size
    depth_dir = root / "depth"
    depth_dir.mkdir(parents=True)

    def with_depth(img: np.ndarray, mask: np.ndarray, depth: np.ndarray | None) -> np.ndarray:
        return depth if depth is not None else fallback_depth(mask)

    a_items, b_items = [], []
    for ph in roles["A"]:
        img, mask, depth = load_photo(ph, src_px)
        a_items.append((ph.name, img, mask, with_depth(img, mask, depth)))
    for ph in roles["B"]:
        img, mask, depth = load_photo(ph, src_px)
        b_items.append((f"{ph.name}_layers", render_gt(img, mask, depth), mask, with_depth(img, mask, depth)))
    for ph in real_b:
        img, mask, depth = load_photo(ph, src_px)
        b_items.append((ph.name, img, mask, with_depth(img, mask, depth)))
    write_domain(a_items, root / "trainA", depth_dir, b.n_per_domain, load_px, rng)
    write_domain(b_items, root / "trainB", depth_dir, b.n_per_domain, load_px, rng)

    test = []
    for ph in roles["test"]:
        img, mask, depth = load_photo(ph, test_px)
        d = with_depth(img, mask, depth)
        write_image(root / "test" / "input" / f"{ph.name}.png", img)
        write_image(root / "test" / "gt" / f"{ph.name}.png", render_gt(img, mask, depth))
        write_mask(root / "test" / "mask" / f"{ph.name}.png", mask)
        (root / "test" / "depth").mkdir(parents=True, exist_ok=True)
        np.save(root / "test" / "depth" / f"{ph.name}.npy", d)
        test.append({"name": ph.name, "kind": ph.kind, "true_depth": depth is not None,
                     "person_mask": ph.mask is not None})
    real = []
    for ph, target in pairs:
        img, mask, depth = load_photo(ph, test_px)
        from gan_bokeh.demo.data import resize_short_side
        from gan_bokeh.io import read_image

        tgt = np.clip(resize_short_side(read_image(target), test_px), 0, 1)
        write_image(root / "real" / "input" / f"{ph.name}.png", img)
        write_image(root / "real" / "target" / f"{ph.name}.png", tgt)
        write_mask(root / "real" / "mask" / f"{ph.name}.png", mask)
        (root / "real" / "depth").mkdir(parents=True, exist_ok=True)
        np.save(root / "real" / "depth" / f"{ph.name}.npy", with_depth(img, mask, depth))
        real.append(ph.name)
    man = {"key": key, "budget": asdict(b), "seed": seed, "seconds": round(time.monotonic() - t0, 1),
           "A": [p.name for p in roles["A"]], "B_rendered": [p.name for p in roles["B"]],
           "B_real": [p.name for p in real_b], "test": test, "real_pairs": real,
           "layers_blur": LAYERS_BLUR, "load_px": load_px, "test_px": test_px}
    atomic_write_text(man_path, json.dumps(man, indent=2))
    return man


# --------------------------------------------------------------------------------------------- scoring
def eroded(mask: np.ndarray) -> np.ndarray:
    import cv2

    r = max(2, round(ERODE * min(mask.shape)))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode((mask > 0.5).astype(np.uint8), k).astype(np.float32)


def test_items(root: Path, split: str) -> list[dict[str, Any]]:
    """Test photos of ``split`` (``test`` or ``real``) with their mask and depth."""
    from gan_bokeh.io import read_image, read_mask

    items = []
    for p in sorted((root / split / "input").glob("*.png")):
        items.append({"name": p.stem, "input": read_image(p), "mask": read_mask(root / split / "mask" / p.name),
                      "depth": np.load(root / split / "depth" / f"{p.stem}.npy")})
    return items


def b_features(root: Path, extractor: Any) -> Any:
    """Inception features of the domain-B training crops, cached beside the dataset."""
    import torch

    from gan_bokeh.evaluate.fid import extract_features
    from gan_bokeh.io import list_images

    cache = root / "fid_B_features.pt"
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    feats = extract_features(list_images(root / "trainB"), extractor)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    torch.save(feats, tmp)
    os.replace(tmp, cache)
    return feats


def fid_row(root: Path, outputs: Sequence[Path]) -> dict[str, Any]:
    from gan_bokeh.errors import WeightsUnavailableError
    from gan_bokeh.evaluate.fid import extract_features, fid_kid_from_features, load_feature_extractor

    try:
        extractor, desc = load_feature_extractor()
    except WeightsUnavailableError as err:
        return {"fid_note": str(err).splitlines()[0]}
    res = fid_kid_from_features(extract_features(list(outputs), extractor), b_features(root, extractor))
    return {"fid": res["fid"], "kid": res["kid_mean"], "kid_std": res["kid_std"], "fid_features": desc,
            "fid_n": len(outputs)}


def score(root: Path, pred: Callable[[str, dict[str, Any]], np.ndarray], out_dir: Path, fid: bool) -> dict[str, Any]:
    """Score one row: ``pred(split, item)`` gives the output for a test item; outputs are written to
    ``out_dir`` (for FID and for eyes). Returns the mean metrics and per-image rows."""
    from gan_bokeh.evaluate import bg_hf_ratio, fit_gain, psnr, ssim, subject_psnr, subject_ssim
    from gan_bokeh.io import read_image, write_image

    rows, written = [], []
    for it in test_items(root, "test"):
        y = np.clip(pred("test", it), 0, 1).astype(np.float32)
        gt = read_image(root / "test" / "gt" / f"{it['name']}.png")
        inner = eroded(it["mask"])
        rows.append({"name": it["name"], "split": "test", "psnr_gt": psnr(y, gt), "ssim_gt": ssim(y, gt),
                     "subj_psnr": subject_psnr(y, it["input"], inner), "subj_ssim": subject_ssim(y, it["input"], inner),
                     "bg_hf": bg_hf_ratio(y, it["input"], it["mask"])})
        written.append(out_dir / "test" / f"{it['name']}.png")
        write_image(written[-1], y)
    for it in test_items(root, "real"):
        y = np.clip(pred("real", it), 0, 1).astype(np.float32)
        tgt = read_image(root / "real" / "target" / f"{it['name']}.png")
        fitted = fit_gain(y, tgt)
        rows.append({"name": it["name"], "split": "real", "psnr_real": psnr(fitted, tgt),
                     "ssim_real": ssim(fitted, tgt),
                     "psnr_real_raw": psnr(y, tgt)})
        written.append(out_dir / "real" / f"{it['name']}.png")
        write_image(written[-1], y)
    mean: dict[str, Any] = {}
    for k in ("psnr_gt", "ssim_gt", "subj_psnr", "subj_ssim", "bg_hf", "psnr_real", "ssim_real", "psnr_real_raw"):
        vals = [r[k] for r in rows if k in r and math.isfinite(r[k])]
        mean[k] = float(np.mean(vals)) if vals else float("nan")
    if fid:
        mean.update(fid_row(root, written))
    return {"mean": mean, "per_image": rows}


# --------------------------------------------------------------------------------------------- variants
def train_overrides(b: Budget, dataset: Path, config: str, extra: Sequence[str], vgg: bool) -> list[str]:
    """``--set`` values that put a variant's config on the benchmark's budget (identical for every row)."""
    from gan_bokeh.config import load_config
    from gan_bokeh.nets.registry import generator_blocks
    from gan_bokeh.train.config import TrainConfig

    n_images = b.n_per_domain
    epochs = max(1, math.ceil(b.iters * b.batch / n_images))
    base = load_config(TrainConfig, config, overrides=list(extra))
    # a name that fixes the block count (resnet_9blocks) would refuse the budget's: use the generic ResNet
    named = ["model.generator=resnet"] if generator_blocks(base.model.generator) is not None else []
    sets = [*named, f"model.ngf={b.ngf}", f"model.ndf={b.ndf}", f"model.n_blocks={b.n_blocks}",
            f"data.load_size={b.size + b.size // 8 // 4 * 4}", f"data.crop_size={b.size}", "data.num_workers=0",
            "data.cache=false", f"data.depth_dir={dataset / 'depth'}", f"train.batch_size={b.batch}",
            # constant LR for two thirds of the budget, then linear decay (the paper's 2:1 shape)
            f"train.n_epochs={max(1, (2 * epochs) // 3)}", f"train.n_epochs_decay={max(1, epochs // 3 + 1)}",
            f"log.latest_every={max(1, min(100, b.iters // 5))}", f"log.image_every={max(1, b.iters // 2)}",
            f"log.save_every={b.iters}", *extra]
    cfg = load_config(TrainConfig, config, overrides=sets)
    if cfg.model.objective == "defocus":
        # the renderer's largest radius: 8 % of the crop, the strongest blur of the domain-B crops
        # (LAYERS_BLUR of the photo / MIN_CROP, rounded up) — from how B was made, not from scores
        sets.append(f"model.max_radius={round(0.08 * b.size, 1)}")
    if cfg.needs_vgg and not vgg:
        sets.append("train.mask_vgg_weight=0")
    return sets


def resolved_config(config: str, sets: Sequence[str]) -> dict[str, Any]:
    from gan_bokeh.config import load_config, to_dict
    from gan_bokeh.train.config import TrainConfig

    d = to_dict(load_config(TrainConfig, config, overrides=list(sets)))
    d["data"].pop("depth_dir", None)  # a path: the dataset key stands for it
    return d


def vgg_available() -> bool:
    try:
        from gan_bokeh.demo.pipeline import vgg_available as avail

        return avail()
    except Exception:  # noqa: BLE001 - no torchvision weights API: treat as unavailable
        return False


def run_variant(out: Path, variant: str, b: Budget, device: str, fid: bool, vgg: bool) -> dict[str, Any]:
    """Train (or resume) one variant, generate the test set and score it (runs in a child process)."""
    import torch

    from gan_bokeh.config import load_config
    from gan_bokeh.generate import FullResGenerator
    from gan_bokeh.train.config import TrainConfig
    from gan_bokeh.train.loop import RunOptions, train

    man = json.loads((out / "dataset" / "manifest.json").read_text())
    root = out / "dataset"
    config, extra = VARIANTS[variant]
    sets = train_overrides(b, root, config, extra, vgg)
    key = digest({"data": man["key"], "cfg": resolved_config(config, sets), "iters": b.iters, "device": device})
    slug = variant.replace("+", "_").replace(",", "_")
    run_dir, res_path = out / "runs" / slug, out / "results" / f"{slug}.json"
    if res_path.is_file():
        prev = json.loads(res_path.read_text())
        if prev.get("key") == key and prev.get("score_version") == SCORE_VERSION:
            prev["reused"] = True
            return prev
    key_file = run_dir / ".bench-key.json"
    latest = run_dir / "ckpt" / "latest.pt"
    prior: dict[str, Any] = {}
    if run_dir.exists():
        prior = json.loads(key_file.read_text()) if key_file.is_file() else {}
        if prior.get("key") != key:
            shutil.rmtree(run_dir)
            prior = {}
    run_dir.mkdir(parents=True, exist_ok=True)
    from gan_bokeh.io import atomic_write_text

    # the key goes down before training, so an interrupted run resumes instead of starting over
    atomic_write_text(key_file, json.dumps({"key": key, "cpu_s": prior.get("cpu_s", 0.0),
                                            "wall_s": prior.get("wall_s", 0.0)}))
    cfg = load_config(TrainConfig, config, overrides=sets)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.monotonic()
    result = train(cfg, RunOptions(data=root, run_dir=run_dir, resume=latest.is_file(), max_iters=b.iters,
                                   device=device, progress=False))
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = prior.get("cpu_s", 0.0) + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    wall_s = prior.get("wall_s", 0.0) + time.monotonic() - w0
    atomic_write_text(key_file, json.dumps({"key": key, "cpu_s": cpu_s, "wall_s": wall_s}))
    if result.reason == "signal":  # stopped early: the checkpoint is kept for the next run, nothing is scored
        raise SystemExit(f"{variant}: interrupted at iteration {result.iteration}; run again to resume")
    gen, _ = FullResGenerator.from_checkpoint(run_dir, device=torch.device(device))

    def pred(_split: str, it: dict[str, Any]) -> np.ndarray:
        return gen.generate([it["input"]], None, subject_masks=[it["mask"]], depths=[it["depth"]])[0]

    scored = score(root, pred, out / "outputs" / slug, fid)
    res = {"variant": variant, "key": key, "score_version": SCORE_VERSION, "config": config, "sets": list(extra),
           "iters": result.iteration, "cpu_s": round(cpu_s, 1), "wall_s": round(wall_s, 1),
           "threads": torch.get_num_threads(), "device": device, "reported": "final", **scored}
    atomic_write_text(res_path, json.dumps(_finite(res), indent=2))
    return res


def reference_rows(out: Path, fid: bool) -> dict[str, dict[str, Any]]:
    """The unmodified input and the ground-truth renderer itself (also ``layers`` on the real pairs)."""
    from gan_bokeh.io import atomic_write_text, read_image

    root = out / "dataset"
    man = json.loads((root / "manifest.json").read_text())
    rows = {}
    for name in REFERENCES:
        slug = "input" if name.startswith("input") else "layers"
        path = out / "results" / f"_{slug}.json"
        key = digest({"data": man["key"], "v": SCORE_VERSION, "fid": fid})
        if path.is_file() and json.loads(path.read_text()).get("key") == key:
            rows[name] = json.loads(path.read_text())
            continue

        def pred(split: str, it: dict[str, Any], slug: str = slug) -> np.ndarray:
            if slug == "input":
                return it["input"]
            if split == "test":
                return read_image(root / "test" / "gt" / f"{it['name']}.png")
            return render_gt(it["input"], it["mask"], it["depth"])

        res = {"variant": name, "key": key, "iters": 0, "cpu_s": 0.0, "reported": "-",
               **score(root, pred, out / "outputs" / f"_{slug}", fid)}
        atomic_write_text(path, json.dumps(_finite(res), indent=2))
        rows[name] = res
    return rows


def _finite(obj: Any) -> Any:
    """NaN → ``None`` (JSON has no NaN); PSNR is capped at 100 dB, so nothing else is non-finite."""
    from gan_bokeh.evaluate.runner import without_nan

    return without_nan(obj)


# --------------------------------------------------------------------------------------------- table
COLUMNS = (("psnr_gt", "PSNR/GT", 6, 2), ("ssim_gt", "SSIM/GT", 7, 3), ("psnr_real", "PSNR/f1.8", 9, 2),
           ("ssim_real", "SSIM/f1.8", 9, 3), ("subj_psnr", "subjPSNR", 8, 2), ("subj_ssim", "subjSSIM", 8, 3),
           ("bg_hf", "bgHF", 6, 3), ("fid", "FID", 6, 1), ("kid", "KID", 6, 3))


def format_table(rows: Sequence[dict[str, Any]], baseline: float | None) -> list[str]:
    head = (f"{'variant':<34}" + "".join(f"{h:>{w + 2}}" for _, h, w, _ in COLUMNS)
            + f"{'iters':>7}{'cpu_s':>8}  reported")
    lines = [head, "-" * len(head)]
    for r in rows:
        m = r.get("mean", {})
        cells = ""
        for k, _, w, nd in COLUMNS:
            v = m.get(k)
            cells += f"{'—' if v is None or not math.isfinite(v) else f'{v:.{nd}f}':>{w + 2}}"
        flag = ""
        if r.get("iters") and baseline is not None and (m.get("psnr_gt") is None or m["psnr_gt"] <= baseline):
            flag = "  LEARNED NOTHING USEFUL (PSNR/GT not above the input's)"
        lines.append(f"{r['variant']:<34}{cells}{r.get('iters', 0):>7}{r.get('cpu_s', 0):>8.0f}  "
                     f"{r.get('reported', '-')}{flag}")
    return lines


# --------------------------------------------------------------------------------------------- driver
def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "GAN_BOKEH_THREADS": str(threads),
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")})
    return env


def spawn(args: argparse.Namespace, variant: str, budget: str) -> dict[str, Any]:
    log = Path(args.out) / "logs" / f"{variant.replace('+', '_').replace(',', '_')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child", variant, "--out", str(args.out), "--budget", budget,
           "--device", args.device, "--threads", str(args.threads), *(["--no-fid"] if args.no_fid else []),
           *(["--iters", str(args.iters)] if args.iters else [])]
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=_child_env(args.threads)).returncode
    if rc != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        return {"variant": variant, "failed": f"FAILED: exit {rc}; see {log}: {' '.join(tail)[-200:]}"}
    slug = variant.replace("+", "_").replace(",", "_")
    return json.loads((Path(args.out) / "results" / f"{slug}.json").read_text())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("GAN_BOKEH_SHARED_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "gan_quality")
    ap.add_argument("--budget", choices=list(BUDGETS), default="full")
    ap.add_argument("--quick", action="store_true", help="the smoke budget (same as --budget quick)")
    ap.add_argument("--iters", type=int, default=None, help="override the budget's iterations")
    ap.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                    help=f"rows to train (default: all): {', '.join(VARIANTS)}")
    ap.add_argument("--jobs", type=int, default=2, help="variants trained at a time")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per variant")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fid", action="store_true", help="skip FID/KID (no Inception pass)")
    ap.add_argument("--force", action="store_true", help="retrain and rescore the chosen rows")
    ap.add_argument("--report", action="store_true", help="print the table of the rows finished so far; train nothing")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.budget = "quick"
    if args.variants:
        bad = [v for v in args.variants if v not in VARIANTS]
        if bad:
            ap.error(f"--variants {' '.join(bad)}: unknown; choose from {', '.join(VARIANTS)}")
    return args


def budget_of(args: argparse.Namespace) -> Budget:
    b = BUDGETS[args.budget]
    if args.iters:
        from dataclasses import replace

        b = replace(b, iters=args.iters)
    return b


def cached_rows(out: Path, variants: Sequence[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Rows already scored in ``out/results`` (``--report``); unfinished variants are listed as such."""
    def load(slug: str) -> dict[str, Any] | None:
        p = out / "results" / f"{slug}.json"
        return json.loads(p.read_text()) if p.is_file() else None

    refs = {name: load("_input" if name.startswith("input") else "_layers") for name in REFERENCES}
    refs = {k: v for k, v in refs.items() if v is not None}
    results = []
    for v in variants:
        r = load(v.replace("+", "_").replace(",", "_"))
        results.append(r if r is not None else {"variant": v, "failed": "not finished yet"})
    return refs, results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.out = args.out.resolve()
    b = budget_of(args)
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        res = run_variant(args.out, args.child, b, args.device, not args.no_fid, vgg_available())
        say(json.dumps({k: res[k] for k in ("variant", "iters", "cpu_s")}))
        return 0
    import torch

    variants = args.variants or list(VARIANTS)
    load = os.getloadavg()[0]
    say(f"# bench_gan_quality: budget {args.budget} ({asdict(b)}), {len(variants)} variants, {args.jobs} at a time, "
        f"{args.threads} thread(s) each, device {args.device}; {os.cpu_count()} CPUs, load average {load:.1f}; "
        f"torch {torch.__version__}")
    t0 = time.monotonic()
    man = build_dataset(args.data, args.out, b, args.seed)
    say(f"# dataset {man['key']}: A {len(man['A'])} photos, B {len(man['B_rendered'])} rendered + "
        f"{len(man['B_real'])} real, test {len(man['test'])} + {len(man['real_pairs'])} real pairs, "
        f"{b.n_per_domain} crops per domain at {man['load_px']} px, test at {man['test_px']} px")
    if args.force:
        for v in variants:
            slug = v.replace("+", "_").replace(",", "_")
            for p in (args.out / "results" / f"{slug}.json", args.out / "runs" / slug):
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
    torch.set_num_threads(args.threads)
    if args.report:  # the table of what is finished so far, nothing trained or scored
        refs, results = cached_rows(args.out, variants)
    else:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # the reference rows take one slot (in this process) while the first variant trains in the other
            ref_job = pool.submit(reference_rows, args.out, not args.no_fid)
            jobs = [pool.submit(spawn, args, v, args.budget) for v in variants]
            refs = ref_job.result()
            results = [j.result() for j in jobs]
    failed = [r for r in results if "failed" in r]
    rows = list(refs.values()) + [r for r in results if "failed" not in r]
    baseline = refs[REFERENCES[0]]["mean"].get("psnr_gt") if REFERENCES[0] in refs else None
    lines = format_table(rows, baseline)
    lines += [f"{r['variant']}: {r['failed']}" for r in failed]
    lines.append(f"# reported: the final checkpoint (not the best seen); subject metrics inside the mask eroded by "
                 f"{ERODE:.0%} of the short side, no test-time overlay; FID/KID vs {b.n_per_domain} domain-B crops "
                 f"from {len(man['test']) + len(man['real_pairs'])} outputs (biased at this size: compare rows only); "
                 f"wall {time.monotonic() - t0:.0f} s this invocation")
    for ln in lines:
        say(ln)
    from gan_bokeh.io import atomic_write_text

    atomic_write_text(args.out / "table.txt", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "table.json", json.dumps(_finite({"budget": asdict(b), "dataset": man["key"],
                                                                   "rows": rows, "failed": failed}), indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
