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

import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from gan_bokeh.demo.config import (
    BUDGETS,
    LAYERS_BLUR,
    VARIANTS,
    DemoConfig,
    make_config,
)
from gan_bokeh.demo.dataset import selfie_segmenter, stage_dataset, stage_masks, stage_photos
from gan_bokeh.demo.outputs import output_sets, stage_compare, stage_evaluate, stage_generate, stage_render
from gan_bokeh.demo.scheduler import stage_train_all, train_overrides, vgg_available
from gan_bokeh.demo.stages import Stages, say
from gan_bokeh.demo.summary import (
    claim_check,
    format_summary,
    paper_test_overlay,
    summary_rows,
    write_summary,
)

__all__ = ["BUDGETS", "VARIANTS", "DemoConfig", "Stages", "claim_check", "format_summary", "forget_finished",
           "make_config", "output_sets", "run_demo", "summary_rows", "train_overrides"]

def forget_finished(out: Path) -> None:
    """``--force``: forget finished stages, the runs (which would otherwise resume at their end) and the
    report (whose cells would otherwise show the old generators)."""
    for d in (out / ".stages", out / "runs", out / "report"):
        if d.exists():
            shutil.rmtree(d)


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run (or resume) every stage; return the summary dict. Raises :class:`UserError` on a failed stage."""
    t_start = time.monotonic()
    cfg.out.mkdir(parents=True, exist_ok=True)
    if cfg.force:
        forget_finished(cfg.out)
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
    say(f"gan-bokeh demo: budget {cfg.budget}, {cfg.iters} iterations × {len(VARIANTS)} variants at "
         f"{cfg.size} px → {cfg.out}")

    stages.run("photos", {"size": cfg.source_px, "v": 2}, lambda: stage_photos(cfg), [cfg.out / "sources"])
    seg, why = selfie_segmenter(cfg.masks)  # resolved first: the masks' key names the backend used
    backend = getattr(seg, "name", "selfie") if seg is not None else "grabcut"
    _, masks_info = stages.run("masks", {"backend": backend, "v": 1}, lambda: stage_masks(cfg, seg, why),
                               [cfg.out / "sources"], after=["photos"])
    _, data_info = stages.run("dataset", {"n": cfg.n_per_domain, "size": cfg.size, "seed": cfg.seed, "v": 2},
                              lambda: stage_dataset(cfg), [cfg.out / "dataset" / "testA_depth"], after=["masks"])
    notes.append("Masks: " + "; ".join(f"{m['name']}: {m['method']}" for m in masks_info.get("masks", [])) + ".")
    notes.append("Domain A (all in focus): " + ", ".join(data_info.get("sources", {}).get("A", []))
                 + "; domain B: " + ", ".join(data_info.get("sources", {}).get("B", []))
                 + " given a shallow depth of field by the layers renderer (true stereo depth for the left "
                 "view, mask-only fallback depth otherwise); held-out test photos: "
                 + ", ".join(data_info.get("sources", {}).get("test", [])) + ".")
    n_images = max(int(data_info.get("trainA", cfg.n_per_domain)), int(data_info.get("trainB", 0)))
    stage_train_all(cfg, stages, n_images)

    metrics: dict[str, dict[str, Any]] = {}
    per_image: dict[str, list[dict[str, Any]]] = {}
    for name, what, overlay in output_sets():
        dest = cfg.out / "outputs" / name
        if overlay is None:
            made = f"render-{what}"
            stages.run(made, {"blur": LAYERS_BLUR, "v": 1}, lambda what=what, dest=dest: stage_render(cfg, what, dest),
                       [dest], after=["dataset"])
        else:
            made = f"generate-{name}"
            stages.run(made, {"overlay": overlay, "v": 1},
                       lambda what=what, overlay=overlay, dest=dest: stage_generate(cfg, what, overlay, dest),
                       [dest], after=["dataset", f"train-{what}"])
        _, ev = stages.run(f"evaluate-{name}", {"v": 2},
                           lambda dest=dest, name=name: stage_evaluate(cfg, dest, cfg.out / "metrics" / name),
                           [cfg.out / "metrics" / name / "metrics.json"], after=[made])
        metrics[name] = ev.get("mean", {})
        per_image[name] = ev.get("per_image", [])

    claims = claim_check(metrics, {v: paper_test_overlay(v) for v in VARIANTS}, per_image)
    # the report shows every output set and the claim check: it comes after all of them (derived keys)
    _, cmp_info = stages.run("compare", {"claims": claims, "v": 3}, lambda: stage_compare(cfg, notes + claims),
                             [cfg.out / "report" / "index.html"], after=list(stages.keys))
    report = cmp_info.get("report", str(cfg.out / "report" / "index.html"))
    timings = _stage_seconds(stages)
    timings["this_run_wall"] = round(time.monotonic() - t_start, 1)
    summary = write_summary(cfg, metrics, notes, claims, timings, report)

    say("")
    say(format_summary(metrics))
    say("")
    say("Paper claim (mask variants keep the subject better than plain CycleGAN, background blurred), "
         "paired per test image:")
    for c in claims:
        say(f"  {c}")
    for n in notes:
        say(f"note: {n}")
    say(f"stages: {len(stages.ran)} ran, {len(stages.reused)} reused; wall time this run "
         f"{timings['this_run_wall']:.0f} s")
    say(f"summary: {summary}")
    say(f"report:  {report}")
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
