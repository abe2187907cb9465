"""Smoke test of scripts/bench_gan_quality.py: its data building and one tiny variant, on a few real photos.

A handful of the shared photos are linked into a temporary folder with the shared layout (nothing is
copied into the repository), so the test stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: A few photos of each kind the benchmark uses (relative to the shared data folder).
SUBSET = [
    "u2net_human_seg/images/julia+trotti_17.jpg", "u2net_human_seg/masks/julia+trotti_17.png",
    "u2net_human_seg/images/Two_dancers.jpg", "u2net_human_seg/masks/Two_dancers.png",
    "u2net_human_seg/images/language_1280p.jpg", "u2net_human_seg/masks/language_1280p.png",
    "rembg_examples/girl-2.jpg", "rembg_examples/girl-2.out.png",
    "cihp_pgn/images/0002190.jpg", "cihp_pgn/labels/0002190.png",
    "mpib/new_11_all-in-focus.jpg", "mpib/new_11_disparity.jpg",
    "mpib/street_8_all-in-focus.jpg", "mpib/street_8_disparity.jpg",
    "bokehme/inputs/3.jpg", "bokehme/inputs/3.png",
    "vabm/VABD/train/1_8/0001.JPG", "vabm/VABD/train/focal/0001.png", "vabm/VABD/train/depth/0001.png",
    "vabm/EBB/train/input/2977.jpg", "vabm/EBB/train/target/2977.jpg", "vabm/EBB/train/focal/2977.jpg",
    "vabm/EBB/train/depth/2977.png",
]


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_gan_quality", ROOT / "scripts" / "bench_gan_quality.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_gan_quality"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mini_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shared")
    for rel in SUBSET:
        src = shared_data / rel
        if not src.is_file():
            pytest.skip(f"{src} missing")
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src)
    return root


def test_bench_builds_an_unpaired_task_and_scores_a_tiny_variant(mini_data: Path, tmp_path: Path) -> None:
    """Catches: test photos leaking into A or B, A and B sharing a photo, a ground truth that is not the
    ``layers`` render of the test input (the renderer row would not score ~100 dB against it), masks or
    depth not written for the trainer, a variant whose training or scoring breaks, and resumption that
    retrains instead of reusing the cached result."""
    bench = _load_bench()
    b = replace(bench.BUDGETS["quick"], iters=2, n_per_domain=4)
    out = tmp_path / "bench"
    man = bench.build_dataset(mini_data, out, b, seed=0)
    a, b_r, test = set(man["A"]), set(man["B_rendered"]), {t["name"] for t in man["test"]}
    assert a and b_r and test and man["real_pairs"] == ["ebb_2977"]
    assert not (a & b_r) and not (test & (a | b_r)), "the split must keep A, B and test disjoint"
    root = out / "dataset"
    crops = sorted((root / "trainA").glob("*[0-9].png"))
    assert len(crops) == 4 and all((root / "depth" / f"{p.stem}.npy").is_file() for p in crops)
    assert all(p.with_name(p.stem + ".mask.png").is_file() for p in crops)
    assert bench.build_dataset(mini_data, out, b, seed=0)["key"] == man["key"]  # reused, same key

    refs = bench.reference_rows(out, fid=False)
    inp, gt = refs[bench.REFERENCES[0]]["mean"], refs[bench.REFERENCES[1]]["mean"]
    assert gt["psnr_gt"] >= 99 and gt["bg_hf"] < 1.0, "the renderer row is the ground truth: blurred, exact"
    assert inp["subj_psnr"] >= 99 and math.isclose(inp["bg_hf"], 1.0)
    assert inp["psnr_gt"] < 60

    res = bench.run_variant(out, "defocus", b, "cpu", fid=False, vgg=False)
    assert res["iters"] == 2 and res["reported"] == "final" and res["cpu_s"] > 0
    m = res["mean"]
    for k in ("psnr_gt", "ssim_gt", "subj_psnr", "subj_ssim", "bg_hf", "psnr_real", "ssim_real"):
        assert m[k] is not None and np.isfinite(m[k]), k
    assert len(list((out / "outputs" / "defocus").rglob("*.png"))) == len(test) + 1
    again = bench.run_variant(out, "defocus", b, "cpu", fid=False, vgg=False)
    assert again.get("reused") is True and again["key"] == res["key"]
    lines = bench.format_table([refs[bench.REFERENCES[0]], res], inp["psnr_gt"])
    assert any(ln.startswith("defocus") for ln in lines)
    assert json.loads((out / "results" / "defocus.json").read_text())["variant"] == "defocus"
