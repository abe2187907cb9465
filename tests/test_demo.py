"""``gan-bokeh demo``: the demonstration set and the end-to-end smoke run (the project's end-to-end test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gan_bokeh.cli import main
from gan_bokeh.demo import data as demo_data
from gan_bokeh.demo.pipeline import VARIANTS, Stages, claim_check, make_config, output_sets, train_overrides


# --------------------------------------------------------------------------------------------- unit tests
def test_sources_load_offline_and_roles_are_disjoint():
    names = [s.name for s in demo_data.SOURCES]
    assert len(names) == len(set(names))
    roles = {r: {s.name for s in demo_data.SOURCES if s.role == r} for r in ("A", "B", "test")}
    assert all(roles.values()), roles
    assert not (roles["A"] & roles["B"]) and not (roles["test"] & (roles["A"] | roles["B"]))
    for src in demo_data.SOURCES:  # every photo ships inside an installed wheel: nothing is downloaded
        img, depth = demo_data.load_photo(src, 48)
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) == 48
        assert img.min() >= 0.0 and img.max() <= 1.0
        if depth is not None:
            assert depth.shape == img.shape[:2] and depth.min() >= 0.0 and depth.max() <= 1.0


def test_grabcut_finds_a_centred_subject():
    rng = np.random.default_rng(0)
    h = w = 96
    img = rng.uniform(0.0, 0.35, (h, w, 3)).astype(np.float32)  # dark texture
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 48) ** 2 + (xx - 48) ** 2 < 22 ** 2
    img[disc] = [0.9, 0.6, 0.2]
    mask = demo_data.grabcut_subject_mask(img)
    assert mask.shape == (h, w) and mask.dtype == np.float32
    iou = (mask.astype(bool) & disc).sum() / (mask.astype(bool) | disc).sum()
    assert iou > 0.8, iou


def test_disparity_to_depth_is_inverted_and_fills_unknown():
    disp = np.array([[10.0, 20.0], [np.inf, 40.0]], np.float32)
    depth = demo_data.disparity_to_depth(disp)
    assert depth[0, 0] > depth[0, 1] > depth[1, 1]  # larger disparity = nearer = smaller depth
    assert depth[1, 0] == 1.0


def test_augment_pair_keeps_image_and_mask_aligned():
    rng = np.random.default_rng(1)
    img = np.zeros((60, 90, 3), np.float32)
    img[:, 45:] = 1.0
    mask = img[..., 0].copy()
    for _ in range(5):
        a, m = demo_data.augment_pair(img, mask, rng, 32, jitter=False)
        assert a.shape == (32, 32, 3) and m.shape == (32, 32)
        np.testing.assert_allclose(a[..., 0], m, atol=1e-5)


def test_stage_markers_reuse_only_on_same_key(tmp_path: Path):
    calls = []
    stages = Stages(tmp_path)
    stages.run("x", {"a": 1}, lambda: calls.append(1) or {"n": 1})
    stages.run("x", {"a": 1}, lambda: calls.append(2) or {"n": 2})
    assert calls == [1] and stages.reused == ["x"]
    _, info = stages.run("x", {"a": 2}, lambda: calls.append(3) or {"n": 3})
    assert calls == [1, 3] and info == {"n": 3}
    assert json.loads((tmp_path / ".stages" / "x.done").read_text())["info"] == {"n": 3}
    # a stage whose outputs were deleted runs again even though its key is unchanged
    out = tmp_path / "made"
    stages.run("y", {}, lambda: out.mkdir() or {}, [out])
    out.rmdir()
    stages.run("y", {}, lambda: calls.append(4) or out.mkdir() or {}, [out])
    assert calls[-1] == 4 and out.is_dir()


def test_mask_loss_variants_drop_vgg_only_without_weights(tmp_path: Path):
    cfg = make_config(tmp_path, "smoke")
    no_vgg = cfg.__class__(**{**cfg.__dict__, "vgg": False})
    with_vgg = cfg.__class__(**{**cfg.__dict__, "vgg": True})
    assert "train.mask_vgg_weight=0" in train_overrides(no_vgg, "mask_loss", 8)
    assert "train.mask_vgg_weight=0" in train_overrides(no_vgg, "mask_loss_overlay", 8)
    assert "train.mask_vgg_weight=0" not in train_overrides(no_vgg, "cyclegan", 8)
    assert "train.mask_vgg_weight=0" not in train_overrides(with_vgg, "mask_loss", 8)


def _rows(values: list[float]) -> list[dict]:
    return [{"name": f"t{i}.png", "subject_psnr": v} for i, v in enumerate(values)]


def test_claim_check_pairs_images_and_words_the_verdict_by_the_interval():
    """The verdict comes from a paired bootstrap interval over the test images with n printed: a clear gain
    holds, a mixed one is "not established", a loss does not hold, a pasted subject draws no conclusion, a
    blurred-less background fails (catches a verdict from a comparison of means)."""
    m = {"cyclegan": {"bg_hf_ratio": 0.5}, "mask_loss": {"bg_hf_ratio": 0.6},
         "mask_overlay": {"bg_hf_ratio": 0.6}, "mask_overlay+overlay": {"bg_hf_ratio": 0.6},
         "mask_loss_overlay": {"bg_hf_ratio": 0.6}}
    per = {"cyclegan": _rows([20, 21, 22]), "mask_loss": _rows([25, 26, 27]),
           "mask_overlay": _rows([10, 30, 20]), "mask_overlay+overlay": _rows([100, 100, 100]),
           "mask_loss_overlay": _rows([15, 16, 17])}
    lines = claim_check(m, {"mask_overlay": True}, per)
    assert len(lines) == 5 and lines[4] == "portrait_bokeh (generator alone): metrics missing"
    assert lines[0].startswith("mask_loss (generator alone)") and "n=3" in lines[0]
    assert "bootstrap interval" in lines[0] and lines[0].endswith("claim holds on this set")
    assert lines[1].startswith("mask_overlay+overlay (paper setting") and "by construction" in lines[1]
    assert "holds" not in lines[1]
    assert lines[2].startswith("mask_overlay (generator alone)") and lines[2].endswith("interval includes 0)")
    assert lines[3].endswith("claim does NOT hold on this set")
    m["mask_loss"]["bg_hf_ratio"] = 1.2
    assert "not blurred" in claim_check(m, {}, per)[0] and "does NOT hold" in claim_check(m, {}, per)[0]
    assert "too few to judge" in claim_check(m, {}, {"cyclegan": _rows([1]), "mask_loss": _rows([2])})[0]
    m["mask_loss"]["bg_hf_ratio"] = 0.6  # a generator that leaves every subject untouched (renders around it)
    kept = claim_check(m, {}, {"cyclegan": _rows([20, 21]), "mask_loss": _rows([100, 100])})[0]
    assert "identical to the input in all n=2" in kept and kept.endswith("claim holds on this set")
    m["mask_loss"]["bg_hf_ratio"] = 0.6
    tiny = claim_check(m, {}, {"cyclegan": _rows([20, 21, 22]), "mask_loss": _rows([20.01, 21.01, 22.01])})[0]
    assert "negligible" in tiny and "holds" not in tiny  # a consistent +0.01 dB is not a result


def test_summary_marks_pasted_sets_and_counts_identical_images():
    from gan_bokeh.demo.pipeline import format_summary

    text = format_summary({"render-gaussian": {"subject_psnr_identical": 3, "bg_hf_ratio": 0.1},
                           "render-layers": {"subject_psnr": 31.0}, "cyclegan+overlay": {},
                           "cyclegan": {"subject_psnr": 20.0}})
    rows = {ln.split()[0]: ln for ln in text.splitlines()[2:6]}
    assert "pasted" in rows["render-gaussian"] and "+3=" in rows["render-gaussian"]
    assert "generated" in rows["render-layers"] and "pasted" in rows["cyclegan+overlay"]
    assert "generated" in rows["cyclegan"]


def test_cli_rejects_bad_options_in_one_line(capsys, tmp_path: Path):
    assert main(["demo", "--out", str(tmp_path), "--size", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size 30" in err[0]
    assert main(["demo", "--out", str(tmp_path), "--iters", "0"]) == 2


# --------------------------------------------------------------------------------------------- end to end
def _mask_mode() -> str:
    """Use the offline person segmenter when its model is already cached; never fetch it in a test."""
    try:
        from gan_bokeh.segment.model_files import selfie_model_path

        selfie_model_path(download=False)
        return "auto"
    except Exception:  # noqa: BLE001 - not cached / segment room missing: GrabCut fallback
        return "grabcut"


@pytest.mark.slow
def test_smoke_demo_end_to_end_and_resume(tmp_path: Path, capsys, artifacts_dir: Path):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--budget", "smoke", "--masks", _mask_mode()]
    assert main(argv) == 0
    first = capsys.readouterr().out

    report = out / "report" / "index.html"
    assert report.is_file() and "<img" in report.read_text()
    assert f"report:  {report}" in first
    summary = json.loads((out / "summary.json").read_text())
    names = [name for name, _, _ in output_sets()]
    assert set(summary["metrics"]) == set(names)
    for name in names:
        mean = summary["metrics"][name]
        has_subject = mean.get("subject_psnr") is not None or mean.get("subject_psnr_identical")
        assert has_subject and mean.get("bg_hf_ratio") is not None, (name, mean)
        assert (out / "metrics" / name / "metrics.json").is_file()
    assert len(summary["claim"]) == len(VARIANTS)  # mask_overlay is judged with and without overlay
    assert "subject PSNR" in first and "bg HF ratio" in first
    # the dataset: unpaired domains, held-out test photos, masks beside every image
    ds = out / "dataset"
    for split in ("trainA", "trainB", "testA"):
        imgs = [p for p in (ds / split).glob("*.png") if not p.name.endswith(".mask.png")]
        assert imgs and all(p.with_name(p.stem + ".mask.png").is_file() for p in imgs)
    src = lambda split: {p.stem.rsplit("_", 1)[0] for p in (ds / split).glob("*.png")}  # noqa: E731
    assert not ({s.split("_r")[0] for s in src("trainB")} & src("trainA"))
    for v in VARIANTS:
        assert (out / "runs" / v / "ckpt" / "latest.pt").is_file()
    shutil.copy(out / "summary.md", artifacts_dir / "demo_smoke_summary.md")

    # a second run reuses every stage
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert "[stage]" not in second and "0 ran" in second


def test_force_forgets_stages_runs_and_report(tmp_path: Path):
    """``demo --force`` after ``--iters N`` must not leave the old report behind (catches a report kept)."""
    from gan_bokeh.demo.pipeline import forget_finished

    for d in (".stages", "runs", "report", "dataset"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x").write_text("old")
    forget_finished(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # the data set is rebuilt only if it changed
