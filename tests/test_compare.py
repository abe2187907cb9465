"""The comparison report: loss plots, HTML, ``gan-bokeh compare`` (resume), and a real-browser check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_generate import make_run

from gan_bokeh.cli import main
from gan_bokeh.report import Cell, Row, group_keys, loss_group, render_page
from gan_bokeh.report.html import href
from gan_bokeh.report.plots import plot_run_losses, smooth

CHROMIUM = os.environ.get("GAN_BOKEH_CHROMIUM", "/usr/bin/chromium")


def test_loss_groups_cover_trainer_keys_and_unknown_keys():
    assert loss_group("cycle_A") == "cycle" and loss_group("G_B") == "GAN" and loss_group("D_A") == "GAN"
    assert loss_group("idt_B") == "identity" and loss_group("mask_vgg_A") == "mask"
    assert loss_group("mask_norm_B") == "mask" and loss_group("something_new") == "other"
    assert loss_group("epoch") is None and loss_group("lr") is None and loss_group("iter_time") is None
    recs = [{"iter": 1, "lr": 1.0, "cycle_A": 1.0, "G_A": 0.5, "note": "text", "flag": True}]
    assert group_keys(recs) == {"cycle": ["cycle_A"], "GAN": ["G_A"]}


def test_smooth_and_plot(tmp_path):
    np.testing.assert_allclose(smooth(np.array([1.0, 3.0, np.nan, 5.0]), 2), [1, 2, 3, 5])
    recs = [{"iter": i, "cycle_A": 1 / i, "mask_l1_A": 0.5 / i, "weird": i} for i in range(1, 20)]
    png = plot_run_losses(recs, tmp_path / "p.png", title="t")
    assert png is not None and png.read_bytes()[:4] == b"\x89PNG"
    assert plot_run_losses([{"iter": 1}], tmp_path / "q.png") is None


def test_page_escapes_and_quotes():
    page = render_page("t <x>", [Row("a&b", [Cell("<lbl>", "thumbs/k/a b+c.jpg", "cells/k/a b+c.jpg"),
                                             Cell("none", note="needs a mask")])])
    assert "&lt;lbl&gt;" in page and "a&amp;b" in page and "<lbl>" not in page
    assert 'src="thumbs/k/a%20b%2Bc.jpg"' in page and "needs a mask" in page
    assert href("x/é.jpg") == "x/%C3%A9.jpg"


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_data):
    """A report over 2 real photos, 2 renderer methods and 2 tiny random-init runs."""
    root = tmp_path_factory.mktemp("compare")
    runs = [make_run(root, name="cyclegan"), make_run(root, name="mask_loss", test_overlay=True)]
    src = shared_data / "u2net_human_seg"
    inputs = root / "in"
    inputs.mkdir()
    for name in ("Two_dancers.jpg", "track-runners-hurdles-1280.jpg"):
        os.symlink(src / "images" / name, inputs / name)
    out = root / "report"
    argv = ["compare", "--input", str(inputs), "--out", str(out), "--runs", *map(str, runs),
            "--methods", "average,gaussian", "--mask", str(src / "masks"), "--max-size", "192",
            "--no-segment"]
    assert main(argv) == 0
    return out, argv


def test_report_structure(report, capsys):
    out, _ = report
    page = (out / "index.html").read_text()
    for label in ("input", "mask", "depth", "average", "gaussian", "cyclegan (GAN)", "cyclegan + overlay",
                  "mask_loss (GAN)", "mask_loss + overlay", "Loss curves", "subject_psnr", "bg_hf_ratio"):
        assert label in page, label
    for src in re.findall(r'src="([^"]+)"', page):
        assert (out / src.replace("%2B", "+")).is_file(), src
    assert (out / "plots" / "by_run_cycle.png").is_file() and (out / "plots" / "by_run_mask.png").is_file()
    assert (out / "metrics" / "gan-cyclegan-overlay" / "metrics.json").is_file()
    full = out / "cells" / "gan-cyclegan" / "Two_dancers.jpg"
    from PIL import Image

    with Image.open(full) as im:
        assert max(im.size) == 192  # full-size cell = working copy (--max-size)


def test_report_resumes(report, capsys):
    out, argv = report
    before = (out / "cells" / "gan-cyclegan" / "Two_dancers.jpg").stat().st_mtime_ns
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "0 cells made" in text and "12 reused" in text
    assert (out / "cells" / "gan-cyclegan" / "Two_dancers.jpg").stat().st_mtime_ns == before


def test_report_refuses_input_folder_as_out(tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    assert main(["compare", "--input", str(tmp_path), "--out", str(tmp_path), "--methods", ""]) == 2
    assert "input folder" in capsys.readouterr().err


def test_report_in_real_browser(report, artifacts_dir, tmp_path):
    """Headless Chromium at 1400 px opens index.html from disk: every <img> decodes (naturalWidth > 0) and
    the page does not overflow sideways (the 13-column grid did); the screenshot is kept in
    test-artifacts/compare_report.png for a person to look at."""
    out, _ = report
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1400,1000"]
    url = (out / "index.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'id="img-status" data-status="(\w+)" data-overflow="(-?\d+)">([^<]*)<', dom)
    if m is None:  # attribute order as the browser serialises it
        m = re.search(r'id="img-status" data-overflow="(-?\d+)" data-status="(\w+)">([^<]*)<', dom)
        assert m is not None, dom[:500]
        overflow, status, text = int(m.group(1)), m.group(2), m.group(3)
    else:
        status, overflow, text = m.group(1), int(m.group(2)), m.group(3)
    assert status == "ok", text
    assert overflow <= 0, f"page is {overflow} px wider than the 1400-px window"
    n = int(re.search(r"images-ok (\d+)/", text).group(1))
    assert n >= 2 * 11  # 2 inputs × (input, mask, depth, 2 methods, 4 GAN cells) + plots
    shot = artifacts_dir / "compare_report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([*flags[:-1], "--window-size=1400,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
    shutil.copy(out / "index.html", artifacts_dir / "compare_report.html")


def test_report_page_is_readable():
    """Column headers on every cell, thumbnails ≥ 256 px linking to the full image, a depth legend, one
    section per input, a table of contents, headings larger than sub-headings, notes after the pictures."""
    from gan_bokeh.report.html import _CSS, DEPTH_LEGEND, THUMB_PX

    rows = [Row("a very long photo name.jpg", [Cell("640×480 px", "t/in.jpg", "c/in.jpg", column="input"),
                                               Cell("file", "t/d.jpg", "c/d.jpg", column="depth",
                                                    extra_html=DEPTH_LEGEND),
                                               Cell("", note="needs a mask", column="x + overlay")]),
            Row("b.png", [Cell("1×1 px", "t/b.jpg", "c/b.jpg", column="input")])]
    page = render_page("T", rows, notes=["n1", "n2"], plots=[("run1: losses per group", "p.png")],
                       tables_html="<table></table>")
    assert THUMB_PX >= 256 and f"width:{THUMB_PX}px" in _CSS
    assert page.count('<div class="colhead">') == 4 and '<div class="colhead">x + overlay</div>' in page
    assert '<a href="c/in.jpg" title="full-size image"><img src="t/in.jpg"' in page
    assert 'class="legend"' in page and "near" in page and "far" in page
    assert 'id="input-a_very_long_photo_name_jpg"' in page and 'href="#input-b_png"' in page
    assert '<nav class="toc">' in page and 'href="#plot-run1__losses_per_group"' in page
    assert page.index('id="notes"') > page.index('id="results"')
    size = {h: int(re.search(h + r"\{font-size:(\d+)px", _CSS).group(1)) for h in ("h1", "h2", "h3")}
    assert size["h1"] > size["h2"] > size["h3"]


def test_depth_file_names_and_run_labels(tmp_path):
    from gan_bokeh.report.compare import depth_stems, run_label, run_metrics_file

    assert {"street_12_disparity", "street_12", "street_12_all-in-focus_depth"} <= depth_stems("street_12_all-in-focus")
    assert "photo_depth" in depth_stems("photo") and "other" not in depth_stems("photo")
    run = make_run(tmp_path, name="x")
    assert run_label(run) == "x" and run_label(run / "ckpt" / "latest.pt") == "x"
    assert run_metrics_file(run / "ckpt" / "latest.pt") == run / "metrics.jsonl"


def test_failing_renderer_gives_a_failed_cell_not_a_crash(tmp_path, monkeypatch):
    from PIL import Image

    import gan_bokeh.report.compare as C

    def fake_render_fn(method, options=None):
        def make(image, mask, depth):
            if method == "layers":
                raise ValueError("depth too flat\ntraceback noise")
            return image * 0.5
        return make

    monkeypatch.setattr(C, "_render_fn", fake_render_fn)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(src / "a b.png")
    m = np.zeros((40, 60), np.uint8)
    m[10:30, 20:40] = 255
    Image.fromarray(m).save(src / "a b.mask.png")
    tgt = tmp_path / "targets"
    tgt.mkdir()
    Image.fromarray(np.full((40, 60, 3), 64, np.uint8)).save(tgt / "a b.jpg")
    index, stats, _notes = C.build_report(C.CompareOptions(inputs=[src], out_dir=tmp_path / "r", target_dir=tgt,
                                                           methods=["average", "layers"], segment=False))
    page = index.read_text()
    assert stats["failed"] == 1 and stats["made"] == 1
    assert "failed: depth too flat" in page and "traceback noise" not in page
    assert 'src="thumbs/input/a%20b.jpg"' in page and "real shallow depth of field" in page
    assert "<th>psnr_gain</th>" in page  # average = input × 0.5 ≈ the target: scored


def test_broken_mask_or_depth_file_skips_the_row_not_the_report(tmp_path, capsys):
    """QA: one broken mask file used to abort the whole report (exit 2) instead of skipping that row."""
    from PIL import Image

    src, masks, depth = tmp_path / "in", tmp_path / "masks", tmp_path / "depth"
    for d in (src, masks, depth):
        d.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("a", "b"):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(src / f"{stem}.png")
    Image.fromarray(np.full((24, 32), 255, np.uint8)).save(masks / "a.png")
    (masks / "b.png").write_text("<html>404</html>")
    assert main(["compare", "--input", str(src), "--out", str(tmp_path / "r"), "--methods", "gaussian",
                 "--mask", str(masks), "--no-segment", "--depth-colormap", "nosuch"]) == 2
    assert "--depth-colormap nosuch" in capsys.readouterr().err
    assert main(["compare", "--input", str(src), "--out", str(tmp_path / "r"), "--methods", "gaussian",
                 "--mask", str(masks), "--depth", str(depth), "--no-segment"]) == 0
    out = capsys.readouterr().out
    assert "1 inputs skipped" in out and "masks/b.png: not a decodable image" in out


def test_render_options_and_notes(tmp_path, capsys):
    from PIL import Image

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(src / "a.png")
    args = ["compare", "--input", str(src), "--out", str(tmp_path / "r"), "--methods", "gaussian", "--no-segment"]
    assert main([*args, "--render-option", "gaussian.ksize=7", "--note", "a <demo> note"]) == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "gaussian (ksize=7)" in page and "a &lt;demo&gt; note" in page
    # options are part of the cell key: other options never reuse these cells
    assert main([*args, "--render-option", "gaussian.ksize=9"]) == 0
    assert "1 cells made" in capsys.readouterr().out.splitlines()[-1]
    for bad in ("gaussian.ksize", "layers.max_blur=3", "ksize=3"):
        assert main([*args, "--render-option", bad]) == 2
        assert "--render-option" in capsys.readouterr().err


def test_changed_input_same_name_and_size_makes_new_cells(tmp_path, capsys):
    """The issue's measurement: replacing an input by another photo of the same name and size printed
    "made 0, reused 1" and kept the old cell. Cells are keyed on content hashes, so every cell is made
    again and shows the new photo; an unchanged input is reused."""
    from PIL import Image

    from gan_bokeh.io import read_image

    src, out = tmp_path / "in", tmp_path / "r"
    src.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(src / "a.png")
    args = ["compare", "--input", str(src), "--out", str(out), "--methods", "gaussian", "--no-segment"]
    assert main(args) == 0 and main(args) == 0
    assert "0 cells made, 1 reused" in capsys.readouterr().out.splitlines()[-1]
    Image.fromarray(np.full((24, 32, 3), 200, np.uint8)).save(src / "a.png")  # same name, same size
    assert main(args) == 0
    assert "1 cells made, 0 reused" in capsys.readouterr().out.splitlines()[-1]
    for key in ("input", "render-gaussian"):
        shown = read_image(out / "cells" / key / "a.jpg")
        assert abs(float(shown.mean()) * 255 - 200) < 3, key  # the new photo, not the old one


def test_retrained_run_under_the_same_name_makes_new_cells(tmp_path, capsys):
    """A GAN cell is keyed on the checkpoint's content, not the run's name (catches a run-name-only key)."""
    from PIL import Image

    run = make_run(tmp_path, name="r1")
    src, out = tmp_path / "in", tmp_path / "rep"
    src.mkdir()
    Image.fromarray((np.random.default_rng(4).random((32, 32, 3)) * 255).astype(np.uint8)).save(src / "a.png")
    args = ["compare", "--input", str(src), "--out", str(out), "--methods", "", "--runs", str(run), "--no-segment"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "0 cells made" in capsys.readouterr().out.splitlines()[-1]
    shutil.rmtree(run)
    make_run(tmp_path, name="r1", crop=48)  # another checkpoint under the same run name
    assert main(args) == 0
    assert "1 cells made" in capsys.readouterr().out.splitlines()[-1]
