"""Dedupe room: Hamming search (MIH == brute force), hashing of bad/odd files, clusters, --apply."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_bokeh.cli import main
from scrapers import hashing
from scrapers.dedupe import Item, apply_moves, collect_items, find_clusters
from scrapers.hamming import brute_force_pairs, choose_blocks, pairs_within
from scrapers.hashing import HashCache, hash_file, hash_files

# ----------------------------------------------------------------------------------------- helpers


def photo(seed: int, w: int = 96, h: int = 64) -> np.ndarray:
    """A smooth random 'photo' (upsampled noise): distinct seeds give far-apart perceptual hashes."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def planted_hashes(rng: np.random.Generator, n: int, radius: int) -> np.ndarray:
    h = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    k = n // 10
    src, dst = rng.integers(0, n, k), rng.integers(0, n, k)
    for s, d in zip(src, dst, strict=True):
        v = int(h[s])
        for b in rng.choice(64, rng.integers(0, radius + 3), replace=False):
            v ^= 1 << int(b)
        h[d] = v
    h[:4] = h[4]  # a group of identical hashes
    return h


# ----------------------------------------------------------------------------------------- hamming


@pytest.mark.parametrize("radius", [0, 1, 3, 6, 10])
def test_mih_equals_brute_force(radius):
    rng = np.random.default_rng(radius)
    h = planted_hashes(rng, 3000, radius)
    want = brute_force_pairs(h, radius)
    got = pairs_within(h, radius)
    assert want[0].size > 0
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("blocks", [(7, 1), (8, 2), (9, 3), (12, 6)])
def test_mih_every_block_scheme_is_exact(blocks):
    rng = np.random.default_rng(1)
    h = planted_hashes(rng, 1500, 6)
    want = brute_force_pairs(h, 6)
    got = pairs_within(h, 6, blocks=blocks)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_mih_edge_cases():
    e = pairs_within(np.zeros(0, dtype=np.uint64), 3)
    assert all(x.size == 0 for x in e)
    i, j, d = pairs_within(np.array([5, 5, 5], dtype=np.uint64), 0)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)] and d.tolist() == [0, 0, 0]
    i, j, d = pairs_within(np.array([0, 2**64 - 1], dtype=np.uint64), 64)
    assert d.tolist() == [64]
    with pytest.raises(ValueError, match="cannot guarantee"):
        pairs_within(np.arange(10, dtype=np.uint64), 6, blocks=(7, 2))
    for n in (10, 10_000, 1_000_000):
        for r in (0, 6, 12):
            m, k = choose_blocks(n, r)
            assert 1 <= k <= m - r


# ----------------------------------------------------------------------------------------- hashing


def test_exif_rotated_hash_equals_upright(tmp_path):
    up = photo(3, 640, 480)
    save(tmp_path / "up.jpg", up, quality=95)
    save(tmp_path / "up.png", up)
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90° clockwise
    stored = np.asarray(Image.fromarray(up).transpose(Image.Transpose.ROTATE_90))
    save(tmp_path / "rot.jpg", stored, quality=95, exif=exif.tobytes())
    save(tmp_path / "rot.png", stored, exif=exif.tobytes())
    a, b = hash_file(tmp_path / "up.jpg"), hash_file(tmp_path / "rot.jpg")
    assert (b.width, b.height) == (640, 480)
    assert a.phash == b.phash
    assert hash_file(tmp_path / "up.png").phash == hash_file(tmp_path / "rot.png").phash
    # draft decode hashes (near-)equal to a full decode
    full = hash_file(tmp_path / "rot.jpg", draft=False)
    assert bin(full.phash ^ b.phash).count("1") <= 2


def _bomb_png(path: Path, w: int = 30000, h: int = 30000) -> Path:
    """A tiny PNG whose header claims w×h pixels (no need to allocate them)."""
    save(path, np.zeros((4, 4), np.uint8))
    data = bytearray(path.read_bytes())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", w, h)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


def make_bad_and_odd_files(d: Path) -> dict[str, Path]:
    """Every awkward input named in the issue, generated with Pillow."""
    base = photo(7, 128, 96)
    f = {}
    f["ok"] = save(d / "ok.jpg", base, quality=92)
    full = (d / "ok.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(full[: len(full) // 2])
    f["truncated"] = d / "truncated.jpg"
    (d / "empty.jpg").write_bytes(b"")
    f["empty"] = d / "empty.jpg"
    (d / "html.jpg").write_text("<!doctype html><html><body>429 Too Many Requests</body></html>")
    f["html"] = d / "html.jpg"
    f["cmyk"] = d / "cmyk.jpg"
    Image.fromarray(base).convert("CMYK").save(f["cmyk"], quality=92)
    gray8 = np.asarray(Image.fromarray(base).convert("L"))
    f["gray"] = save(d / "gray.png", gray8)
    f["gray16"] = d / "gray16.png"
    Image.fromarray(gray8.astype(np.uint16) * 257).save(f["gray16"])
    pal = Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    f["palette"] = d / "palette.png"
    pal.save(f["palette"], transparency=0)
    frames = [Image.fromarray(photo(s, 64, 48)) for s in (8, 9, 10)]
    f["gif"] = d / "anim.gif"
    frames[0].save(f["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    f["bomb"] = _bomb_png(d / "bomb.png")
    return f


def test_hash_bad_inputs_never_raise(tmp_path):
    files = make_bad_and_odd_files(tmp_path)
    recs = {k: hash_file(p) for k, p in files.items()}
    for bad in ("truncated", "empty", "html", "bomb"):
        assert recs[bad].phash is None and recs[bad].error, bad
        assert len(recs[bad].sha256) == 64
    assert "empty" in recs["empty"].error
    assert "not a decodable image" in recs["html"].error
    assert "pixel" in recs["bomb"].error or "bomb" in recs["bomb"].error
    for good in ("ok", "cmyk", "gray", "gray16", "palette", "gif"):
        assert recs[good].error is None and recs[good].phash is not None, good
    # 16-bit data is scaled, not clamped: it hashes like its 8-bit copy
    assert recs["gray16"].phash == recs["gray"].phash
    # CMYK and grayscale copies of the same photo stay near the RGB original
    assert bin(recs["cmyk"].phash ^ recs["ok"].phash).count("1") <= 6
    assert bin(recs["gray"].phash ^ recs["ok"].phash).count("1") <= 6
    # animated GIF: frame 0
    g0 = hashing.phash_image(Image.open(files["gif"]).convert("RGB"))
    assert recs["gif"].phash == g0


def test_hash_cache_skips_unchanged_files(tmp_path, monkeypatch):
    d = tmp_path / "imgs"
    paths = [save(d / f"{i}.png", photo(i, 48, 32)) for i in range(4)]
    cache_file = tmp_path / "cache.jsonl"
    first = hash_files(paths, cache=HashCache(cache_file), workers=1, progress=False)
    calls = []
    real = hashing._hash_worker
    monkeypatch.setattr(hashing, "_hash_worker", lambda a: calls.append(a[0]) or real(a))
    again = hash_files(paths, cache=HashCache(cache_file), workers=1, progress=False)
    assert calls == [] and [a.phash for a in again] == [f.phash for f in first]
    st = paths[2].stat()
    os.utime(paths[2], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    hash_files(paths, cache=HashCache(cache_file), workers=1, progress=False)
    assert calls == [str(paths[2])]
    assert len(cache_file.read_text().splitlines()) == 4  # compacted: one line per file


def test_parallel_hashing_matches_serial(tmp_path):
    paths = [save(tmp_path / f"{i}.jpg", photo(i, 64, 48)) for i in range(10)]
    serial = hash_files(paths, workers=1, progress=False)
    par = hash_files(paths, workers=2, progress=False)
    assert [(a.path, a.phash, a.sha256) for a in serial] == [(b.path, b.phash, b.sha256) for b in par]


# ----------------------------------------------------------------------------------------- clusters


def _raw_domain(root: Path, dom: str, specs: list[tuple[str, np.ndarray, int, dict]]) -> None:
    """Write images + a scrape manifest: specs = (id, pixels, date_upload, save-kwargs)."""
    lines = []
    for pid, arr, date, kw in specs:
        ext = kw.pop("ext", "jpg")
        save(root / dom / "images" / f"{pid}.{ext}", arr, **kw)
        lines.append(json.dumps({"id": pid, "domain": dom, "status": "ok", "path": f"images/{pid}.{ext}",
                                 "date_upload": date}))
    (root / dom / "manifest.jsonl").write_text("\n".join(lines) + "\n")


def test_clusters_keep_rule_kinds_and_across(tmp_path):
    raw = tmp_path / "RAW"
    a = photo(1, 192, 128)
    small_a = np.asarray(Image.fromarray(a).resize((96, 64), Image.Resampling.LANCZOS))
    _raw_domain(raw, "A", [
        ("a_big", a, 200, {"quality": 95}),
        ("a_small", small_a, 100, {"quality": 90}),  # earlier, but smaller: not kept
        ("other", photo(2, 192, 128), 50, {"quality": 95}),
    ])
    _raw_domain(raw, "B", [
        ("b_copy", a, 300, {"quality": 95}),  # same bytes as A/a_big, later
        ("b_twin1", photo(5, 96, 64), 20, {"quality": 95}),
        ("b_twin2", photo(5, 96, 64), 10, {"quality": 95}),  # identical bytes, earlier upload: kept
    ])
    items = collect_items([raw / "A", raw / "B"], workers=1, progress=False)
    clusters = {Path(c.keep).stem: c for c in find_clusters(items, radius=6)}
    assert set(clusters) == {"a_big", "b_twin2"}
    big = clusters["a_big"]
    assert sorted(Path(p).stem for p in big.drop) == ["a_small", "b_copy"]
    assert big.kind == "near" and big.distance <= 6 and len(big.roots) == 2  # across A and B
    twin = clusters["b_twin2"]
    assert twin.kind == "exact" and twin.distance == 0 and "sha256" in twin.reasons


def test_paper_rule_is_confirmed_by_phash_unless_strict(tmp_path):
    # Two different photos as BMPs of equal resolution: identical resolution AND identical file size.
    p1 = save(tmp_path / "x.bmp", photo(11, 64, 48))
    p2 = save(tmp_path / "y.bmp", photo(12, 64, 48))
    assert p1.stat().st_size == p2.stat().st_size
    items = [Item(path=str(p), hash=hash_file(p), root="d") for p in (p1, p2)]
    assert bin(items[0].hash.phash ^ items[1].hash.phash).count("1") > 16
    assert find_clusters(items, radius=6) == []
    strict = find_clusters(items, radius=6, strict_paper_rule=True)
    assert len(strict) == 1 and strict[0].kind == "exact" and strict[0].reasons == ["size+resolution"]


def test_cli_dedupe_json_report_apply_idempotent(tmp_path, capsys):
    d = tmp_path / "photos"
    a = photo(21, 160, 120)
    save(d / "keep.jpg", a, quality=95)
    save(d / "sub" / "copy.jpg", np.asarray(Image.fromarray(a).resize((80, 60))), quality=80)
    save(d / "sub" / "copy.mask.png", np.zeros((60, 80), np.uint8))
    save(d / "unique.jpg", photo(22, 160, 120))
    (d / "broken.jpg").write_bytes(b"<html>oops</html>")
    out_json, report = tmp_path / "dedupe.json", tmp_path / "report.html"
    rc = main(["dedupe", str(d), "--radius", "6", "--json", str(out_json), "--report", str(report),
               "--apply", "--workers", "1"])
    assert rc == 0
    doc = json.loads(out_json.read_text())
    assert len(doc["clusters"]) == 1
    c = doc["clusters"][0]
    assert set(c) >= {"keep", "drop", "kind", "distance"}
    assert Path(c["keep"]).name == "keep.jpg" and [Path(p).name for p in c["drop"]] == ["copy.jpg"]
    assert doc["skipped"][0]["path"].endswith("broken.jpg")
    assert "keep.jpg" in report.read_text() and list((tmp_path / "_report_thumbs").glob("*.jpg"))
    moved = d / "_duplicates" / "sub" / "copy.jpg"
    assert moved.is_file() and (d / "_duplicates" / "sub" / "copy.mask.png").is_file()
    assert not (d / "sub" / "copy.jpg").exists() and (d / "keep.jpg").exists()
    assert "moved 1" in capsys.readouterr().out
    # second run: _duplicates/ is not scanned, nothing left to move, nothing deleted
    assert main(["dedupe", str(d), "--apply", "--workers", "1"]) == 0
    assert "0 clusters" in capsys.readouterr().out and moved.is_file()
    # re-applying the old clusters is a no-op too
    from scrapers.dedupe import load_dedupe_json

    assert apply_moves(load_dedupe_json(out_json), [d])["already"] == 1


def test_cli_dedupe_user_errors(tmp_path, capsys):
    assert main(["dedupe", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["dedupe", str(tmp_path), "--radius", "99"]) == 2


@pytest.mark.shared_data
def test_real_photos_recompressed_copies_cluster_with_originals(shared_data, tmp_path):
    """Half-size, re-encoded copies of real portraits are found (radius 6); distinct portraits are not."""
    originals = sorted((shared_data / "u2net_human_seg" / "images").iterdir())[:8]
    assert len(originals) >= 4
    copies = []
    for p in originals:
        with Image.open(p) as im:
            im = im.convert("RGB")
            small = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
        copies.append(save(tmp_path / f"copy_{p.stem}.jpg", np.asarray(small), quality=75))
    items = [Item(path=str(p), hash=fh, root="real" if i < len(originals) else "copies")
             for i, (p, fh) in enumerate(zip(originals + copies,
                                             hash_files(originals + copies, workers=1, progress=False), strict=True))]
    clusters = find_clusters(items, radius=6)
    got = sorted((Path(c.keep).name, tuple(Path(d).name for d in c.drop)) for c in clusters)
    assert got == sorted((p.name, (f"copy_{p.stem}.jpg",)) for p in originals)
    assert all(c.kind == "near" and c.distance <= 6 for c in clusters)


def test_identical_undecodable_files_are_skipped_not_clustered(tmp_path, capsys):
    """QA: two identical HTML error pages (or two zero-byte files) formed an "exact" cluster whose kept
    file was the HTML page; undecodable files are only reported as skipped."""
    for dom in ("A", "B"):
        (tmp_path / dom).mkdir()
        (tmp_path / dom / "page.jpg").write_text("<html>429 Too Many Requests</html>")
        (tmp_path / dom / "zero.jpg").write_bytes(b"")
    save(tmp_path / "A" / "ok.jpg", photo(5))
    out = tmp_path / "d.json"
    assert main(["dedupe", str(tmp_path / "A"), str(tmp_path / "B"), "--workers", "1", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["clusters"] == [] and len(doc["skipped"]) == 4
    assert capsys.readouterr().out.startswith("dedupe: 5 files: 0 clusters")
