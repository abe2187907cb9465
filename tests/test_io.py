"""The I/O room: decoding of awkward files, EXIF orientation, masks, atomic writes, JSON lines."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import (
    append_jsonl,
    atomic_path,
    find_by_stem,
    find_mask_file,
    image_info,
    list_images,
    open_image,
    read_image,
    read_image_alpha,
    read_jsonl,
    read_mask,
    write_image,
    write_mask,
    write_rgba,
)


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / (w - 1), y / (h - 1), np.full_like(x, 0.5, dtype=float)], axis=2).astype(np.float32)


def test_roundtrip_png_exact(tmp_path):
    img = _gradient()
    write_image(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.shape == (24, 32, 3) and back.dtype == np.float32
    assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6


def test_rgba_mask_roundtrip(tmp_path):
    img = _gradient()
    mask = np.zeros((24, 32), np.float32)
    mask[5:15, 8:20] = 1.0
    write_rgba(tmp_path / "m.png", img, mask)
    rgb, alpha = read_image_alpha(tmp_path / "m.png")
    assert alpha is not None and np.array_equal(alpha, mask)
    assert np.array_equal(read_mask(tmp_path / "m.png"), mask)
    assert np.abs(rgb - img).max() < 1 / 255


def test_exif_orientation_applied(tmp_path):
    arr = (np.arange(6 * 4 * 3) % 255).astype(np.uint8).reshape(6, 4, 3)
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW to display
    im.save(tmp_path / "r.png", exif=exif.tobytes())
    out = read_image(tmp_path / "r.png")
    assert out.shape == (4, 6, 3)
    assert image_info(tmp_path / "r.png")["width"] == 6


def test_sixteen_bit_gray_is_scaled_not_clamped(tmp_path):
    arr = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(arr).save(tmp_path / "d16.png")
    m = read_mask(tmp_path / "d16.png")
    assert m.min() == 0.0 and m.max() == pytest.approx(1.0)
    assert 0.4 < float(np.median(m)) < 0.6


def test_palette_transparency_keeps_alpha(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((1, 1), 1)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    rgb, alpha = read_image_alpha(tmp_path / "p.png")
    assert alpha is not None and alpha[1, 1] == 1.0 and alpha[0, 0] == 0.0


def test_cmyk_and_grayscale_become_rgb(tmp_path):
    Image.new("CMYK", (5, 5), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    Image.new("L", (5, 5), 128).save(tmp_path / "g.png")
    c = read_image(tmp_path / "c.jpg")
    g = read_image(tmp_path / "g.png")
    assert c.shape == (5, 5, 3) and c[..., 0].mean() > 0.8 and c[..., 1].mean() < 0.2
    assert g.shape == (5, 5, 3) and np.allclose(g, 128 / 255)


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"<html><body>Not found</body></html>", "not a decodable image"),
])
def test_bad_files_raise_one_line_with_path(tmp_path, content, needle):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(BadImageError) as err:
        read_image(p)
    assert needle in str(err.value) and str(p) in str(err.value) and "\n" not in str(err.value)


def test_truncated_jpeg_is_bad(tmp_path):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(BadImageError, match="truncated"):
        read_image(tmp_path / "t.jpg")


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 6), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    out = read_image(tmp_path / "a.gif")
    assert out[..., 0].mean() > 0.9


def test_decompression_bomb_refused(tmp_path, monkeypatch):
    import gan_bokeh.io.images as images

    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 5000)
    with pytest.raises(BadImageError, match="pixel limit"):
        open_image(tmp_path / "big.png")


def test_missing_file_is_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_list_images_and_find_mask(tmp_path):
    write_image(tmp_path / "b.jpg", _gradient())
    write_image(tmp_path / "a.png", _gradient())
    write_mask(tmp_path / "a.mask.png", np.ones((24, 32), np.float32))
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.jpg"]
    assert find_mask_file(tmp_path / "a.png").name == "a.mask.png"
    assert find_mask_file(tmp_path / "b.jpg") is None
    with pytest.raises(UserError):
        list_images(tmp_path / "missing")


def test_write_image_refuses_unknown_extension(tmp_path):
    with pytest.raises(UserError, match="unsupported output extension"):
        write_image(tmp_path / "x.xyz", _gradient())


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    dest = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert not dest.exists() and os.listdir(tmp_path) == []


def test_jsonl_ignores_torn_last_line(tmp_path):
    p = tmp_path / "m.jsonl"
    append_jsonl(p, {"id": 1})
    append_jsonl(p, {"id": 2})
    with open(p, "a") as fh:
        fh.write('{"id": 3, "sta')  # killed mid-write
    assert [r["id"] for r in read_jsonl(p)] == [1, 2]


def test_atomic_path_onto_a_folder_is_one_line_user_error(tmp_path):
    """QA: ``--json DIR`` / ``--report DIR`` used to end in IsADirectoryError after all the work."""
    from gan_bokeh.io import atomic_write_text

    with pytest.raises(UserError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match="is a file, not a folder"):
        atomic_write_text(tmp_path / "f" / "x.json", "x")


def test_find_mask_any_extension_in_mask_dir(tmp_path):
    write_image(tmp_path / "img" / "a.jpg", _gradient())
    write_image(tmp_path / "focal" / "a.jpg", _gradient())
    assert find_mask_file(tmp_path / "img" / "a.jpg", tmp_path / "focal").parent.name == "focal"
    # never the image itself
    assert find_mask_file(tmp_path / "img" / "a.jpg", tmp_path / "img") is None


def test_output_path_and_refuse_overwriting_inputs(tmp_path):
    from gan_bokeh.io import output_path, refuse_overwriting_inputs

    assert output_path(tmp_path / "o", tmp_path / "x.JPG").name == "x.JPG"
    assert output_path(tmp_path / "o", tmp_path / "x.gif").name == "x.png"
    refuse_overwriting_inputs(tmp_path / "o", [tmp_path / "x.jpg"])  # fine
    with pytest.raises(UserError, match="--out .*would overwrite an input"):
        refuse_overwriting_inputs(tmp_path, [tmp_path / "x.jpg"])
    refuse_overwriting_inputs(tmp_path, [tmp_path / "x.gif"])  # → x.png, not an input


def test_find_mask_prefers_named_folder_and_find_by_stem(tmp_path):
    img = tmp_path / "photos" / "p.jpg"
    write_image(img, _gradient())
    write_mask(tmp_path / "photos" / "p.mask.png", np.ones((24, 32), np.float32))
    focal = tmp_path / "focal"
    write_image(focal / "p.jpg", _gradient())
    assert find_mask_file(img, focal) == focal / "p.jpg"  # the folder the user named wins
    assert find_mask_file(img) == img.with_name("p.mask.png")
    assert find_by_stem(focal, "p") == focal / "p.jpg"
    assert find_by_stem(tmp_path / "photos", "p", exclude=img) is None   # never the image itself
