"""Exact and near-duplicate clusters of photos, and moving the duplicates aside.

Edges between two files (then union-find clusters):

* ``sha256`` — identical bytes;
* ``size+resolution`` — the paper's rule (§3.1): identical oriented resolution *and* identical file
  size. On thousands of same-model phone photos this rule alone produces chance collisions, so by
  default it also asks the perceptual hashes to be within :data:`PAPER_RULE_CONFIRM` bits when both
  files decode (``strict_paper_rule=True`` applies it unconfirmed, as the paper did);
* ``phash`` — perceptual hashes within Hamming radius ``R`` (:mod:`scrapers.hamming`).

In each cluster the kept file is the largest resolution, then the earliest (Flickr ``date_upload``
from a scrape manifest when known, else the file's mtime), then the smallest path. A cluster is
``exact`` when its members are joined by exact edges alone, else ``near``; ``distance`` is the largest
perceptual distance between the kept file and a dropped one.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_bokeh.errors import UserError
from gan_bokeh.io import MASK_SUFFIX, append_jsonl, list_images, read_jsonl
from scrapers.hamming import pairs_within
from scrapers.hashing import FileHash, HashCache, hash_files

__all__ = [
    "DEFAULT_RADIUS", "DUPLICATES_DIR", "Cluster", "Item", "apply_moves", "collect_items", "find_clusters",
    "load_dedupe_json", "clusters_to_json", "list_dedupe_images",
]

log = logging.getLogger(__name__)

DEFAULT_RADIUS = 6
#: Folder (inside each scanned DIR) that receives moved duplicates; never scanned itself.
DUPLICATES_DIR = "_duplicates"
#: Max phash distance that confirms the paper's size+resolution rule (see module docstring).
PAPER_RULE_CONFIRM = 16


@dataclass
class Item:
    """One scanned file with what ranking needs."""

    path: str
    hash: FileHash
    root: str = ""  # the DIR argument it was found under
    date: float = 0.0  # Flickr date_upload, else mtime (seconds)
    photo_id: str | None = None

    @property
    def pixels(self) -> int:
        return (self.hash.width or 0) * (self.hash.height or 0)


@dataclass
class Cluster:
    keep: str
    drop: list[str]
    kind: str  # "exact" | "near"
    distance: int
    reasons: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    keep_also: list[str] = field(default_factory=list)  # hand-edited: "not a duplicate, keep it too"

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"keep": self.keep, "drop": self.drop, "kind": self.kind,
                                "distance": self.distance, "reasons": self.reasons}
        if self.keep_also:
            d["keep_also"] = self.keep_also
        if len(self.roots) > 1:
            d["across"] = self.roots  # e.g. ["RAW/A", "RAW/B"] or ["DATA/trainA", "DATA/testA"]
        return d


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[a] != root:  # path compression
            self.parent[a], a = root, self.parent[a]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def list_dedupe_images(dirs: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str]]:
    """Images under each DIR (recursive), skipping ``_*`` and hidden folders; ``(path, root)`` pairs."""
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for d in dirs:
        root = Path(d)
        if not root.exists():
            raise UserError(f"{root}: no such file or folder")
        for p in list_images(root, recursive=True):
            rel = p.relative_to(root).parts[:-1] if root.is_dir() else ()
            if any(part.startswith(("_", ".")) for part in rel):
                continue
            rp = p.resolve()
            if rp not in seen:
                seen.add(rp)
                out.append((p, str(d)))
    return out


def _manifest_meta(paths: Sequence[Path]) -> dict[Path, dict]:
    """Scrape-manifest records by resolved file path (manifest.jsonl up to 3 folders above a file)."""
    manifests: dict[Path, dict[Path, dict]] = {}
    out: dict[Path, dict] = {}
    for p in paths:
        rp = p.resolve()
        for parent in list(rp.parents)[:3]:
            mf = parent / "manifest.jsonl"
            if parent not in manifests:
                recs: dict[Path, dict] = {}
                if mf.is_file():
                    for r in read_jsonl(mf):
                        if r.get("path"):
                            recs[(parent / r["path"]).resolve()] = r  # last line per file wins
                manifests[parent] = recs
            if rp in manifests[parent]:
                out[rp] = manifests[parent][rp]
                break
    return out


def collect_items(dirs: Sequence[str | os.PathLike[str]], *, cache_path: str | os.PathLike[str] | None = None,
                  workers: int = 2, progress: bool = True) -> list[Item]:
    """List, hash (cached) and annotate every image under ``dirs``."""
    listed = list_dedupe_images(dirs)
    paths = [p for p, _ in listed]
    hashes = hash_files(paths, cache=HashCache(cache_path), workers=workers, progress=progress)
    meta = _manifest_meta(paths)
    items = []
    for (p, root), fh in zip(listed, hashes, strict=True):
        rec = meta.get(p.resolve(), {})
        date = rec.get("date_upload")
        items.append(Item(path=str(p), hash=fh, root=root,
                          date=float(date) if date is not None else fh.mtime_ns / 1e9,
                          photo_id=rec.get("id")))
    return items


def _rank_key(it: Item) -> tuple:
    return (-it.pixels, it.date, it.path)


def find_clusters(items: Sequence[Item], *, radius: int = DEFAULT_RADIUS, strict_paper_rule: bool = False,
                  ) -> list[Cluster]:
    """Duplicate clusters (size ≥ 2) among ``items``, sorted by kept path."""
    n = len(items)
    exact = _UnionFind(n)
    full = _UnionFind(n)
    reasons: dict[tuple[int, int], set[str]] = defaultdict(set)
    ph = np.array([it.hash.phash if it.hash.phash is not None else 0 for it in items], dtype=np.uint64)
    has_ph = np.array([it.hash.phash is not None for it in items], dtype=bool)

    def link(a: int, b: int, why: str, is_exact: bool) -> None:
        if is_exact:
            exact.union(a, b)
        full.union(a, b)
        reasons[(min(a, b), max(a, b))].add(why)

    by_sha: dict[str, list[int]] = defaultdict(list)
    by_size_res: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        if it.hash.error:  # undecodable (HTML page, empty, truncated): reported as skipped, never "kept"
            continue
        by_sha[it.hash.sha256].append(i)
        if it.hash.width and it.hash.height:
            by_size_res[(it.hash.width, it.hash.height, it.hash.size)].append(i)
    for group in by_sha.values():
        for j in group[1:]:
            link(group[0], j, "sha256", True)
    for group in by_size_res.values():
        # One representative per distinct content: identical bytes are already linked above.
        reps = list({items[i].hash.sha256: i for i in reversed(group)}.values())
        for a_pos, a in enumerate(reps):
            for b in reps[a_pos + 1:]:
                unconfirmed = (not strict_paper_rule and has_ph[a] and has_ph[b]
                               and int(np.bitwise_count(ph[a] ^ ph[b])) > PAPER_RULE_CONFIRM)
                if unconfirmed:
                    continue
                link(a, b, "size+resolution", True)

    idx = np.nonzero(has_ph)[0]
    if idx.size > 1:
        pi, pj, _ = pairs_within(ph[idx], radius)
        for a, b in zip(idx[pi].tolist(), idx[pj].tolist(), strict=True):
            link(a, b, "phash", False)

    members: dict[int, list[int]] = defaultdict(list)
    root_reasons: dict[int, set[str]] = defaultdict(set)
    for (a, _b), ws in reasons.items():
        root_reasons[full.find(a)] |= ws
    for i in range(n):
        members[full.find(i)].append(i)
    clusters = []
    for group in members.values():
        if len(group) < 2:
            continue
        ranked = sorted(group, key=lambda i: _rank_key(items[i]))
        keep, drops = ranked[0], ranked[1:]
        is_exact = len({exact.find(i) for i in group}) == 1
        dist = 0
        for d in drops:
            if has_ph[keep] and has_ph[d]:
                dist = max(dist, int(np.bitwise_count(ph[keep] ^ ph[d])))
        why = sorted(root_reasons[full.find(keep)])
        roots = sorted({items[i].root for i in group})
        clusters.append(Cluster(keep=items[keep].path, drop=[items[d].path for d in drops],
                                kind="exact" if is_exact else "near", distance=dist, reasons=why, roots=roots))
    clusters.sort(key=lambda c: c.keep)
    return clusters


def clusters_to_json(clusters: Sequence[Cluster], items: Sequence[Item], *, radius: int) -> dict[str, object]:
    """The ``--json`` document: clusters, skipped (undecodable) files and a summary."""
    skipped = [{"path": it.path, "reason": it.hash.error} for it in items if it.hash.error]
    return {
        "clusters": [c.to_dict() for c in clusters],
        "skipped": skipped,
        "summary": {"files": len(items), "clusters": len(clusters),
                    "drop": sum(len(c.drop) for c in clusters),
                    "exact": sum(c.kind == "exact" for c in clusters),
                    "near": sum(c.kind == "near" for c in clusters),
                    "undecodable": len(skipped), "radius": radius},
    }


def load_dedupe_json(path: str | os.PathLike[str]) -> list[Cluster]:
    """Read a ``dedupe --json`` file (possibly edited by hand)."""
    import json

    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        return [Cluster(keep=str(c["keep"]), drop=[str(x) for x in c.get("drop", [])],
                        kind=str(c.get("kind", "near")), distance=int(c.get("distance", 0)),
                        keep_also=[str(x) for x in c.get("keep_also", [])])
                for c in doc["clusters"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{p}: not a valid dedupe JSON ({err}); re-run 'gan-bokeh dedupe --json {p}'") from None


def _root_of(path: Path, roots: Sequence[Path]) -> Path:
    rp = path.resolve()
    for r in roots:
        rr = r.resolve()
        if rr.is_dir() and rr in rp.parents:
            return rr
    return rp.parent


def apply_moves(clusters: Sequence[Cluster], roots: Sequence[str | os.PathLike[str]]) -> dict[str, int]:
    """Move every dropped file (and its ``.mask.png`` sidecar) to ``<DIR>/_duplicates/<same relative path>``.

    Never deletes. Idempotent and resumable: a file already moved is skipped; each move is logged to
    ``_duplicates/moves.jsonl`` (``from``, ``to``, ``keep``) so it can be undone by hand.
    """
    root_paths = [Path(r) for r in roots]
    counts = {"moved": 0, "already": 0, "missing": 0}
    for c in clusters:
        for d in c.drop:
            src = Path(d)
            root = _root_of(src, root_paths)
            dest_dir = root / DUPLICATES_DIR
            rel = src.resolve().relative_to(root) if root in src.resolve().parents else Path(src.name)
            dest = dest_dir / rel
            if not src.exists():
                counts["already" if dest.exists() else "missing"] += 1
                continue
            if dest.exists():  # a different file of the same name moved earlier: don't overwrite it
                dest = dest.with_name(f"{dest.stem}.{_short_digest(src)}{dest.suffix}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            # Log first: a crash between log and move leaves a harmless record, never a lost file.
            append_jsonl(dest_dir / "moves.jsonl", {"from": str(src), "to": str(dest), "keep": c.keep})
            shutil.move(str(src), str(dest))
            counts["moved"] += 1
            sidecar = src.with_name(src.stem + MASK_SUFFIX)
            if sidecar.exists():
                shutil.move(str(sidecar), str(dest.with_name(dest.stem + MASK_SUFFIX)))
    return counts


def _short_digest(p: Path) -> str:
    import hashlib

    return hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]
