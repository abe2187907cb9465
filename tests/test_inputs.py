"""Generators that see depth and mask (``model.inputs``): the dataset loads depth, the augmentation crops it
with its image, every objective trains with the extra channels, and the discriminators keep judging RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bokeh.config import load_config
from gan_bokeh.data import PairedAugment, augment_batch, collate_unpaired
from gan_bokeh.data.unpaired import UnpairedDataset
from gan_bokeh.errors import UserError
from gan_bokeh.io import read_jsonl, write_rgba
from gan_bokeh.train.checkpoint import load_checkpoint, load_generator
from gan_bokeh.train.config import TrainConfig
from gan_bokeh.train.loop import RunOptions, train

TINY = ["model.ngf=4", "model.ndf=4", "model.n_blocks=1", "data.load_size=36", "data.crop_size=32",
        "data.num_workers=0", "train.pool_size=3", "log.image_every=2", "log.latest_every=2", "log.save_every=3",
        "model.nce_mlp_dim=8", "train.nce_patches=16", "model.max_radius=4", "data.cache=false"]
GRAD = np.tile(np.arange(40, dtype=np.float32)[None, :] / 39, (40, 1))  # left near … right far


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RGBA photos whose grey value equals their depth file (A0 has no depth file: fallback)."""
    root = tmp_path_factory.mktemp("data") / "ds"
    for dom in "AB":
        d = root / f"train{dom}"
        d.mkdir(parents=True)
        for i in range(3):
            mask = np.zeros((40, 40), np.float32)
            mask[8:32, 12:30] = 1
            write_rgba(d / f"{dom}{i}.png", np.repeat(GRAD[..., None], 3, 2), mask)
            if (dom, i) != ("A", 0):
                np.save(d / f"{dom}{i}_depth.npy", GRAD * 7.0 + 3.0)  # raw units: normalised on load
    return root


def test_dataset_loads_depth_and_falls_back_to_the_mask_guess(dataset: Path) -> None:
    """A depth file is read (0 near … 1 far, min–max normalised); without one, the mask-based guess is used
    (catches a depth channel left out, mis-scaled, or raising for a missing file)."""
    ds = UnpairedDataset(dataset, load_size=40, need_depth=True)
    item = ds[(1, 1, 0, 0)]
    assert item["depth_A"].shape == (1, 40, 40) and item["depth_A"].dtype == torch.uint8
    assert np.allclose(item["depth_A"][0].numpy() / 255.0, GRAD, atol=1.5 / 255)
    assert "mask_A" not in item
    guess = ds[(0, 1, 0, 0)]["depth_A"][0].numpy() / 255.0
    assert not np.allclose(guess, GRAD, atol=0.05)  # not the file: the subject-plane + ground-ramp guess
    assert guess[35, 5] < guess[2, 5]  # the ramp: bottom rows near, top far


def test_depth_guess_reads_the_mask_in_the_photo_s_decode_and_opaque_alpha_is_no_mask(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Depth without a depth file and without ``need_masks``: each photo is decoded once (the guess takes
    its mask from the same decode), and a fully opaque alpha is "no mask" (the plain ramp), not a bad image.

    Fails on: a second decode just for the guess's mask; an opaque RGBA photo skipped as unreadable.
    """
    import gan_bokeh.data.unpaired as unpaired

    root = tmp_path / "ds"
    for dom in "AB":
        (root / f"train{dom}").mkdir(parents=True)
        write_rgba(root / f"train{dom}" / f"{dom}0.png", np.repeat(GRAD[..., None], 3, 2), np.ones((40, 40)))
    calls: list[str] = []
    real = unpaired.load_resized

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(unpaired, "load_resized", counting)
    item = UnpairedDataset(root, load_size=40, need_depth=True)[(0, 0, 0, 0)]
    assert "bad" not in item and "mask_A" not in item
    assert len(calls) == 2  # one decode per domain
    ramp = item["depth_A"][0].numpy().astype(np.float32)
    assert ramp[35, 5] < ramp[2, 5]  # the plain ground ramp: bottom near, top far


def test_augment_crops_depth_and_mask_with_their_image(dataset: Path) -> None:
    """The same random crop and flip reach image, mask and depth (catches depth cropped independently)."""
    ds = UnpairedDataset(dataset, load_size=40, need_depth=True, need_masks=True)
    batch = collate_unpaired([ds[(i, i, 0, i)] for i in (1, 2)])
    torch.manual_seed(3)
    out = augment_batch(batch, PairedAugment(24, flip=True), torch.device("cpu"))
    for dom in "AB":
        assert out[f"depth_{dom}"].shape == (2, 1, 24, 24) and out[f"mask_{dom}"].shape == (2, 1, 24, 24)
        grey = (out[dom][:, :1] + 1) / 2
        assert torch.allclose(grey, out[f"depth_{dom}"], atol=2 / 255)


@pytest.mark.parametrize(("config", "inputs"), [
    ("cyclegan", "[rgb, mask, depth]"), ("cut", "[rgb, depth]"), ("defocus", "[rgb, mask]")])
def test_objectives_train_with_extra_inputs(config: str, inputs: str, dataset: Path, tmp_path: Path) -> None:
    """Generators get 3 + k input channels, discriminators 3; two iterations run with finite losses
    (catches extras missing from a generator call, or fed to a discriminator)."""
    net = [] if config == "defocus" else ["model.generator=resnet"]  # a name fixing 9 blocks refuses n_blocks=1
    cfg = load_config(TrainConfig, config, overrides=[*TINY, *net, f"model.inputs={inputs}"])
    k = len(cfg.model.inputs) - 1
    train(cfg, RunOptions(data=dataset, run_dir=tmp_path / "run", max_iters=2, progress=False))
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert all(np.isfinite(v) for r in rows for v in r.values())
    state = load_checkpoint(tmp_path / "run")
    assert state["arch"]["G"]["kwargs"]["in_channels"] == 3 + k
    assert state["config"]["model"]["inputs"] == cfg.model.inputs
    first_conv = [v for n, v in state["nets"]["D_B"].items() if n.endswith("weight") and v.ndim == 4][0]
    assert first_conv.shape[1] == 3
    net, _ = load_generator(tmp_path / "run")
    assert net(torch.zeros(1, 3 + k, 32, 32)).shape == (1, 3, 32, 32)


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="model.inputs"):
        load_config(TrainConfig, "cyclegan", overrides=["model.inputs=[depth, rgb]"])


def test_missing_depth_dir_is_a_user_error(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="depth_dir"):
        UnpairedDataset(dataset, load_size=40, need_depth=True, depth_dir=tmp_path / "nope")


# -- generate ---------------------------------------------------------------------------------------------
def _save_run(root: Path, arch: dict, inputs: list[str], net: torch.nn.Module) -> Path:
    from gan_bokeh.train.checkpoint import save_checkpoint

    run = root / "run"
    save_checkpoint(run / "ckpt" / "latest.pt", {
        "iteration": 1, "epoch": 0, "arch": {"G": arch}, "nets": {"G": net.state_dict()},
        "config": {"data": {"crop_size": 32}, "test": {"mask_overlay": False}, "model": {"inputs": inputs}}})
    return run


def _defocus_run(root: Path, bias: float) -> Path:
    """A rendering generator whose map is constant: radius 0 (bias −20) or max_radius (bias +20)."""
    from gan_bokeh.nets import build_generator

    torch.manual_seed(0)
    arch = {"name": "defocus_resnet", "kwargs": {"ngf": 4, "n_blocks": 1, "max_radius": 4.0, "n_radii": 5}}
    net = build_generator(arch["name"], **arch["kwargs"])
    last = [m for m in net.predictor.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(bias)
    return _save_run(root, arch, ["rgb"], net)


def _hf(img: np.ndarray) -> float:
    return float(np.square(np.diff(img, axis=0)).mean() + np.square(np.diff(img, axis=1)).mean())


def test_rendering_generator_runs_at_full_resolution(tmp_path: Path) -> None:
    """The map is predicted at working size and the blur runs on the full photo: a zero map returns the
    full-resolution input exactly (no resize round trip), a full map blurs it by the scaled radius
    (catches the map not upsampled / not scaled by the size ratio, or the output taken at working size)."""
    from gan_bokeh.generate import FullResGenerator
    from gan_bokeh.render.differentiable import render_defocus

    img = np.random.default_rng(0).random((96, 144, 3), dtype=np.float32)  # working size 32 × 48: ratio 3
    sharp, _ = FullResGenerator.from_checkpoint(_defocus_run(tmp_path / "a", -20.0), device="cpu")
    assert sharp.renders and sharp.work_size == 32
    np.testing.assert_allclose(sharp(img), img, atol=1e-5)
    blur, _ = FullResGenerator.from_checkpoint(_defocus_run(tmp_path / "b", 20.0), device="cpu")
    out = blur(img)
    assert out.shape == img.shape
    t = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    want = render_defocus(t, torch.full((1, 1, 96, 144), 12.0), max_radius=12.0, n_radii=5)  # 4 px × 96/32
    np.testing.assert_allclose(out, want[0].permute(1, 2, 0).numpy(), atol=1e-4)
    assert _hf(out) < 0.1 * _hf(img)


def _inputs_run(root: Path) -> Path:
    from gan_bokeh.nets import build_generator

    torch.manual_seed(0)
    arch = {"name": "resnet_6blocks", "kwargs": {"in_channels": 5, "ngf": 4, "n_blocks": 1}}
    return _save_run(root, arch, ["rgb", "mask", "depth"], build_generator(arch["name"], **arch["kwargs"]))


def test_generate_feeds_mask_and_depth_to_the_generator(tmp_path: Path) -> None:
    """Different depth maps give different outputs, and a missing input is a one-line error (catches the
    extra channels dropped or zero-filled at generation)."""
    from gan_bokeh.generate import FullResGenerator

    gen, _ = FullResGenerator.from_checkpoint(_inputs_run(tmp_path), device="cpu")
    assert gen.inputs == ("rgb", "mask", "depth") and gen.needs_mask and gen.needs_depth
    img = np.random.default_rng(1).random((48, 64, 3), dtype=np.float32)
    mask = np.zeros((48, 64), np.float32)
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (12, 1))  # not constant: instance norm erases offsets
    near = gen.generate([img], subject_masks=[mask], depths=[ramp])[0]
    far = gen.generate([img], subject_masks=[mask], depths=[ramp[:, ::-1]])[0]
    assert near.shape == img.shape and np.abs(near - far).mean() > 1e-4
    with pytest.raises(UserError, match="depth"):
        gen.generate([img], subject_masks=[mask])


def test_cli_generate_says_where_mask_and_depth_came_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--depth DIR`` is used and reported; without it (and without MiDaS) the fallback is used and said."""
    from gan_bokeh.cli import main

    run = _inputs_run(tmp_path)
    src, depth_dir = tmp_path / "in", tmp_path / "depth"
    src.mkdir()
    depth_dir.mkdir()
    mask = np.zeros((40, 40), np.float32)
    mask[8:32, 12:30] = 1
    write_rgba(src / "p.png", np.repeat(GRAD[..., None], 3, 2), mask)
    np.save(depth_dir / "p_depth.npy", GRAD)
    assert main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o1"),
                 "--depth", str(depth_dir), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "1 done" in text and "mask from alpha channel ×1" in text and "depth from file ×1" in text
    assert main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o2"),
                 "--no-midas", "--device", "cpu"]) == 0
    assert "depth from fallback" in capsys.readouterr().out
    assert (tmp_path / "o2" / "p.png").is_file()


def _all_objectives() -> list[str]:
    """Every registered unpaired objective (the paired ones take another batch layout)."""
    from gan_bokeh.objectives.registry import load_builtin_objectives

    return sorted(n for n, c in load_builtin_objectives().items() if c.data_kind == "unpaired")


@pytest.mark.parametrize("name", _all_objectives())
def test_every_objective_steps_with_every_input_set(name: str) -> None:
    """Registry-wide (unpaired objectives): each builds from a tiny config and takes one finite step with the mask
    loss, and with mask + depth inputs (catches an objective that ignores ``model.inputs``)."""
    from gan_bokeh.objectives import build_objective

    gen = "defocus_resnet" if name == "defocus" else "resnet"
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1,
             "mask_A": mask, "mask_B": mask, "depth_A": torch.rand(2, 1, 32, 32, generator=g),
             "depth_B": torch.rand(2, 1, 32, 32, generator=g)}
    for inputs in ("[rgb]", "[rgb, mask, depth]"):
        cfg = load_config(TrainConfig, None, overrides=[*TINY, f"model.objective={name}", f"model.generator={gen}",
                                                        "train.lambda_mask=0.5", "train.mask_vgg_weight=0",
                                                        f"model.inputs={inputs}"])
        terms = build_objective(cfg, torch.device("cpu")).step(batch)
        assert terms and all(np.isfinite(v) for v in terms.values())


def test_compare_feeds_mask_and_depth_to_a_generator_that_takes_them(tmp_path: Path) -> None:
    """The report runs a generator trained with ``[rgb, mask, depth]`` with the input's mask and depth (catches
    the report calling it RGB-only: every cell failed "give it a mask" in the demo's report)."""
    from gan_bokeh.io import write_image, write_mask
    from gan_bokeh.report.compare import CompareOptions, build_report

    photos = tmp_path / "photos"
    photos.mkdir()
    img = np.random.default_rng(2).random((48, 64, 3), dtype=np.float32)
    write_image(photos / "p.png", img)
    mask = np.zeros((48, 64), np.float32)
    mask[10:40, 20:44] = 1.0
    write_mask(photos / "p.mask.png", mask)
    run = _inputs_run(tmp_path / "r")
    _, stats, _ = build_report(CompareOptions(inputs=[photos], out_dir=tmp_path / "report", runs=[run],
                                              methods=(), segment=False))
    assert stats["failed"] == 0 and stats["made"] >= 2
