"""The demo's output stages: generate, render, evaluate and the ``compare`` report (library calls)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from gan_bokeh.demo.config import LAYERS_BLUR, RENDER_METHODS, VARIANTS, DemoConfig
from gan_bokeh.demo.stages import progress
from gan_bokeh.errors import UserError


def output_sets() -> list[tuple[str, str, bool | None]]:
    """``(set name, variant or render method, test-time overlay)`` for every output set, report order."""
    sets: list[tuple[str, str, bool | None]] = [(f"render-{m}", m, None) for m in RENDER_METHODS]
    for v in VARIANTS:
        sets += [(v, v, False), (f"{v}+overlay", v, True)]
    return sets


def stage_generate(cfg: DemoConfig, variant: str, overlay: bool, dest: Path) -> dict[str, Any]:
    from gan_bokeh.batch.generate import GenerateJob, generate_files

    test = cfg.out / "dataset" / "testA"
    if dest.exists():
        shutil.rmtree(dest)
    res = generate_files([test], GenerateJob(checkpoint=cfg.out / "runs" / variant, out=dest, overlay=overlay,
                                             mask=cfg.out / "dataset" / "testA_masks", device="cpu"),
                         progress=sys.stderr.isatty())
    if res.exit_code:
        raise UserError(f"generate {variant}: {res.summary()}; first failure: {res.failed[0][1]}")
    return {"variant": variant, "overlay": overlay, "images": len(list(dest.glob("*.png")))}


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
    bar = progress(len(files), f"render {method}")
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
    return {"mean": result["mean"], "per_image": result["per_image"], "notes": result["notes"]}


def stage_compare(cfg: DemoConfig, notes: list[str]) -> dict[str, Any]:
    """The ``compare`` report of the test photos, with the demo's notes and its ``layers`` blur strength."""
    from gan_bokeh.io import list_images, read_image
    from gan_bokeh.report import CompareOptions, build_report

    report = cfg.out / "report"
    root = cfg.out / "dataset"
    tests = list_images(root / "testA")
    short = min(min(read_image(p).shape[:2]) for p in tests)
    build_report(CompareOptions(
        inputs=[root / "testA"], out_dir=report, runs=[cfg.out / "runs" / v for v in VARIANTS],
        methods=RENDER_METHODS, mask_dir=root / "testA_masks", depth_dir=root / "testA_depth", max_images=0,
        device="cpu", segment=False, progress=sys.stderr.isatty(),
        render_options={"layers": {"max_blur": round(LAYERS_BLUR * short, 2)}}, notes=notes))
    return {"report": str(report / "index.html")}
