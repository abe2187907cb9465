"""``build-dataset``: scrape manifests → the unpaired ``trainA/ trainB/ testA/ testB/`` folders.

Pipeline (each step records why an item is left out; nothing stops the job):

1. ``ok`` records of ``RAW/A`` and ``RAW/B`` whose file exists;
2. minus ``rejects.txt`` entries (manual review, paper §3.1);
3. minus duplicates: ``RAW/dedupe.json`` when present (the reviewed truth, possibly hand-edited),
   else clusters computed here (cached hashes) and saved as ``DATASET/dedupe.json``;
4. split per seed: near-duplicate clusters are split as one unit, so a photo and its near copy never
   straddle train/test; per domain the groups are ordered by ``sha256(seed, group)`` and the first ones
   up to ``round(F·n)`` items become test;
5. decode (EXIF applied, CMYK/16-bit/palette normalised), drop photos whose person mask (the one rule
   of :mod:`gan_bokeh.io.masks`: ``--masks DIR``, a ``.mask.png`` sidecar, else a not fully opaque alpha)
   covers less than ``--min-person-area``, resize to ``--max-side`` (OpenCV ``INTER_AREA``), write atomically;
6. ``provenance.jsonl`` (one line per output: source id, domain, split, licence, owner, page URL,
   sha256 of source and output), ``skipped.jsonl``, ``build.json`` and ``ATTRIBUTION.md``.

Re-running resumes: outputs whose source, options and split are unchanged are kept, moved between
train/test when only the split changed, and outputs no longer planned are removed (only files this
tool wrote, as listed in ``provenance.jsonl``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import (
    MASK_SUFFIX,
    append_jsonl,
    atomic_write_text,
    find_mask,
    open_image,
    pil_to_rgb_alpha,
    read_jsonl,
    resize_image,
    to_uint8,
    write_image,
)
from scrapers.attribution import attribution_line, license_info
from scrapers.dedupe import DEFAULT_RADIUS, Cluster, Item, _UnionFind, find_clusters, load_dedupe_json
from scrapers.hashing import HashCache, hash_files, sha256_file
from scrapers.review import parse_rejects, read_manifest, reject_reason

__all__ = ["BuildOptions", "Candidate", "assign_splits", "build_dataset", "process_item"]

log = logging.getLogger(__name__)

DOMAINS = ("A", "B")


@dataclass
class BuildOptions:
    raw: str
    out: str
    test_fraction: float = 0.1
    max_side: int = 512
    seed: int = 0
    rejects: str | None = None
    masks: str | None = None
    min_person_area: float = 0.02
    dedupe: bool = True
    radius: int = DEFAULT_RADIUS
    quality: int = 95
    workers: int = 2
    progress: bool = True

    def validate(self) -> None:
        if not 0.0 <= self.test_fraction < 1.0:
            raise UserError(f"--test-fraction {self.test_fraction}: must be in [0, 1)")
        if self.max_side < 16:
            raise UserError(f"--max-side {self.max_side}: must be at least 16 pixels")
        if not 0.0 <= self.min_person_area < 1.0:
            raise UserError(f"--min-person-area {self.min_person_area}: must be a fraction in [0, 1)")
        if not (Path(self.raw) / "A" / "manifest.jsonl").is_file() and \
                not (Path(self.raw) / "B" / "manifest.jsonl").is_file():
            raise UserError(f"{self.raw}: no A/manifest.jsonl or B/manifest.jsonl; run 'gan-bokeh scrape --out "
                            f"{self.raw}' first (or pass the right --raw)")
        if self.masks is not None and not Path(self.masks).is_dir():
            raise UserError(f"--masks {self.masks}: no such folder")
        raw_r, out_r = Path(self.raw).resolve(), Path(self.out).resolve()
        if out_r == raw_r or raw_r in out_r.parents:
            # the dataset would land among the scraped photos (and be scanned by the next dedupe/build)
            raise UserError(f"--out {self.out}: is inside --raw {self.raw}; write the dataset to its own folder")


@dataclass
class Candidate:
    domain: str
    rec: dict
    src: str
    split: str = ""
    group: str = ""

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.rec['id']}"


# --------------------------------------------------------------------------------------------- planning


def _collect(opts: BuildOptions, skipped: list[dict]) -> list[Candidate]:
    raw = Path(opts.raw)
    rejects_path = opts.rejects
    if rejects_path is None and (raw / "rejects.txt").is_file():
        rejects_path = str(raw / "rejects.txt")
    rejects = parse_rejects(rejects_path)
    out = []
    for dom in DOMAINS:
        for rec in read_manifest(raw, dom):
            base = {"id": str(rec.get("id")), "domain": dom}
            if rec.get("status") != "ok" or not rec.get("path"):
                continue  # failed/skipped downloads are the scraper's business (its manifest has the reason)
            src = raw / dom / str(rec["path"])
            if not src.is_file():
                skipped.append({**base, "reason": f"file missing: {src} (moved to _duplicates?)"})
                continue
            why = reject_reason(rejects, raw=raw, domain=dom, rec=rec)
            if why is not None:
                skipped.append({**base, "reason": f"rejected: {why}"})
                continue
            out.append(Candidate(domain=dom, rec=rec, src=str(src)))
    return out


def _resolve_candidates(p: str, bases: Sequence[Path]) -> list[Path]:
    q = Path(p)
    if q.is_absolute():
        return [q.resolve()]
    return [(b / q).resolve() for b in bases]


def _json_clusters(raw: Path, cands: list[Candidate]) -> list[tuple[list[Candidate], list[Candidate]]]:
    """``RAW/dedupe.json`` clusters as ``(kept, dropped)`` candidates; paths resolved against cwd and RAW.

    ``kept`` = ``keep`` then ``keep_also`` (a hand edit: "not a duplicate"); files that are not build
    candidates (rejected, missing) are left out.
    """
    dj = raw / "dedupe.json"
    if not dj.is_file():
        return []
    clusters = load_dedupe_json(dj)
    log.info("using %s (%d clusters)", dj, len(clusters))
    bases = [Path.cwd(), raw, raw.parent]
    by_path = {Path(c.src).resolve(): c for c in cands}

    def find(paths: Sequence[str]) -> list[Candidate]:
        found = (next((by_path[q] for q in _resolve_candidates(p, bases) if q in by_path), None) for p in paths)
        return [c for c in found if c is not None]

    return [(find([cl.keep, *cl.keep_also]), find(cl.drop)) for cl in clusters]


def _auto_clusters(opts: BuildOptions, cands: list[Candidate]) -> list[list[Candidate]]:
    """Built-in search over the candidates (cached hashes); saved as ``DATASET/dedupe.json``."""
    raw = Path(opts.raw)
    fhs = hash_files([c.src for c in cands], cache=HashCache(raw / ".gan-bokeh-hashes.jsonl"),
                     workers=opts.workers, progress=opts.progress)
    items = [Item(path=c.src, hash=fh, root=c.domain, photo_id=str(c.rec["id"]),
                  date=float(c.rec.get("date_upload") or fh.mtime_ns / 1e9))
             for c, fh in zip(cands, fhs, strict=True)]
    clusters = find_clusters(items, radius=opts.radius)
    doc = {"clusters": [c.to_dict() for c in clusters], "radius": opts.radius}
    atomic_write_text(Path(opts.out) / "dedupe.json", json.dumps(doc, indent=1))
    by_src = {c.src: c for c in cands}
    return [[by_src[p] for p in [cl.keep, *cl.drop]] for cl in clusters]


def _dedupe(opts: BuildOptions, cands: list[Candidate], skipped: list[dict],
            ) -> tuple[list[Candidate], list[list[Candidate]]]:
    """Drop duplicates; return the survivors and all clusters (for split grouping).

    ``RAW/dedupe.json`` (reviewed, maybe hand-edited) decides for every file it mentions (``keep``,
    ``keep_also``, ``drop``). The built-in search still runs (unless ``--no-dedupe``) so duplicates the
    JSON does not know about — photos scraped after it was written — are dropped too, keeping the JSON's
    kept files, else the best-ranked survivor of each cluster. Every cluster, kept or not, is one unit
    for the train/test split.
    """
    json_cl = _json_clusters(Path(opts.raw), cands)
    auto_cl = _auto_clusters(opts, cands) if opts.dedupe and len(cands) > 1 else []
    mentioned = {c.key for kept, gone in json_cl for c in (*kept, *gone)}
    dropped: dict[str, str] = {}

    def drop(c: Candidate, keep: Candidate | None, why: str) -> None:
        if c.key not in dropped:
            dropped[c.key] = why
            skipped.append({"id": str(c.rec["id"]), "domain": c.domain,
                            "reason": f"duplicate ({why}) of {keep.key if keep else 'a file not in the build'}"})

    for kept, gone in json_cl:
        for c in gone:
            drop(c, kept[0] if kept else None, "RAW/dedupe.json")
    for cl in auto_cl:
        alive = [c for c in cl if c.key not in dropped]  # in rank order: best first
        keep = [c for c in alive if c.key in mentioned] or alive[:1]
        for c in alive:
            if c not in keep and c.key not in mentioned:
                drop(c, keep[0], "near or exact copy")
    groups = [kept + gone for kept, gone in json_cl] + auto_cl
    return [c for c in cands if c.key not in dropped], groups


def _unit(seed: int, group: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big")


def assign_splits(cands: list[Candidate], clusters: Sequence[Cluster | Sequence[Candidate]], *,
                  test_fraction: float, seed: int, bases: Sequence[Path] = ()) -> None:
    """Set ``split`` ("train"/"test") on each candidate, keeping every cluster on one side.

    ``clusters`` are :class:`Cluster` objects (paths, resolved against ``bases``) or lists of
    candidates. Deterministic for ``seed``: it depends only on the candidate ids and the clusters, not
    on file order.
    """
    idx = {Path(c.src).resolve(): i for i, c in enumerate(cands)}
    by_key = {c.key: i for i, c in enumerate(cands)}
    uf = _UnionFind(len(cands))
    bases = list(bases) or [Path.cwd()]
    for cl in clusters:
        if isinstance(cl, Cluster):
            members = [idx[q] for p in [cl.keep, *cl.drop] for q in _resolve_candidates(p, bases) if q in idx]
        else:
            members = [by_key[c.key] for c in cl if c.key in by_key]
        for m in members[1:]:
            uf.union(members[0], m)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(cands)):
        groups[uf.find(i)].append(i)
    for members in groups.values():
        name = min(cands[i].key for i in members)
        for i in members:
            cands[i].group = name
    decided: dict[str, str] = {}
    for dom in DOMAINS:
        dom_groups = sorted({c.group for c in cands if c.domain == dom}, key=lambda g: (_unit(seed, g), g))
        sizes = defaultdict(int)
        for c in cands:
            if c.domain == dom:
                sizes[c.group] += 1
        target = round(test_fraction * sum(sizes.values()))
        n_test = sum(sizes[g] for g in dom_groups if decided.get(g) == "test")
        for g in dom_groups:
            if g in decided:
                continue
            if n_test < target:
                decided[g] = "test"
                n_test += sizes[g]
            else:
                decided[g] = "train"
    for c in cands:
        c.split = decided[c.group]


# --------------------------------------------------------------------------------------------- processing


@dataclass
class Job:
    src: str
    dest: str  # absolute output path (extension decided here: .png if the source carries an alpha mask)
    max_side: int
    quality: int
    min_person_area: float
    masks: str | None


@dataclass
class Result:
    status: str  # "ok" | "skipped"
    reason: str | None = None
    path: str | None = None
    mask: str | None = None
    width: int = 0
    height: int = 0
    person_area: float | None = None
    output_sha256: str | None = None
    extra: dict = field(default_factory=dict)


def _resize(arr: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (area filter) so the long side is at most ``max_side``; never enlarges."""
    h, w = arr.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return arr
    return resize_image(arr, (max(1, round(h * s)), max(1, round(w * s))))


def process_item(job: Job) -> Result:
    """Decode, check the person mask, resize and write one photo; never raises for bad input."""
    src, dest = Path(job.src), Path(job.dest)
    try:
        # Draft decode at ≥ max_side (JPEG), then EXIF orientation, then exact INTER_AREA resize.
        rgb, alpha = pil_to_rgb_alpha(open_image(src, draft=(job.max_side, job.max_side)))
        source = find_mask(src, job.masks, alpha=alpha)  # the one mask rule (gan_bokeh.io.masks)
        mask = source.load(alpha, rgb.shape[:2]) if source is not None else None
    except BadImageError as err:  # the photo, or its mask file (then named: the photo itself is fine)
        return Result("skipped", reason=err.reason if Path(err.path) == src else f"mask {err}")
    except Exception as err:  # noqa: BLE001 - one odd file must not stop a batch
        return Result("skipped", reason=f"cannot decode ({type(err).__name__}: {err})")
    area = None
    if mask is not None:
        area = float((mask > 0.5).mean())
        if area < job.min_person_area:
            return Result("skipped", reason=f"no person: mask covers {area:.1%} < {job.min_person_area:.1%}",
                          person_area=area)
    rgb8 = _resize(to_uint8(rgb), job.max_side)
    h, w = rgb8.shape[:2]
    mask_out = None
    if source is not None and source.kind == "alpha":
        dest = dest.with_suffix(".png")  # the paper's format: RGBA PNG, alpha = person mask
        write_image(dest, rgb8, alpha=_resize(to_uint8(alpha), job.max_side))
    else:
        dest = dest.with_suffix(".jpg")
        write_image(dest, rgb8, quality=job.quality)
        if mask is not None:
            mask_out = dest.with_name(dest.stem + MASK_SUFFIX)
            write_image(mask_out, _resize(to_uint8(mask), job.max_side))
    return Result("ok", path=str(dest), mask=str(mask_out) if mask_out else None, width=w, height=h,
                  person_area=area, output_sha256=sha256_file(dest))


# --------------------------------------------------------------------------------------------- outputs


def _licence_name(rec: dict) -> str:
    return str(rec.get("license_name") or license_info(rec.get("license"))[0])


def _provenance(c: Candidate, res: Result, out: Path, opts: BuildOptions, src_stat: os.stat_result) -> dict:
    rec = c.rec
    return {
        "id": str(rec["id"]), "domain": c.domain, "split": c.split,
        "path": Path(res.path).relative_to(out).as_posix(),
        "mask": Path(res.mask).relative_to(out).as_posix() if res.mask else None,
        "source": Path(c.src).relative_to(opts.raw).as_posix(),
        "source_sha256": rec.get("sha256") or sha256_file(c.src),
        "output_sha256": res.output_sha256, "width": res.width, "height": res.height,
        "person_area": res.person_area,
        "license": rec.get("license"), "license_name": _licence_name(rec),
        "license_url": rec.get("license_url") or license_info(rec.get("license"))[1],
        "owner": rec.get("owner"), "owner_name": rec.get("owner_name"), "title": rec.get("title"),
        "page_url": rec.get("page_url"), "url": rec.get("url"), "camera": rec.get("camera"),
        "query": rec.get("query"), "date_upload": rec.get("date_upload"),
        # Resume keys: the output is reused while these are unchanged.
        "_src_size": src_stat.st_size, "_src_mtime_ns": src_stat.st_mtime_ns,
        "_opts": _opts_key(opts),
    }


def _opts_key(opts: BuildOptions) -> str:
    return f"max_side={opts.max_side};q={opts.quality};min_person={opts.min_person_area};masks={opts.masks}"


def _attribution(prov: Sequence[dict]) -> str:
    lines = ["# Attribution", "",
             "Photos in this dataset were collected from Flickr. Each remains the property of its author and "
             "is used under the licence named below; keep this file with the data.", ""]
    by = defaultdict(list)
    for p in prov:
        by[(p["split"], p["domain"])].append(p)
    for split in ("train", "test"):
        for dom in DOMAINS:
            rows = sorted(by.get((split, dom), []), key=lambda p: p["path"])
            if not rows:
                continue
            lines += [f"## {split}{dom} ({len(rows)} photos)", ""]
            lines += [attribution_line(p) for p in rows]
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- driver


def _reuse(prev: dict | None, c: Candidate, opts: BuildOptions, out: Path, st: os.stat_result) -> dict | None:
    """A previous provenance record still valid for this candidate (moving it if the split changed)."""
    if prev is None or prev.get("_opts") != _opts_key(opts) or prev.get("_src_size") != st.st_size or \
            prev.get("_src_mtime_ns") != st.st_mtime_ns:
        return None
    old = out / prev["path"]
    if not old.is_file():
        return None
    new = out / f"{c.split}{c.domain}" / old.name
    if new != old:
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)
        if prev.get("mask") and (out / prev["mask"]).is_file():
            os.replace(out / prev["mask"], new.with_name(Path(prev["mask"]).name))
    mask = prev.get("mask")
    return {**prev, "split": c.split, "path": new.relative_to(out).as_posix(),
            "mask": (new.parent.relative_to(out) / Path(mask).name).as_posix() if mask else None}


def _remove_stale(out: Path, prev: dict[str, dict], current: set[str]) -> int:
    n = 0
    for key, p in prev.items():
        if key in current:
            continue
        for rel in (p.get("path"), p.get("mask")):
            if rel and (out / rel).is_file():
                (out / rel).unlink()
                n += 1
    return n


def build_dataset(opts: BuildOptions) -> dict[str, object]:
    """Run the whole pipeline; returns the summary also written to ``DATASET/build.json``."""
    opts.validate()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    skipped: list[dict] = []
    cands = _collect(opts, skipped)
    cands, clusters = _dedupe(opts, cands, skipped)
    assign_splits(cands, clusters, test_fraction=opts.test_fraction, seed=opts.seed)

    prov_path = out / "provenance.jsonl"
    prev = {f"{r['domain']}/{r['id']}": r for r in read_jsonl(prov_path) if "id" in r and "domain" in r}
    final: dict[str, dict] = {}
    jobs: list[tuple[Candidate, Job, os.stat_result]] = []
    for c in cands:
        st = Path(c.src).stat()
        reused = _reuse(prev.get(c.key), c, opts, out, st)
        if reused is not None:
            final[c.key] = reused
            continue
        old = prev.get(c.key)  # stale output of this id in another place/format: remove it first
        if old:
            _remove_stale(out, {c.key: old}, set())
        dest = out / f"{c.split}{c.domain}" / f"{_safe_name(str(c.rec['id']))}.jpg"
        jobs.append((c, Job(str(c.src), str(dest), opts.max_side, opts.quality, opts.min_person_area,
                            opts.masks), st))
    removed = _remove_stale(out, prev, {c.key for c in cands})

    for (c, _job, st), res in zip(jobs, _run_jobs([j for _, j, _ in jobs], opts), strict=True):  # lazily
        if res.status != "ok":
            skipped.append({"id": str(c.rec["id"]), "domain": c.domain, "reason": res.reason})
            continue
        rec = _provenance(c, res, out, opts, st)
        append_jsonl(prov_path, rec, fsync=False)  # crash-safe progress; compacted below
        final[c.key] = rec

    prov = sorted(final.values(), key=lambda r: (r["split"], r["domain"], r["path"]))
    atomic_write_text(prov_path, "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in prov))
    atomic_write_text(out / "skipped.jsonl",
                      "".join(json.dumps(s, sort_keys=True, ensure_ascii=False) + "\n" for s in skipped))
    atomic_write_text(out / "ATTRIBUTION.md", _attribution(prov))
    counts = {f"{s}{d}": sum(1 for r in prov if r["split"] == s and r["domain"] == d)
              for s in ("train", "test") for d in DOMAINS}
    written = {c.key for c, _, _ in jobs} & final.keys()
    summary = {"options": {k: v for k, v in asdict(opts).items() if k not in ("progress", "workers")},
               "counts": counts, "written": len(written), "reused": len(final) - len(written),
               "skipped": len(skipped), "removed_stale": removed, "clusters": len(clusters)}
    atomic_write_text(out / "build.json", json.dumps(summary, indent=1, sort_keys=True))
    return summary


def _safe_name(pid: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in pid)
    return keep.strip(".") or hashlib.sha1(pid.encode()).hexdigest()[:12]


def _run_jobs(jobs: list[Job], opts: BuildOptions) -> Iterator[Result]:
    """Results in job order, yielded as they finish (so provenance is appended as the run goes)."""
    from tqdm import tqdm

    bar = {"total": len(jobs), "desc": "build", "unit": "img", "disable": not opts.progress or None}
    if opts.workers <= 1 or len(jobs) < 8:
        yield from (process_item(j) for j in tqdm(jobs, **bar))
        return
    with ProcessPoolExecutor(max_workers=opts.workers) as ex:
        yield from tqdm(ex.map(process_item, jobs, chunksize=4), **bar)
