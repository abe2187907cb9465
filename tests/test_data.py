"""Unpaired dataset: masks (RGBA alpha / sidecar), identical image+mask transforms, bad files, order."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bokeh.data import (
    UnpairedBatchSampler,
    UnpairedDataset,
    augment_pair,
    collate_unpaired,
    image_to_tensor,
    images_to_tensor,
    mask_to_tensor,
    tensor_to_images,
    tensor_to_masks,
)
from gan_bokeh.errors import UserError
from gan_bokeh.io import write_image, write_mask, write_rgba


def _image_with_mask_in_red(rng: np.random.Generator, h: int = 40, w: int = 52) -> tuple[np.ndarray, np.ndarray]:
    """Red channel == mask, so alignment of image and mask survives any crop/flip check."""
    mask = np.zeros((h, w), np.float32)
    mask[8:30, 10 + int(rng.integers(0, 10)):40] = 1.0
    img = rng.random((h, w, 3)).astype(np.float32)
    img[..., 0] = mask
    return img, mask


def make_dataset(root: Path, n_a: int = 3, n_b: int = 2, sidecar_b: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for dom, n in (("A", n_a), ("B", n_b)):
        d = root / f"train{dom}"
        d.mkdir(parents=True)
        for i in range(n):
            img, mask = _image_with_mask_in_red(rng)
            if dom == "B" and sidecar_b:
                write_image(d / f"b{i}.png", img)
                write_mask(d / f"b{i}.mask.png", mask)
            else:
                write_rgba(d / f"{dom.lower()}{i}.png", img, mask)
    return root


def test_tensor_helpers_roundtrip() -> None:
    img = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    t = image_to_tensor(img)
    assert t.shape == (1, 3, 5, 6) and t.min() >= -1 and t.max() <= 1
    np.testing.assert_allclose(tensor_to_images(t)[0], img, atol=1e-6)
    assert images_to_tensor(img[None]).shape == (1, 3, 5, 6)
    m = (img[..., 0] > 0.5).astype(np.float32)
    np.testing.assert_array_equal(tensor_to_masks(mask_to_tensor(m))[0], m)
    with pytest.raises(ValueError, match="H, W, 3"):
        images_to_tensor(img)


def test_augment_is_identical_for_image_and_mask() -> None:
    rng = np.random.default_rng(1)
    img, mask = _image_with_mask_in_red(rng)
    for seed in range(8):
        a, m = augment_pair(img, mask, load_size=48, crop_size=32, flip=True, rng=np.random.default_rng(seed))
        assert a.shape == (32, 32, 3) and m.shape == (32, 32) and a.dtype == np.float32
        np.testing.assert_allclose(a[..., 0], m, atol=1e-6)


def test_dataset_rgba_and_sidecar_masks_aligned(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    ds = UnpairedDataset(root, load_size=40, crop_size=32, need_masks=True, seed=3)
    assert (ds.n_a, ds.n_b, len(ds)) == (3, 2, 3)
    for key in [(0, 1, 0, 0), (2, 0, 1, 5)]:
        item = ds[key]
        assert item["A"].shape == (3, 32, 32) and item["mask_A"].shape == (1, 32, 32)
        for dom in "AB":  # red channel (mapped back to [0, 1]) equals the mask after the same crop/flip
            torch.testing.assert_close((item[dom][0] + 1) / 2, item[f"mask_{dom}"][0], atol=1e-5, rtol=0)
    assert torch.equal(ds[(1, 1, 0, 2)]["A"], ds[(1, 1, 0, 2)]["A"])  # deterministic per key


def test_corrupt_image_is_reported_not_fatal(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    bad = root / "trainA" / "a1.png"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    ds = UnpairedDataset(root, load_size=40, crop_size=32, need_masks=False)
    batch = collate_unpaired([ds[(0, 0, 0, 0)], ds[(1, 0, 0, 1)]])
    assert batch["A"].shape == (1, 3, 32, 32)
    assert [p for p, _ in batch["bad"]] == [str(bad)]
    assert collate_unpaired([ds[(1, 0, 0, 1)]])["A"] is None


def test_missing_masks_say_how_to_make_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_dataset(tmp_path / "ds")
    for p in (root / "trainB").glob("*.mask.png"):
        p.unlink()
    with pytest.raises(UserError, match=r"no subject masks.*gan-bokeh segment .*trainB --format rgba"):
        UnpairedDataset(root, need_masks=True)
    UnpairedDataset(root, need_masks=False, load_size=40, crop_size=32)  # fine without masks
    # one image without a mask: left out with a warning
    write_mask(root / "trainB" / "b0.mask.png", np.ones((40, 52), np.float32))
    with caplog.at_level(logging.WARNING):
        ds = UnpairedDataset(root, need_masks=True, load_size=40, crop_size=32)
    assert ds.n_b == 1 and "have no mask" in caplog.text


def test_rgba_copy_replaces_jpeg_of_same_stem(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", sidecar_b=False)
    img = np.zeros((40, 52, 3), np.float32)
    write_image(root / "trainA" / "a0.jpg", img)  # `segment --format rgba` wrote a0.png beside it
    ds = UnpairedDataset(root, need_masks=True, load_size=40, crop_size=32)
    assert [p.name for p in ds.paths["A"]] == ["a0.png", "a1.png", "a2.png"]


def test_user_errors_for_folders(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        UnpairedDataset(tmp_path / "nope")
    (tmp_path / "trainA").mkdir()
    with pytest.raises(UserError, match="trainB: no such folder"):
        UnpairedDataset(tmp_path)
    (tmp_path / "trainB").mkdir()
    with pytest.raises(UserError, match="trainA: no images"):
        UnpairedDataset(tmp_path)


def test_sampler_deterministic_resumable_and_sharded() -> None:
    full = list(UnpairedBatchSampler(7, 5, batch_size=2, seed=1, epoch=3))
    assert len(full) == 3 and all(len(b) == 2 for b in full)
    assert full == list(UnpairedBatchSampler(7, 5, batch_size=2, seed=1, epoch=3))
    assert full != list(UnpairedBatchSampler(7, 5, batch_size=2, seed=1, epoch=4))
    assert full[1:] == list(UnpairedBatchSampler(7, 5, batch_size=2, seed=1, epoch=3, start_batch=1))
    ranks = [list(UnpairedBatchSampler(8, 3, batch_size=1, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    pos = [k[3] for r in ranks for b in r for k in b]
    assert sorted(pos) == list(range(8))  # disjoint, complete
    assert all(0 <= k[1] < 3 for r in ranks for b in r for k in b)
