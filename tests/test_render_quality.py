"""Renderers against real optics: f/16 inputs rendered with their depth vs the real f/1.8 photos.

``shared/data/vabm``: EBB! (``input/`` f/16, ``target/`` f/1.8) and VABD (``input/`` f/16, ``1_8/``
f/1.8), each with a Spectral-colour-mapped ``depth/`` (0 = near) and an in-focus ``focal/`` mask. Every
image is rendered with the *same* settings (library defaults; focus = median depth of the focal mask) at
768 px wide. PSNR/SSIM are reported raw and after a least-squares per-channel gain fit (the real pairs
differ slightly in exposure). The table is printed (``pytest -s``) and written to test-artifacts.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gan_bokeh.depth import load_depth
from gan_bokeh.evaluate import fit_gain, psnr
from gan_bokeh.io import read_image, read_mask
from gan_bokeh.render import render_image

WIDTH = 768
CONFIGS = {"input (no blur)": None, "gaussian (paper §3.2)": "gaussian", "layers (default)": "layers"}


def _cases(root: Path) -> list[tuple[str, Path, Path, Path, Path]]:
    ebb, vabd = root / "vabm" / "EBB" / "train", root / "vabm" / "VABD" / "train"
    cases = []
    for p in sorted((ebb / "input").glob("*.jpg")):
        cases.append((f"EBB {p.stem}", p, ebb / "target" / p.name, ebb / "depth" / f"{p.stem}.png",
                      ebb / "focal" / p.name))
    for p in sorted((vabd / "input").glob("*.JPG")):
        cases.append((f"VABD {p.stem}", p, vabd / "1_8" / p.name, vabd / "depth" / f"{p.stem}.png",
                      vabd / "focal" / f"{p.stem}.png"))
    return cases


def _small(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (WIDTH, round(h * WIDTH / w)), interpolation=cv2.INTER_AREA)


# The project's own metrics (gan_bokeh.evaluate) — the same numbers ``gan-bokeh evaluate --target`` reports.
gain_fit = fit_gain  # least-squares per-channel gain g_c = <p, t> / <p, p>, applied and clipped
_psnr = psnr


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0))


def _scores(pred: np.ndarray, target: np.ndarray) -> tuple[float, float, float, float]:
    fitted = gain_fit(pred, target)
    return _psnr(pred, target), _ssim(pred, target), _psnr(fitted, target), _ssim(fitted, target)


def test_layers_beat_the_papers_baseline_against_real_f18(shared_data, artifacts_dir):
    cases = _cases(shared_data)
    assert len(cases) == 6, [c[0] for c in cases]
    scores: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in CONFIGS}
    for _, inp, tgt, dep, foc in cases:
        image, target = _small(read_image(inp)), _small(read_image(tgt))
        depth = load_depth(dep, colormap="Spectral")
        mask = (_small(read_mask(foc)) > 0.5).astype(np.float32)
        for name, method in CONFIGS.items():
            out = image if method is None else render_image(image, method=method, mask=mask, depth=depth)[0]
            scores[name].append(_scores(out, target))
    lines = ["| method | " + " | ".join(c[0] for c in cases) + " | mean PSNR | mean SSIM | mean PSNR (gain fit)"
             " | mean SSIM (gain fit) |",
             "|---|" + "---|" * (len(cases) + 4)]
    means = {}
    for name, rows in scores.items():
        arr = np.array(rows)
        means[name] = arr.mean(axis=0)
        cells = " | ".join(f"{r[0]:.2f} / {r[1]:.3f}" for r in rows)
        m = means[name]
        lines.append(f"| {name} | {cells} | {m[0]:.2f} | {m[1]:.4f} | {m[2]:.2f} | {m[3]:.4f} |")
    table = "\n".join(["Renderers vs real f/1.8 photos (vabm train, 768 px wide; cells: PSNR / SSIM raw)", "",
                       *lines, ""])
    print("\n" + table)
    (artifacts_dir / "render_quality.md").write_text(table)
    layers, gauss, raw = means["layers (default)"], means["gaussian (paper §3.2)"], means["input (no blur)"]
    for i, metric in enumerate(("PSNR", "SSIM", "PSNR (gain fit)", "SSIM (gain fit)")):
        assert layers[i] > gauss[i], f"layers does not beat the Gaussian baseline on {metric}"
        assert layers[i] > raw[i], f"layers does not beat the unmodified input on {metric}"


def test_aperture_control_follows_real_f_numbers(shared_data, artifacts_dir):
    """VABD has the same scenes at f/1.8 and f/2.8: rendering with ``aperture=2.8`` must match the real
    f/2.8 photos better than the f/1.8 setting does (mean PSNR and SSIM over the scenes)."""
    vabd = shared_data / "vabm" / "VABD" / "train"
    inputs = sorted((vabd / "input").glob("*.JPG"))
    assert inputs
    rows: dict[tuple[str, float], list[tuple[float, float, float, float]]] = {}
    for inp in inputs:
        image = _small(read_image(inp))
        depth = load_depth(vabd / "depth" / f"{inp.stem}.png", colormap="Spectral")
        mask = (_small(read_mask(vabd / "focal" / f"{inp.stem}.png")) > 0.5).astype(np.float32)
        renders = {a: render_image(image, method="layers", mask=mask, depth=depth, aperture=a)[0]
                   for a in (1.8, 2.8)}
        for real in ("1_8", "2_8"):
            target = _small(read_image(vabd / real / inp.name))
            for a, out in renders.items():
                rows.setdefault((real, a), []).append(_scores(out, target))
    lines = ["| real photo | render aperture | PSNR | SSIM | PSNR (gain fit) | SSIM (gain fit) |",
             "|---|---|---|---|---|---|"]
    means = {}
    for (real, a), vals in sorted(rows.items()):
        m = means[(real, a)] = np.array(vals).mean(axis=0)
        lines.append(f"| f/{real.replace('_', '.')} | {a} | {m[0]:.2f} | {m[1]:.4f} | {m[2]:.2f} | {m[3]:.4f} |")
    table = "\n".join(["Aperture control on VABD (3 scenes, 768 px, means)", "", *lines, ""])
    print("\n" + table)
    (artifacts_dir / "render_aperture.md").write_text(table)
    assert means[("2_8", 2.8)][0] > means[("2_8", 1.8)][0]
    assert means[("2_8", 2.8)][1] > means[("2_8", 1.8)][1]
