"""Full-resolution generation: pure helpers, the FullResGenerator and ``gan-bokeh generate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bokeh.cli import main
from gan_bokeh.generate import (
    FullResGenerator,
    detail_gain,
    merge_full_resolution,
    overlay,
    run_tiled,
    working_shape,
)
from gan_bokeh.nets import build_generator
from gan_bokeh.train.checkpoint import save_checkpoint


def make_run(root: Path, *, crop: int = 32, test_overlay: bool = False, name: str = "run") -> Path:
    """A run folder with a random-init tiny checkpoint and a fake metrics.jsonl (as the trainer writes)."""
    torch.manual_seed(0)
    arch = {"name": "resnet_9blocks", "kwargs": {"ngf": 8, "n_blocks": 1}}
    g, f = build_generator(arch["name"], **arch["kwargs"]), build_generator(arch["name"], **arch["kwargs"])
    run = root / name
    save_checkpoint(run / "ckpt" / "latest.pt", {
        "iteration": 6, "epoch": 2, "arch": {"G": arch, "F": arch},
        "nets": {"G": g.state_dict(), "F": f.state_dict()},
        "config": {"data": {"crop_size": crop}, "test": {"mask_overlay": test_overlay},
                   "train": {"lambda_mask": 1.0}}})
    import json

    with open(run / "metrics.jsonl", "w") as fh:
        rng = np.random.default_rng(0)
        for it in range(1, 7):
            rec = {"epoch": 1 + it // 4, "iter": it, "lr": 2e-4}
            for k in ("D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B",
                      "mask_l1_A", "mask_vgg_A", "mask_l1_B", "mask_vgg_B"):
                rec[k] = float(rng.uniform(0.1, 2.0) / it)
            fh.write(json.dumps(rec) + "\n")
    return run


def identity_net() -> torch.nn.Module:
    return torch.nn.Identity().eval()


class BlurNet(torch.nn.Module):
    """Stand-in generator: box-blurs the right half (a 'background'), keeps the left half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
        w = x.shape[-1]
        out = x.clone()
        out[..., w // 2:] = blurred[..., w // 2:]
        return out


def test_working_shape():
    assert working_shape(3000, 4000, 256) == (256, 340)
    assert working_shape(4000, 3000, 256) == (340, 256)
    assert working_shape(100, 60, 256) == (100, 60)  # never upsamples
    h, w = working_shape(1667, 2500, 384)
    assert h % 4 == 0 and w % 4 == 0 and h == 384
    with pytest.raises(ValueError):
        working_shape(0, 10, 256)


def test_identity_generator_returns_input_exactly_in_delta_and_detail_modes():
    rng = np.random.default_rng(1)
    img = rng.random((90, 130, 3), dtype=np.float32)
    for mode in ("delta", "detail"):
        gen = FullResGenerator(identity_net(), work_size=32, merge=mode)
        out = gen(img)
        assert out.shape == img.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, img, atol=1e-5)
    # plain upscale loses the full-res detail
    out = FullResGenerator(identity_net(), work_size=32, merge="resize")(img)
    assert np.abs(out - img).mean() > 0.05


def test_detail_gain_one_where_kept_zero_where_blurred():
    rng = np.random.default_rng(2)
    small = rng.random((64, 64, 3), dtype=np.float32)
    k_same = detail_gain(small, small)
    assert k_same.shape == (64, 64) and k_same.min() > 0.99
    flat = np.full_like(small, 0.5)
    assert detail_gain(small, flat).max() < 0.02
    assert detail_gain(flat, flat).min() == pytest.approx(1.0)  # nothing to lose: keep full-res detail


def test_detail_mode_drops_fine_texture_where_generator_blurred():
    rng = np.random.default_rng(3)
    img = rng.random((256, 256, 3), dtype=np.float32)  # fine noise everywhere
    detail = FullResGenerator(BlurNet(), work_size=64, merge="detail")(img)
    delta = FullResGenerator(BlurNet(), work_size=64, merge="delta")(img)
    left, right = slice(0, 100), slice(160, 256)
    # subject half: full-res detail kept by both
    assert np.abs(detail[:, left] - img[:, left]).mean() < 0.03
    # background half: delta keeps the full-res noise, detail removes it
    assert detail[:, right].std() < 0.5 * delta[:, right].std()


def test_merge_rejects_unknown_mode():
    x = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="merge mode"):
        merge_full_resolution(x, x, x, "nope")


def test_overlay_pastes_full_res_subject():
    gen = np.zeros((40, 60, 3), np.float32)
    orig = np.ones((40, 60, 3), np.float32)
    mask = np.zeros((20, 30), np.float32)
    mask[:, :15] = 1.0
    out = overlay(gen, orig, mask)
    assert out[:, :25].min() == pytest.approx(1.0) and out[:, 35:].max() == pytest.approx(0.0)


def test_tiled_identity_is_seamless():
    rng = np.random.default_rng(4)
    img = rng.random((72, 100, 3), dtype=np.float32)
    out = run_tiled(identity_net(), img, tile=32, overlap=8)
    np.testing.assert_allclose(out, img, atol=1e-5)


def test_batched_equals_single_for_mixed_sizes(tmp_path):
    run = make_run(tmp_path)
    gen, state = FullResGenerator.from_checkpoint(run, device="cpu")
    assert gen.work_size == 32 and state["epoch"] == 2
    rng = np.random.default_rng(5)
    a, b, c = (rng.random(s, dtype=np.float32) for s in ((48, 64, 3), (48, 64, 3), (64, 40, 3)))
    batch = gen.generate([a, b, c])
    for im, out in zip((a, b, c), batch, strict=True):
        assert out.shape == im.shape
        np.testing.assert_allclose(out, gen(im), atol=1e-4)


def _write_photo(path: Path, size=(80, 60), exif_rotate: bool = False) -> None:
    rng = np.random.default_rng(6)
    arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    img = Image.fromarray(arr)
    if exif_rotate:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° on display
        img.save(path, exif=exif, quality=92)
    else:
        img.save(path)


def test_cli_generate_folder_keeps_size_name_format_and_skips_bad(tmp_path, capsys):
    run = make_run(tmp_path, test_overlay=False)
    src = tmp_path / "in"
    src.mkdir()
    _write_photo(src / "a.jpg", exif_rotate=True)
    _write_photo(src / "b.png", size=(50, 70))
    (src / "broken.jpg").write_bytes(b"<html>not an image</html>")
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(src / "c.gif")  # not writable as GIF → PNG
    out = tmp_path / "out"
    rc = main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(out),
               "--jpeg-quality", "90", "--batch-size", "2", "--device", "cpu"])
    assert rc == 1  # the one exit-code rule: any failed item → 1
    cap = capsys.readouterr()
    assert "3 done, 0 skipped (already done), 1 failed" in cap.out and "broken.jpg" in cap.err
    assert (out / "c.png").is_file() and (out / "generate.json").is_file()
    with Image.open(out / "a.jpg") as im:
        assert im.format == "JPEG" and im.size == (60, 80)  # EXIF rotation applied
    with Image.open(out / "b.png") as im:
        assert im.format == "PNG" and im.size == (50, 70)


def test_cli_generate_overlay_with_mask_dir_keeps_subject(tmp_path):
    run = make_run(tmp_path, test_overlay=True)  # overlay on by the run's test.mask_overlay
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    src.mkdir()
    masks.mkdir()
    _write_photo(src / "p.png", size=(64, 48))
    m = np.zeros((48, 64), np.uint8)
    m[:, :32] = 255
    Image.fromarray(m).save(masks / "p.png")
    assert main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(out),
                 "--mask", str(masks)]) == 0
    a = np.asarray(Image.open(src / "p.png"), np.int16)
    b = np.asarray(Image.open(out / "p.png"), np.int16)
    assert np.abs(a[:, :30] - b[:, :30]).max() <= 1
    assert np.abs(a[:, 34:] - b[:, 34:]).mean() > 5


def test_cli_generate_refuses_to_overwrite_inputs(tmp_path, capsys):
    run = make_run(tmp_path)
    src = tmp_path / "in"
    src.mkdir()
    _write_photo(src / "a.png")
    assert main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(src)]) == 2
    assert "input folder" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(run), "--input", str(src / "a.png"), "--out", str(src)]) == 2
    assert "overwrite" in capsys.readouterr().err


def test_cli_generate_bad_checkpoint_is_one_line(tmp_path, capsys):
    src = tmp_path / "a.png"
    _write_photo(src)
    assert main(["generate", "--checkpoint", str(tmp_path / "nope"), "--input", str(src),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err


def test_generate_real_photo_full_size(tmp_path, shared_data):
    run = make_run(tmp_path)
    photo = shared_data / "u2net_human_seg" / "images" / "track-runners-hurdles-1280.jpg"
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", str(run), "--input", str(photo), "--out", str(out),
                 "--overlay", "--mask", str(shared_data / "u2net_human_seg" / "masks")]) == 0
    with Image.open(out / photo.name) as im, Image.open(photo) as src:
        assert im.size == src.size == (900, 675)


def test_failed_batch_retries_per_image_and_records_failures(tmp_path):
    from gan_bokeh.batch.generate import generate_and_write

    class Flaky:
        def generate(self, images, masks=None):
            if len(images) > 1:
                raise RuntimeError("out of memory")
            if images[0].shape[0] == 13:
                raise RuntimeError("bad shape\nmore")
            return list(images)

    imgs = [np.zeros((8, 8, 3), np.float32), np.zeros((13, 8, 3), np.float32)]
    outcomes = generate_and_write(Flaky(), [tmp_path / "a.png", tmp_path / "b.png"], imgs, [None, None],
                                  None, tmp_path / "o", 90)
    assert [r["status"] for _, r in outcomes] == ["done", "failed"] and outcomes[1][1]["reason"] == "bad shape"
    assert (tmp_path / "o" / "a.png").is_file()


def test_tiled_generator_from_run(tmp_path):
    run = make_run(tmp_path, crop=32)
    gen, _ = FullResGenerator.from_checkpoint(run, device="cpu", work_size=64, tile=32, overlap=8)
    img = np.random.default_rng(7).random((100, 150, 3), dtype=np.float32)
    out = gen(img)
    assert out.shape == img.shape and np.isfinite(out).all()
    with pytest.raises(Exception, match="--tile"):
        FullResGenerator(identity_net(), tile=30)


def test_cli_generate_names_a_broken_mask_and_prefers_mask_dir_over_opaque_alpha(tmp_path, capsys):
    """QA: a broken --mask DIR file is named (not the photo); an opaque RGBA alpha is no mask, so the
    --mask DIR mask is used (same lookup order as ``render``)."""
    run = make_run(tmp_path, test_overlay=True)
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    src.mkdir()
    masks.mkdir()
    rgb = np.asarray(Image.fromarray((np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)))
    Image.fromarray(np.dstack([rgb, np.full((48, 64), 255, np.uint8)])).save(src / "p.png")  # opaque RGBA
    _write_photo(src / "q.png", size=(64, 48))
    m = np.zeros((48, 64), np.uint8)
    m[:, :32] = 255
    Image.fromarray(m).save(masks / "p.png")
    (masks / "q.png").write_bytes(b"")  # a zero-byte mask
    assert main(["generate", "--checkpoint", str(run), str(src), "--out", str(out),  # positional INPUT
                 "--mask", str(masks)]) == 1
    cap = capsys.readouterr()
    assert "1 done, 0 skipped (already done), 1 failed" in cap.out and "masks/q.png: empty file" in cap.err
    b = np.asarray(Image.open(out / "p.png"), np.int16)[..., :3]
    assert np.abs(rgb[:, :30].astype(np.int16) - b[:, :30]).max() <= 1
    assert np.abs(rgb[:, 34:].astype(np.int16) - b[:, 34:]).mean() > 5


def test_generate_works_in_the_geometry_training_saw() -> None:
    """The working size/shape follows the run's ``data.preprocess``; legacy configs were squashed.
    Fails on: generate ignoring the preset (always aspect-kept at the crop size, the old behaviour)."""
    from gan_bokeh.generate import FullResGenerator, training_geometry

    def state(**data: object) -> dict:
        return {"config": {"data": {"crop_size": 64, **data}}}

    assert training_geometry(state(preprocess="keep_aspect", load_size=72)) == (72, False)
    assert training_geometry(state(preprocess="paper", load_size=64)) == (64, False)
    assert training_geometry(state(preprocess="cyclegan", load_size=72)) == (72, True)
    assert training_geometry(state(load_size=72)) == (72, True)  # recorded before data.preprocess existed
    img = np.zeros((90, 150, 3), np.float32)
    net = torch.nn.Identity()
    assert FullResGenerator(net, work_size=72, squash=True).working_input(img).shape == (72, 72, 3)
    assert FullResGenerator(net, work_size=72).working_input(img).shape == (72, 120, 3)


def test_cli_generate_refuses_one_depth_file_for_several_photos(tmp_path, capsys):
    """``--depth FILE`` with a folder of photos is a one-line error, exit 2 (catches every photo silently
    given the same depth map, as ``--mask FILE`` already refuses)."""
    from gan_bokeh.cli import main

    run = make_run(tmp_path)
    src = tmp_path / "in"
    src.mkdir()
    for stem in ("a", "b"):
        _write_photo(src / f"{stem}.jpg")
    np.save(tmp_path / "d.npy", np.zeros((60, 80), np.float32))
    assert main(["generate", "--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o"),
                 "--depth", str(tmp_path / "d.npy"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "--depth" in err and "single input" in err and "Traceback" not in err
