"""The demo's data stages: sample photos, subject masks, and the augmented unpaired data set."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan_bokeh.demo.config import DemoConfig
from gan_bokeh.demo.stages import progress, say
from gan_bokeh.errors import UserError, first_line


def stage_photos(cfg: DemoConfig) -> dict[str, Any]:
    import numpy as np

    from gan_bokeh.demo.data import SOURCES, load_photo
    from gan_bokeh.io import write_image

    d = cfg.out / "sources"
    recs = []
    bar = progress(len(SOURCES), "photos")
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


def selfie_segmenter(mode: str) -> tuple[Any | None, str]:
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
    bar = progress(len(SOURCES), "masks")
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
        say(f"  mask {r['name']:<18} {r['method']}  (subject {100 * r['subject_fraction']:.0f} % of frame)")
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
    bar = progress(2 * cfg.n_per_domain + n_test + 4, "dataset")
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
