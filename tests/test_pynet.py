"""Paired learned bokeh (PyNET): the paired dataset, the level losses, level-by-level training with exact
mid-level resume on the shared real pairs, and full-resolution generation. Tiny widths and 128-px crops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bokeh import losses
from gan_bokeh.cli import main as cli_main
from gan_bokeh.config import load_config
from gan_bokeh.data import PairedDataset, collate_paired
from gan_bokeh.errors import UserError
from gan_bokeh.io import read_image, read_jsonl, write_image
from gan_bokeh.objectives import OBJECTIVES, objective_class
from gan_bokeh.objectives.pynet import level_at_epoch, prepare_paired
from gan_bokeh.train.checkpoint import load_checkpoint
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.loop import RunOptions, train

# Levels 7 (coarse loss) and 1 (fine loss: L1 + SSIM), 1 + 2 epochs, 3 batches of 2 pairs per epoch.
SMOKE = ["model.ngf=4", "data.cache=false", "pynet.levels=[7, 1]", "pynet.level_epochs=[1, 2]",
         "log.latest_every=1000", "log.save_every=1000", "log.image_every=1000"]


def _write_pairs(root: Path, layout: str, n: int = 3, size: tuple[int, int] = (136, 200)) -> None:
    rng = np.random.default_rng(1)
    inp, tgt = ("original", "bokeh") if layout == "ebb" else ("input", "1_8")
    for i in range(n):
        img = rng.random((*size, 3)).astype(np.float32)
        ext = ".jpg" if layout == "ebb" else ".JPG"
        write_image(root / "train" / inp / f"{i:04d}{ext}", img)
        write_image(root / "train" / tgt / f"{i:04d}{ext}", img)  # target = input: crops must coincide
        write_image(root / "train" / "depth" / f"{i:04d}.png", img[..., :1].repeat(3, axis=2))


def test_paired_dataset_layouts_aligned_crops_and_bad_pairs(tmp_path: Path) -> None:
    """Both layouts (VABD's upper-case .JPG too), stem matching, identical input/target windows, crops
    reproducible from the key, and a size-mismatched or undecodable pair reported as bad (not raised).
    Catches: misaligned crops, a crop drawn from a non-key RNG, pairs matched by position, a crash on a bad pair."""
    _write_pairs(tmp_path / "multi" / "EBB", "ebb")
    _write_pairs(tmp_path / "multi" / "VABD", "vabd")
    ds = PairedDataset(tmp_path / "multi", crop_size=64, need_depth=True)
    assert len(ds) == 6
    a, b = ds[(4, 0, 3, 5)], ds[(4, 0, 3, 5)]
    assert torch.equal(a["input"], b["input"]) and torch.equal(a["input"], a["target"])
    assert a["input"].shape == (3, 64, 64) and a["depth"].shape == (1, 64, 64)
    others = [ds[(4, 0, e, 5)]["input"] for e in range(4, 8)]
    assert any(not torch.equal(a["input"], o) for o in others)  # another epoch, another window
    # a shifted target (different size) and a truncated input
    bad_dir = tmp_path / "bad"
    _write_pairs(bad_dir, "ebb", n=2)
    write_image(bad_dir / "train" / "bokeh" / "0000.jpg", np.zeros((130, 200, 3), np.float32))
    (bad_dir / "train" / "original" / "0001.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    bad = PairedDataset(bad_dir, crop_size=64)
    batch = collate_paired([bad[(0, 0, 0, 0)], bad[(1, 0, 0, 1)]])
    assert batch["input"] is None and len(batch["bad"]) == 2
    assert "its target" in batch["bad"][0][1]
    with pytest.raises(UserError, match="no paired photos"):
        PairedDataset(tmp_path / "multi" / "EBB" / "train" / "depth", crop_size=64)


def test_level_losses_and_geometry() -> None:
    """Coarse levels: L1 only; the fine level adds SSIM (and content with a VGG); all zero for a perfect
    output. The net input is half the crop and the target is scaled to the level. Catches: a fine term at a
    coarse level, SSIM on the wrong scale, a target at the wrong size."""
    t = torch.rand(2, 3, 32, 32) * 2 - 1
    coarse = losses.pynet_level_loss(t.clone(), t, fine=False)
    assert set(coarse) == {"l1"} and float(coarse["l1"]) == 0.0
    vgg = torch.nn.Conv2d(3, 4, 3)
    fine = losses.pynet_level_loss(t.clone(), t, fine=True, vgg=vgg)
    assert set(fine) == {"l1", "content", "ssim"} and all(abs(float(v.detach())) < 1e-5 for v in fine.values())
    off = losses.pynet_level_loss(-t, t, fine=True, content_weight=0)
    assert set(off) == {"l1", "ssim"} and float(off["ssim"]) > 1.0
    batch = {"input": torch.zeros(2, 3, 128, 128, dtype=torch.uint8),
             "target": torch.full((2, 3, 128, 128), 255, dtype=torch.uint8), "depth": torch.zeros(2, 1, 128, 128)}
    for level, side in ((1, 128), (2, 64), (7, 2)):
        out = prepare_paired(batch, level, torch.device("cpu"), depth=True)
        assert out["x"].shape == (2, 4, 64, 64) and out["target"].shape == (2, 3, side, side)
        assert float(out["x"].min()) == -1.0 and float(out["target"].max()) == 1.0


def test_config_and_registry() -> None:
    """``pynet`` is a registered objective with paired data; the level schedule maps epochs to levels;
    bad level settings are one-line errors."""
    assert "pynet" in OBJECTIVES and objective_class("pynet").data_kind == "paired"
    cfg = load_config(TrainConfig, "pynet_ebb")
    assert [level_at_epoch(cfg, e)[0] for e in (0, 19, 20, 134, 999)] == [7, 7, 6, 1, 1]
    assert cfg.needs_vgg and not load_config(TrainConfig, "pynet_cpu").needs_vgg
    for bad, msg in ((["pynet.levels=[1, 7]", "pynet.level_epochs=[1, 1]"], "coarse to fine"),
                     (["pynet.level_epochs=[1]"], "one count"), (["data.crop_size=96"], "multiple of 64")):
        with pytest.raises(UserError, match=msg):
            load_config(TrainConfig, "pynet_cpu", overrides=bad)


def test_smoke_training_on_real_pairs_resume_mid_level_and_generate(shared_data: Path, tmp_path: Path) -> None:
    """The CPU config on the six shared real pairs (EBB! + VABD, depth read through the Spectral colour map):
    levels in order, a stop in the middle of level 1 and a resume that reproduces the uninterrupted run's
    losses and weights exactly, then ``gan-bokeh generate`` at the photo's full size and ``compare --runs``.
    Catches: the level not restored on resume, fresh optimiser moments mid-level, crops that shift after a
    resume, a wrong output size, a paired run the report cannot load. (Six pairs say nothing about quality.)
    """
    data = shared_data / "vabm"
    over = [*SMOKE, "model.inputs=[rgb,depth]", "data.depth_colormap=Spectral"]
    cfg = load_config(TrainConfig, "pynet_cpu", overrides=over)
    full = train(cfg, RunOptions(data=data, run_dir=tmp_path / "full", progress=False))
    assert full.reason == "done" and full.iteration == 9
    rows = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    assert [r["level"] for r in rows] == [7] * 3 + [1] * 6
    assert set(rows[0]) - {"epoch", "iter", "lr", "level"} == {"l1"}
    assert set(rows[-1]) - {"epoch", "iter", "lr", "level"} == {"l1", "ssim"}
    part = train(cfg, RunOptions(data=data, run_dir=tmp_path / "part", max_iters=5, progress=False))
    assert part.reason == "max_iters" and load_checkpoint(part.checkpoint)["level"] == 1
    res = train(cfg, RunOptions(data=data, run_dir=tmp_path / "part", resume=True, progress=False))
    assert res.iteration == 9
    again = read_jsonl(tmp_path / "part" / "metrics.jsonl")
    assert [r["l1"] for r in again] == [r["l1"] for r in rows]
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "part")
    assert all(torch.equal(a["nets"]["G"][k], b["nets"]["G"][k]) for k in a["nets"]["G"])

    photo = data / "EBB" / "train" / "input" / "2977.jpg"
    out = tmp_path / "gen"
    rc = cli_main(["generate", "--checkpoint", str(tmp_path / "full"), "--input", str(photo), "--out", str(out),
                   "--no-overlay", "--depth", str(data / "EBB" / "train" / "depth"), "--depth-colormap", "Spectral",
                   "--tile", "320"])
    assert rc == 0
    y = read_image(out / "2977.jpg")
    assert y.shape == read_image(photo).shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    # the report shows the paired run beside a renderer (depth from the report's --depth folder)
    rep = tmp_path / "report"
    assert cli_main(["compare", "--input", str(photo), "--out", str(rep), "--runs", str(tmp_path / "full"),
                     "--methods", "average", "--no-segment", "--max-size", "256",
                     "--depth", str(data / "EBB" / "train" / "depth"), "--depth-colormap", "Spectral"]) == 0
    assert "full (paired)" in (rep / "index.html").read_text()
    # a --depth folder without this photo's map: one-line user error, exit 2
    assert cli_main(["generate", "--checkpoint", str(tmp_path / "full"), "--input", str(photo),
                     "--out", str(tmp_path / "gen2"), "--no-overlay", "--depth", str(tmp_path)]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_ddp_two_processes_across_a_level_boundary(tmp_path: Path) -> None:
    """2-process torchrun (gloo on CPU) through level 7 into level 1: only rank 0 logs, levels advance
    together. Catches DDP without find_unused_parameters (a level leaves layers out of the graph)."""
    _write_pairs(tmp_path / "pairs", "ebb", n=4)
    sets = [*SMOKE, "pynet.level_epochs=[1, 1]", "train.batch_size=1", "data.load_size=0"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gan_bokeh",
           "train", "--config", "pynet_cpu", "--data", str(tmp_path / "pairs"), "--name", "ddp", "--out",
           str(tmp_path), "--device", "cpu", "--max-iters", "3", *[a for s in sets for a in ("--set", s)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = read_jsonl(tmp_path / "ddp" / "metrics.jsonl")
    assert [r["level"] for r in rows] == [7, 7, 1]  # 4 pairs / (batch 1 x 2 ranks) = 2 steps per epoch
    assert load_checkpoint(tmp_path / "ddp")["world_size"] == 2
