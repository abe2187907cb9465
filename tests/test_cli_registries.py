"""CLI choices come from the registries, and ``render`` records and saves what it used."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter


def test_cli_choices_equal_the_registries():
    """The CLI keeps literal choice tuples (fast --help); they must equal the depth, segmenter and blur
    curve registries. Catches a backend registered but not offered (or offered but unknown)."""
    from gan_bokeh.cli import options
    from gan_bokeh.cli import render as cli
    from gan_bokeh.cli import segment as segment_cli
    from gan_bokeh.depth import DEPTH_BACKEND_CHOICES
    from gan_bokeh.render.layers import BLUR_CURVES
    from gan_bokeh.segment import BACKENDS

    assert options.DEPTH_BACKEND_CHOICES == DEPTH_BACKEND_CHOICES
    assert cli.SEGMENTER_CHOICES == BACKENDS
    assert cli.CURVE_CHOICES == BLUR_CURVES
    parser = argparse.ArgumentParser()
    segment_cli.add_arguments(parser)
    backend = next(a for a in parser._actions if a.dest == "backend")
    assert tuple(backend.choices) == BACKENDS


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(src / "a.png")
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 20:44] = 255
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    return src / "a.png", tmp_path / "a_mask.png"


def test_render_depth_backend_weights_and_saved_mask(tmp_path, capsys):
    """``--depth-backend depth-anything --depth-weights DIR`` (a tiny random-init model folder) is used and
    recorded; ``--save-maps`` writes the mask the render used; a missing model is one failed record."""
    pytest.importorskip("transformers")
    from gan_bokeh.cli import main
    from gan_bokeh.io import read_jsonl, read_mask
    from tests.test_depth_backends import tiny_depth_anything

    image, mask = _inputs(tmp_path)
    tiny_depth_anything().save_pretrained(tmp_path / "da")
    out = tmp_path / "out"
    rc = main(["render", str(image), "--out", str(out), "--mask", str(mask), "--depth-backend", "depth-anything",
               "--depth-weights", str(tmp_path / "da"), "--save-maps", "--device", "cpu", "--max-blur", "4"])
    assert rc == 0, capsys.readouterr()
    rec = read_jsonl(out / "render.jsonl")[0]
    assert rec["depth_backend"] == "depth-anything" and rec["depth_linear_in"] == "disparity"
    saved = read_mask(out / "maps" / "a.mask.png")
    assert saved.shape == (48, 64) and saved[20, 30] > 0.5 and saved[2, 2] < 0.5
    rc = main(["render", str(image), "--out", str(tmp_path / "o2"), "--mask", str(mask),
               "--depth-backend", "depth-anything", "--depth-weights", str(tmp_path)])
    assert rc == 1 and "config.json" in capsys.readouterr().err


def test_evaluate_without_masks_segments_and_says_so(tmp_path, monkeypatch, capsys):
    """``evaluate`` without --mask used to print a table with no subject/background columns; now the
    segmenter makes the masks, the metrics appear, and a note names the segmenter."""
    import json

    from gan_bokeh import segment
    from gan_bokeh.cli import main

    image, _ = _inputs(tmp_path)
    (tmp_path / "pred").mkdir()
    Image.open(image).filter(ImageFilter.GaussianBlur(2)).save(tmp_path / "pred" / "a.png")

    class Centre:
        name = "centre-test"

        def __call__(self, img):
            m = np.zeros(img.shape[:2], np.float32)
            m[10:40, 20:44] = 1
            return m

    built = []
    monkeypatch.setattr(segment, "get_segmenter", lambda backend, **k: built.append(backend) or Centre())
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--input", str(image.parent),
                 "--segmenter", "u2net"]) == 0
    out = capsys.readouterr().out
    assert built == ["u2net"] and "masks computed with the centre-test segmenter for 1 image(s)" in out
    row = json.loads((tmp_path / "pred" / "metrics.json").read_text())["per_image"][0]
    assert "subject_psnr" in row and "bg_hf_ratio" in row
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--input", str(image.parent),
                 "--segmenter", "none", "--out", str(tmp_path / "o")]) == 0
    assert "subject_psnr" not in json.loads((tmp_path / "o" / "metrics.json").read_text())["per_image"][0]
