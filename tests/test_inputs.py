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
    cfg = load_config(TrainConfig, config, overrides=[*TINY, f"model.inputs={inputs}"])
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
