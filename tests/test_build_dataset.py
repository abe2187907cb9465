"""build-dataset and review: rejects, dedupe, person filter, split, resize, provenance, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_bokeh.cli import main
from gan_bokeh.io import read_jsonl
from scrapers.build import BuildOptions, Candidate, assign_splits, build_dataset
from scrapers.dedupe import Cluster
from scrapers.review import parse_rejects, write_review


def photo(seed: int, w: int = 96, h: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def _rec(pid: str, dom: str, path: str, **kw) -> dict:
    return {"id": pid, "domain": dom, "status": "ok", "reason": None, "path": path, "url": f"http://x/{pid}",
            "size_label": "Large", "license": 4, "license_name": "CC BY 2.0", "owner": f"{pid}@N01",
            "owner_name": f"Owner {pid}", "title": f"Title {pid}", "page_url": f"https://www.flickr.com/photos/o/{pid}/",
            "tags": ["portrait"], "camera": "Apple iPhone 7" if dom == "A" else None, "date_upload": 1000 + len(pid),
            "query": "portrait", **kw}


def make_raw(root: Path) -> Path:
    """A small scrape output with every case the builder must handle."""
    raw = root / "RAW"
    manifests: dict[str, list[dict]] = {"A": [], "B": []}

    def add(dom: str, pid: str, arr: np.ndarray | None, ext: str = "jpg", exif: bytes | None = None,
            mode: str | None = None, **rec_kw) -> Path:
        p = raw / dom / "images" / f"{pid}.{ext}"
        p.parent.mkdir(parents=True, exist_ok=True)
        if arr is not None:
            img = Image.fromarray(arr)
            if mode:
                img = img.convert(mode)
            kw = {"exif": exif} if exif else {}
            img.save(p, **kw)
        manifests[dom].append(_rec(pid, dom, f"images/{pid}.{ext}", **rec_kw))
        return p

    for i in range(8):
        add("A", f"a{i}", photo(100 + i, 160, 120))
        add("B", f"b{i}", photo(200 + i, 120, 160))
    exif = Image.Exif()
    exif[0x0112] = 6
    add("A", "rot", np.asarray(Image.fromarray(photo(300, 160, 120)).transpose(Image.Transpose.ROTATE_90)),
        exif=exif.tobytes())
    add("A", "cmyk", photo(301, 160, 120), mode="CMYK")
    p = add("A", "html", None)
    p.write_text("<html>Service unavailable</html>")
    p = add("A", "trunc", photo(305, 160, 120))
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    add("B", "empty", None).write_bytes(b"")
    gray = np.asarray(Image.fromarray(photo(306, 160, 120)).convert("L"))
    g16 = raw / "A" / "images" / "gray16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(g16)
    manifests["A"].append(_rec("gray16", "A", "images/gray16.png"))
    add("A", "palette", photo(307, 160, 120), ext="png", mode="P")
    frames = [Image.fromarray(photo(s, 160, 120)) for s in (308, 309)]
    frames[0].save(raw / "A" / "images" / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    manifests["A"].append(_rec("anim", "A", "images/anim.gif"))
    add("A", "dup", np.asarray(Image.fromarray(photo(100, 160, 120)).resize((80, 60))))  # near copy of a0
    add("B", "crossdup", photo(201, 120, 160))  # same bytes as B/b1 -> exact dupe
    add("A", "rejected", photo(302, 160, 120))
    # person masks: a sidecar with a tiny area (no person) and an RGBA PNG (paper format) with a big one
    add("B", "noperson", photo(303, 120, 160))
    m = np.zeros((160, 120), np.uint8)
    m[:2, :2] = 255
    Image.fromarray(m).save(raw / "B" / "images" / "noperson.mask.png")
    rgba = np.dstack([photo(304, 120, 160), np.full((160, 120), 255, np.uint8)])
    rgba[:40, :, 3] = 0
    add("B", "rgba", rgba, ext="png")
    manifests["B"].append({**_rec("failed1", "B", None), "status": "failed", "reason": "HTTP 404"})
    for dom, recs in manifests.items():
        with open(raw / dom / "manifest.jsonl", "w") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in recs))
    (raw / "rejects.txt").write_text("# manual review\nrejected\tpost-processed\n")
    return raw


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    raw = make_raw(root)
    out = root / "DATA"
    summary = build_dataset(BuildOptions(raw=str(raw), out=str(out), test_fraction=0.25, max_side=64, seed=1,
                                         workers=1, progress=False))
    return raw, out, summary


def test_build_outputs_and_skips(built):
    raw, out, summary = built
    prov = read_jsonl(out / "provenance.jsonl")
    skipped = {s["id"]: s["reason"] for s in read_jsonl(out / "skipped.jsonl")}
    assert "post-processed" in skipped["rejected"]
    assert "not a decodable image" in skipped["html"]
    assert "truncated" in skipped["trunc"] and "empty" in skipped["empty"]
    assert skipped["noperson"].startswith("no person")
    assert "duplicate" in skipped["dup"] and "duplicate" in skipped["crossdup"]
    assert "failed1" not in {p["id"] for p in prov}
    ids = {p["id"] for p in prov}
    assert ids == ({f"a{i}" for i in range(8)} | {f"b{i}" for i in range(8)}
                   | {"rot", "cmyk", "rgba", "gray16", "palette", "anim"})
    c = summary["counts"]
    assert c["testA"] + c["trainA"] == 13 and c["testB"] + c["trainB"] == 9
    assert c["testA"] >= 2 and c["testB"] >= 2
    for p in prov:
        f = out / p["path"]
        assert f.parent.name == f"{p['split']}{p['domain']}"
        with Image.open(f) as im:
            assert max(im.size) <= 64 and im.size == (p["width"], p["height"])
        assert len(p["source_sha256"]) == 64 and len(p["output_sha256"]) == 64
        assert p["license_name"] and p["owner"] and p["page_url"]
    by_id = {p["id"]: p for p in prov}
    assert (by_id["rot"]["width"], by_id["rot"]["height"]) == (64, 48)  # EXIF orientation applied
    # 16-bit gray is scaled, not clamped to white
    g = np.asarray(Image.open(out / by_id["gray16"]["path"]).convert("L"), dtype=np.float32)
    src = np.asarray(Image.fromarray(photo(306, 160, 120)).convert("L").resize(g.shape[::-1], Image.Resampling.BOX))
    assert abs(g.mean() - src.mean()) < 3
    rgba = out / by_id["rgba"]["path"]
    assert rgba.suffix == ".png" and Image.open(rgba).mode == "RGBA"
    attribution = (out / "ATTRIBUTION.md").read_text()
    assert "Owner a0" in attribution and "CC BY 2.0" in attribution
    assert json.loads((out / "build.json").read_text())["options"]["seed"] == 1


def test_build_is_deterministic_and_resumable(built, tmp_path):
    raw, out, _ = built
    out2 = tmp_path / "DATA2"
    build_dataset(BuildOptions(raw=str(raw), out=str(out2), test_fraction=0.25, max_side=64, seed=1,
                               workers=2, progress=False))
    p1, p2 = (out / "provenance.jsonl").read_text(), (out2 / "provenance.jsonl").read_text()
    strip = lambda t: [{k: v for k, v in json.loads(x).items() if k != "_src_mtime_ns"} for x in t.splitlines()]  # noqa: E731
    assert strip(p1) == strip(p2)
    # resume: nothing re-encoded
    again = build_dataset(BuildOptions(raw=str(raw), out=str(out2), test_fraction=0.25, max_side=64, seed=1,
                                       workers=1, progress=False))
    assert again["written"] == 0 and again["reused"] == 22
    # new seed: files move between train/test without re-encoding; no stale files remain
    moved = build_dataset(BuildOptions(raw=str(raw), out=str(out2), test_fraction=0.25, max_side=64, seed=7,
                                       workers=1, progress=False))
    assert moved["written"] == 0
    files = sorted(p.relative_to(out2).as_posix() for p in out2.glob("*/*") if not p.name.endswith(".mask.png"))
    prov = read_jsonl(out2 / "provenance.jsonl")
    assert files == sorted(p["path"] for p in prov)


def test_assign_splits_never_straddles_clusters():
    cands = [Candidate(domain="A" if i % 2 else "B", rec={"id": str(i)}, src=f"/raw/x/{i}.jpg") for i in range(200)]
    clusters = [Cluster(keep=f"/raw/x/{i}.jpg", drop=[f"/raw/x/{i + 1}.jpg", f"/raw/x/{i + 3}.jpg"], kind="near",
                        distance=3) for i in range(0, 190, 10)]
    assign_splits(cands, clusters, test_fraction=0.3, seed=5)
    split = {c.src: c.split for c in cands}
    for cl in clusters:
        assert len({split[p] for p in [cl.keep, *cl.drop]}) == 1
    n_test = sum(c.split == "test" for c in cands)
    assert 50 <= n_test <= 70
    again = [Candidate(domain=c.domain, rec=c.rec, src=c.src) for c in reversed(cands)]
    assign_splits(again, clusters, test_fraction=0.3, seed=5)
    assert {c.src: c.split for c in again} == split  # independent of input order
    assign_splits(again, clusters, test_fraction=0.3, seed=6)
    assert {c.src: c.split for c in again} != split


def test_parse_rejects_formats(tmp_path):
    f = tmp_path / "rejects.txt"
    f.write_text("# header\n\n123\nA/images/456.jpg\tno real person\n789  # wrong tag\n")
    assert parse_rejects(f) == {"123": "", "A/images/456.jpg": "no real person", "789": "wrong tag"}
    from gan_bokeh.errors import UserError

    with pytest.raises(UserError, match="rejects file not found"):
        parse_rejects(tmp_path / "missing.txt")


def test_review_sheet_and_cached_thumbs(built, tmp_path):
    raw, _, _ = built
    rep = tmp_path / "review"
    summary = write_review(raw, rep, progress=False)
    assert summary["A"]["prechecked"] == 1 and summary["A"]["thumb_errors"] == 2  # the HTML "jpg", truncated
    page = (rep / "A.html").read_text()
    assert 'data-key="rejected"' in page and "Owner a3" in page and "rejects.txt" in page
    thumb = rep / "_thumbs" / "A" / "a0.jpg"
    mtime = thumb.stat().st_mtime_ns
    write_review(raw, rep, domains=("A",), progress=False)
    assert thumb.stat().st_mtime_ns == mtime  # written once


def test_cli_build_and_review(tmp_path, capsys):
    raw = make_raw(tmp_path)
    assert main(["review", "--raw", str(raw), "--domain", "B", "--out", str(tmp_path / "rev")]) == 0
    assert (tmp_path / "rev" / "B.html").is_file() and not (tmp_path / "rev" / "A.html").exists()
    # a dedupe.json in RAW is honoured: keep both near copies (keep_also) -> they share a split; the
    # exact copy B/crossdup it does not mention is still found by the built-in search
    (raw / "dedupe.json").write_text(json.dumps({"clusters": [
        {"keep": str(raw / "A/images/a0.jpg"), "drop": [], "keep_also": ["RAW/A/images/dup.jpg"], "kind": "near",
         "distance": 4}]}))
    rc = main(["build-dataset", "--raw", str(raw), "--out", str(tmp_path / "D"), "--max-side", "48",
               "--workers", "1", "--test-fraction", "0.2"])
    assert rc == 0
    assert "trainA" in capsys.readouterr().out
    prov = {p["id"]: p for p in read_jsonl(tmp_path / "D" / "provenance.jsonl")}
    assert "dup" in prov and "crossdup" not in prov
    assert prov["dup"]["split"] == prov["a0"]["split"]
    # the kept near pair shares a split: a dedupe of the built dataset finds nothing across train/test
    d = tmp_path / "D"
    assert main(["dedupe", *(str(d / s) for s in ("trainA", "testA", "trainB", "testB")), "--workers", "1",
                 "--json", str(tmp_path / "check.json")]) == 0
    clusters = json.loads((tmp_path / "check.json").read_text())["clusters"]
    assert {Path(c["keep"]).stem for c in clusters} == {"a0"} and not any("across" in c for c in clusters)
    capsys.readouterr()
    assert main(["build-dataset", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "E")]) == 2
    assert "run 'gan-bokeh scrape" in capsys.readouterr().err
    assert main(["build-dataset", "--raw", str(raw), "--out", str(tmp_path / "E"), "--test-fraction", "1.5"]) == 2


def test_build_resumes_after_a_crash(tmp_path):
    raw = make_raw(tmp_path)
    out = tmp_path / "D"
    opts = dict(raw=str(raw), out=str(out), max_side=48, workers=1, progress=False)
    first = build_dataset(BuildOptions(**opts))
    prov = read_jsonl(out / "provenance.jsonl")
    # simulate kill -9: one output lost, a torn provenance line, a leftover temp file
    (out / prov[0]["path"]).unlink()
    with open(out / "provenance.jsonl", "a") as fh:
        fh.write('{"id": "a3", "dom')
    (out / "trainA" / ".a5.jpg.tmp123.jpg").write_bytes(b"partial")
    again = build_dataset(BuildOptions(**opts))
    assert again["written"] == 1 and again["reused"] == first["written"] - 1
    assert again["counts"] == first["counts"]
    assert [json.loads(x) for x in (out / "provenance.jsonl").read_text().splitlines()] == read_jsonl(
        out / "provenance.jsonl")


@pytest.mark.browser
def test_review_page_in_real_browser(built, tmp_path, artifacts_dir):
    """Headless Chromium runs the page's JavaScript: a ticked photo becomes a rejects.txt line."""
    import os
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing in CI (apt-get install chromium)")
        pytest.skip("chromium not installed")
    raw, _, _ = built
    rep = tmp_path / "review"
    write_review(raw, rep, domains=("A",), progress=False)
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000"]
    url = (rep / "A.html").resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url + "#selftest"], capture_output=True, text=True,
                         timeout=120).stdout
    import re

    m = re.search(r'<pre id="selftest">(.*?)</pre>', dom)
    assert m is not None, dom[:300]
    got = json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    # the pre-ticked 'rejected' (from RAW/rejects.txt) plus the one the self-test ticked, with its reason
    assert got["count"] == "2" and "rejected\tpost-processed" in got["lines"]
    assert "\tno real person" in got["lines"]
    shot = artifacts_dir / "review_sheet.png"
    subprocess.run([*flags, "--window-size=1100,900", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.is_file()


def test_rejects_reason_after_a_space_and_out_inside_raw_refused(tmp_path, capsys):
    """QA: ``A003 no real person`` silently matched nothing; ``--out RAW`` wrote the dataset among the photos."""
    f = tmp_path / "rejects.txt"
    f.write_text("123 no real person\n/photos/my file.jpg\n")
    got = parse_rejects(f)
    assert got["123"] == "no real person" and "/photos/my file.jpg" in got
    raw = make_raw(tmp_path)
    for out in (raw, raw / "A", raw / "ds"):
        assert main(["build-dataset", "--raw", str(raw), "--out", str(out)]) == 2
        assert "is inside --raw" in capsys.readouterr().err
    assert not (raw / "trainA").exists() and not (raw / "ds").exists()


def test_broken_mask_file_is_named_in_the_skip_reason(tmp_path):
    """QA: a zero-byte ``--mask`` file was reported as "empty file" against the (fine) photo."""
    raw = make_raw(tmp_path)
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "a0.png").write_bytes(b"")
    assert main(["build-dataset", "--raw", str(raw), "--out", str(tmp_path / "D"), "--mask", str(masks),
                 "--max-side", "48", "--workers", "1", "--no-dedupe"]) == 0
    reasons = {r["id"]: r["reason"] for r in read_jsonl(tmp_path / "D" / "skipped.jsonl")}
    assert reasons["a0"].startswith("mask ") and "masks/a0.png: empty file" in reasons["a0"]
