"""Unpaired dataset: masks (RGBA alpha / sidecar), loader-side draft decode + resize + cache, device-side
(kornia) crop/flip/jitter identical for image and mask, bad files, order."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bokeh.data import (
    PairedAugment,
    UnpairedBatchSampler,
    UnpairedDataset,
    augment_batch,
    collate_unpaired,
    image_to_tensor,
    images_to_tensor,
    load_resized,
    mask_to_tensor,
    paired_augment,
    tensor_to_images,
    tensor_to_masks,
)
from gan_bokeh.errors import UserError
from gan_bokeh.io import read_image, write_image, write_mask, write_rgba

CPU = torch.device("cpu")


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


def _red_mask_batch(n: int = 6, h: int = 40, w: int = 52) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, h, w) images in [0, 1] whose red channel is their own mask, and the (n, 1, h, w) masks."""
    rng = np.random.default_rng(1)
    pairs = [_image_with_mask_in_red(rng, h, w) for _ in range(n)]
    img = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).contiguous()
    return img, img[:, :1].clone()


def test_device_augment_keeps_image_and_mask_aligned() -> None:
    img, mask = _red_mask_batch()
    torch.manual_seed(0)
    flipped = 0
    for _ in range(4):
        a, m = PairedAugment(32)(img, mask)
        assert a.shape == (6, 3, 32, 32) and m is not None and m.shape == (6, 1, 32, 32)
        assert a.dtype == m.dtype == torch.float32 and a.min() >= 0 and a.max() <= 1
        torch.testing.assert_close(a[:, :1], m, atol=0, rtol=0)  # the same window and flip, exactly
        # every output is a window of its input, mirrored or not (green channel identifies it)
        for i in range(6):
            g, src = a[i, 1], img[i, 1]
            hits = [(y, x, f) for f in (False, True) for y in range(9) for x in range(21)
                    if torch.equal((src.flip(-1) if f else src)[y:y + 32, x:x + 32], g)]
            assert len(hits) == 1
            flipped += hits[0][2]
    assert 0 < flipped < 24  # both outcomes of the coin occur


def test_device_augment_module_equals_function_and_is_deterministic() -> None:
    img, mask = _red_mask_batch()
    torch.manual_seed(5)
    a1, m1 = PairedAugment(32, color_jitter=0.4)(img, mask)
    torch.manual_seed(5)
    a2, m2 = paired_augment(img, mask, crop_size=32, color_jitter=0.4)
    assert torch.equal(a1, a2) and m1 is not None and m2 is not None and torch.equal(m1, m2)
    a3, _ = paired_augment(img, mask, crop_size=32, color_jitter=0.4)
    assert not torch.equal(a1, a3)  # the generator moved on
    state = torch.get_rng_state()  # the checkpoint's RNG state replays the same crops (exact resume)
    a4, _ = PairedAugment(32)(img)
    torch.set_rng_state(state)
    assert torch.equal(PairedAugment(32)(img)[0], a4)


def test_color_jitter_changes_image_not_mask() -> None:
    img, mask = _red_mask_batch()
    torch.manual_seed(2)
    plain, m_plain = PairedAugment(32)(img, mask)
    torch.manual_seed(2)
    jit, m_jit = PairedAugment(32, color_jitter=0.5)(img, mask)
    assert m_plain is not None and m_jit is not None and torch.equal(m_plain, m_jit)  # same window, mask untouched
    assert jit.min() >= 0 and jit.max() <= 1 and (jit - plain).abs().mean() > 0.01
    no_flip, _ = PairedAugment(40, flip=False)(img[:, :, :, :40])
    assert torch.equal(no_flip, img[:, :, :, :40])  # full-size crop, no flip: identity


def test_device_augment_errors() -> None:
    img, mask = _red_mask_batch()
    with pytest.raises(ValueError, match="larger than the images.*load_size >= data.crop_size"):
        PairedAugment(48)(img, mask)
    with pytest.raises(ValueError, match=r"float \(B, 3, H, W\)"):
        PairedAugment(32)((img * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\) mask"):
        PairedAugment(32)(img, mask[:, :, :20])
    with pytest.raises(ValueError, match="color_jitter"):
        PairedAugment(32, color_jitter=1.5)


def test_dataset_rgba_and_sidecar_masks_aligned(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    ds = UnpairedDataset(root, load_size=40, need_masks=True)
    assert (ds.n_a, ds.n_b, len(ds)) == (3, 2, 3)
    for key in [(0, 1, 0, 0), (2, 0, 1, 5)]:
        item = ds[key]  # loader side: uint8 at load size, nothing random
        assert item["A"].shape == (3, 40, 40) and item["mask_A"].shape == (1, 40, 40)
        assert item["A"].dtype == item["mask_A"].dtype == torch.uint8
        for dom in "AB":  # red channel equals the mask after the same resize
            assert torch.equal(item[dom][0], item[f"mask_{dom}"][0])
    assert torch.equal(ds[(1, 1, 0, 2)]["A"], ds[(1, 1, 0, 2)]["A"])  # deterministic per key
    batch = collate_unpaired([ds[(0, 1, 0, 0)], ds[(2, 0, 1, 5)]])
    torch.manual_seed(0)
    out = augment_batch(batch, PairedAugment(32), CPU)  # device side: crop + flip
    for dom in "AB":
        x, m = out[dom], out[f"mask_{dom}"]
        assert x.shape == (2, 3, 32, 32) and m.shape == (2, 1, 32, 32) and x.dtype == m.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1 and m.min() >= 0 and m.max() <= 1
        torch.testing.assert_close((x[:, :1] + 1) / 2, m, atol=1e-6, rtol=0)


def test_corrupt_image_is_reported_not_fatal(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds")
    bad = root / "trainA" / "a1.png"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    ds = UnpairedDataset(root, load_size=40, need_masks=False)
    batch = collate_unpaired([ds[(0, 0, 0, 0)], ds[(1, 0, 0, 1)]])
    assert batch["A"].shape == (1, 3, 40, 40) and "mask_A" not in batch  # masks only when needed
    assert augment_batch(batch, PairedAugment(32), CPU)["A"].shape == (1, 3, 32, 32)
    assert [p for p, _ in batch["bad"]] == [str(bad)]
    assert collate_unpaired([ds[(1, 0, 0, 1)]])["A"] is None


def test_missing_masks_say_how_to_make_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_dataset(tmp_path / "ds")
    for p in (root / "trainB").glob("*.mask.png"):
        p.unlink()
    with pytest.raises(UserError, match=r"no subject masks.*gan-bokeh segment .*trainB --format mask"):
        UnpairedDataset(root, need_masks=True)
    UnpairedDataset(root, need_masks=False, load_size=40)  # fine without masks
    # one image without a mask: left out with a warning
    write_mask(root / "trainB" / "b0.mask.png", np.ones((40, 52), np.float32))
    with caplog.at_level(logging.WARNING):
        ds = UnpairedDataset(root, need_masks=True, load_size=40)
    assert ds.n_b == 1 and "have no mask" in caplog.text


def test_rgba_copy_replaces_jpeg_of_same_stem(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", sidecar_b=False)
    img = np.zeros((40, 52, 3), np.float32)
    write_image(root / "trainA" / "a0.jpg", img)  # `segment --format rgba` wrote a0.png beside it
    ds = UnpairedDataset(root, need_masks=True, load_size=40)
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


def test_load_resized_draft_decode_matches_full_decode(tmp_path: Path) -> None:
    """A large JPEG is decoded at reduced size (draft mode); the result is close to resizing the full decode."""
    import cv2

    yy, xx = np.mgrid[0:1200, 0:1600].astype(np.float32)
    img = np.stack([xx / 1600, yy / 1200, 0.5 + 0.4 * np.sin(xx / 90) * np.cos(yy / 70)], axis=-1)
    write_image(tmp_path / "big.jpg", img, quality=95)
    rgb, mask = load_resized(tmp_path / "big.jpg", 64)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8 and mask is None
    ref = cv2.resize(read_image(tmp_path / "big.jpg"), (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(rgb / 255.0 - ref).max() < 0.04
    with pytest.raises(UserError, match="alpha channel"):
        load_resized(tmp_path / "big.jpg", 64, need_mask=True)


def test_load_resized_real_photo(shared_data: Path) -> None:
    import cv2

    path = shared_data / "pynet_bokeh_ebb" / "ebb_vs_1_wide.jpg"
    rgb, _ = load_resized(path, 286)
    ref = cv2.resize(read_image(path), (286, 286), interpolation=cv2.INTER_AREA)
    mse = float(np.mean((rgb / 255.0 - ref) ** 2))
    assert rgb.shape == (286, 286, 3) and 10 * np.log10(1 / mse) > 35  # draft decode costs no visible quality


def test_cache_skips_decoding_and_follows_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gan_bokeh.data.unpaired as unpaired

    root = make_dataset(tmp_path / "ds")
    ds = UnpairedDataset(root, load_size=40, need_masks=True, cache_dir=tmp_path / "cache")
    first = ds[(0, 1, 0, 0)]
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    calls = {"n": 0}
    real = unpaired.load_resized

    def counting(*a: object, **k: object) -> object:
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(unpaired, "load_resized", counting)
    again = UnpairedDataset(root, load_size=40, need_masks=True, cache_dir=tmp_path / "cache")[(0, 1, 0, 0)]
    assert calls["n"] == 0
    for k in ("A", "B", "mask_A", "mask_B"):
        assert torch.equal(first[k], again[k])
    write_mask(root / "trainB" / "b1.mask.png", np.zeros((40, 52), np.float32))  # an edited mask: decoded again
    edited = ds[(0, 1, 0, 0)]
    assert calls["n"] == 1 and int(edited["mask_B"].max()) == 0
    no_masks = UnpairedDataset(root, load_size=40, cache_dir=tmp_path / "cache")[(0, 1, 0, 0)]
    assert "mask_A" not in no_masks and calls["n"] == 3  # a different entry (RGB only)


def test_unwritable_cache_warns_once_and_carries_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_dataset(tmp_path / "ds")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        ds = UnpairedDataset(root, load_size=40, cache_dir=blocker / "cache")
        items = [ds[(i, 0, 0, i)] for i in range(3)]
    assert all(it["A"].shape == (3, 40, 40) for it in items)
    assert caplog.text.count("not writable") == 1


def test_model_init_leaves_the_global_rng_alone() -> None:
    """Nets are initialised from train.seed on every rank, but each rank's augmentation stream (seeded with
    seed + rank before the model is built) must survive, or all DDP ranks would crop identically."""
    from gan_bokeh.config import load_config
    from gan_bokeh.objectives.cyclegan import CycleGANModel
    from gan_bokeh.train.config import TrainConfig

    cfg = load_config(TrainConfig, "cyclegan", overrides=["model.ngf=4", "model.ndf=4", "model.generator=resnet",
                                                              "model.n_blocks=1"])
    draws = []
    for rank in (0, 1):
        torch.manual_seed(cfg.train.seed + rank)
        expected = torch.get_rng_state()
        model = CycleGANModel(cfg, CPU, rank=rank)
        assert torch.equal(torch.get_rng_state(), expected)
        draws.append(PairedAugment(32)(_red_mask_batch()[0])[0])
        w = next(model.nets["G"].parameters())
        assert torch.equal(w, next(CycleGANModel(cfg, CPU).nets["G"].parameters()))  # same init
    assert not torch.equal(draws[0], draws[1])
