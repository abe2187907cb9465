"""The one mask rule (gan_bokeh.io.masks) and every consumer of it agreeing on it.

Rule: ``--mask`` file > named folder (``<stem>.png``, ``<stem>.mask.png``, any ``<stem>.<ext>``) > sidecar
``<stem>.mask.png`` > alpha channel unless fully opaque > no mask.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_bokeh.io import (
    alpha_is_mask,
    find_mask,
    load_mask,
    read_image_alpha,
    write_image,
    write_mask,
    write_rgba,
)

H, W = 24, 32


def _rgb(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((H, W, 3)).astype(np.float32)


def _half() -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    m[:, : W // 2] = 1.0
    return m


@pytest.fixture()
def opaque_rgba(tmp_path: Path) -> Path:
    """An editor's RGBA export: alpha 255 everywhere."""
    p = tmp_path / "in" / "photo.png"
    write_rgba(p, _rgb(), np.ones((H, W), np.float32))
    return p


def test_rule_order_file_folder_sidecar_alpha(tmp_path):
    """Catches a reordered rule (alpha before files, sidecar before the named folder, an ignored --mask FILE)."""
    img = tmp_path / "photos" / "p.png"
    write_rgba(img, _rgb(), _half())
    assert find_mask(img, alpha=read_image_alpha(img)[1]).kind == "alpha"
    write_mask(img.with_name("p.mask.png"), np.full((H, W), 0.25, np.float32))
    assert find_mask(img, alpha=_half()).path.name == "p.mask.png"            # sidecar beats alpha
    focal = tmp_path / "focal"
    write_image(focal / "p.jpg", np.zeros((H, W, 3), np.float32))
    assert find_mask(img, focal, alpha=_half()).path == focal / "p.jpg"      # named folder beats sidecar
    explicit = tmp_path / "x.png"
    write_mask(explicit, np.ones((H, W), np.float32))
    assert find_mask(img, explicit).path == explicit                          # --mask FILE beats all
    m, label = load_mask(img, None, focal)
    assert label == f"file:{focal / 'p.jpg'}" and m.shape == (H, W) and float(m.max()) == 0.0


def test_opaque_alpha_is_no_mask(opaque_rgba):
    """Catches the old split: an opaque alpha read as a full-frame subject."""
    rgb, alpha = read_image_alpha(opaque_rgba)
    assert alpha is not None and not alpha_is_mask(alpha)
    assert not alpha_is_mask(np.full((H, W), 255, np.uint8)) and alpha_is_mask(np.zeros((H, W), np.uint8))
    assert find_mask(opaque_rgba, alpha=alpha) is None
    assert load_mask(opaque_rgba, alpha) == (None, "none")


def test_opaque_rgba_through_evaluate_has_no_subject_metrics(opaque_rgba, tmp_path):
    """The issue's measurement: ``evaluate`` on an opaque RGBA input reported subject PSNR 100 and no
    background figure. Now: no subject/background metrics and a "no mask" note; a real alpha still counts."""
    from gan_bokeh.evaluate.runner import evaluate_folders

    pred = tmp_path / "pred"
    write_image(pred / "photo.png", _rgb())  # identical to the input: subject PSNR would be the 100 dB cap
    res = evaluate_folders(pred, opaque_rgba.parent)
    row = res["per_image"][0]
    assert "subject_psnr" not in row and "bg_hf_ratio" not in row
    assert any("no mask" in n for n in res["notes"])
    write_rgba(opaque_rgba, _rgb(), _half())
    row = evaluate_folders(pred, opaque_rgba.parent)["per_image"][0]
    assert "subject_psnr" in row and "bg_hf_ratio" in row


def test_every_consumer_treats_opaque_alpha_as_no_mask(opaque_rgba, tmp_path):
    """render, generate, compare, training data and build-dataset all apply the same rule (catches any
    consumer that goes back to its own lookup)."""
    import argparse

    from gan_bokeh.cli.generate import _mask_for
    from gan_bokeh.cli.render import _Sources
    from gan_bokeh.data.transforms import load_resized
    from gan_bokeh.errors import BadImageError
    from scrapers.build import Job, process_item

    image, alpha = read_image_alpha(opaque_rgba)
    args = argparse.Namespace(mask=None, depth=None, no_segment=True, no_midas=True, device="cpu",
                              depth_colormap=None)
    assert _Sources(args, 1).mask(opaque_rgba, image, alpha) == (None, "none")
    segmented = []
    _mask_for(opaque_rgba, alpha, None, lambda: (lambda im: segmented.append(im) or _half()), image)
    assert segmented, "generate must fall back to the segmenter, not use the opaque alpha"
    with pytest.raises(BadImageError, match="fully opaque"):
        load_resized(opaque_rgba, 16, need_mask=True)
    res = process_item(Job(src=str(opaque_rgba), dest=str(tmp_path / "out" / "photo.png"), max_side=64,
                           quality=90, min_person_area=0.5, masks=None))
    assert res.status == "ok" and res.mask is None and res.path.endswith(".jpg")  # no RGBA with a fake mask
    write_mask(opaque_rgba.with_name("photo.mask.png"), _half())
    assert _Sources(args, 1).mask(opaque_rgba, image, alpha)[1].startswith("file:")
    assert load_resized(opaque_rgba, 16, mask_path=opaque_rgba.with_name("photo.mask.png"),
                        need_mask=True)[1] is not None


def test_compare_uses_the_mask_rule(opaque_rgba, tmp_path):
    """compare's mask column: opaque alpha → no mask (segmenter off), a sidecar → that file."""
    from gan_bokeh.report.compare import CompareOptions, ReportBuilder

    cmp = ReportBuilder(CompareOptions(inputs=[str(opaque_rgba)], out_dir=str(tmp_path / "rep"), segment=False))
    image, alpha = read_image_alpha(opaque_rgba)
    assert cmp._mask(opaque_rgba, image, alpha)[0] is None
    write_mask(opaque_rgba.with_name("photo.mask.png"), _half())
    m, label = cmp._mask(opaque_rgba, image, alpha)
    assert label == "mask file photo.mask.png" and m is not None


def test_io_and_scrapers_do_not_import_torch():
    """The scrapers use the mask rule and must stay torch-free (catches a torch import in gan_bokeh.io)."""
    code = ("import sys, gan_bokeh.io, scrapers.build; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
