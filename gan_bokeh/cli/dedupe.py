"""``gan-bokeh dedupe DIR… [--radius R] [--json OUT] [--report OUT.html] [--apply]``."""

from __future__ import annotations

import argparse

HELP = "find exact and near-duplicate photos (also across domains / train-test); optionally move them aside"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="folders (scanned recursively, '_*' and hidden folders skipped) or files")
    parser.add_argument("--radius", type=int, default=6,
                        help="max Hamming distance of 64-bit perceptual hashes for a near duplicate (default 6)")
    parser.add_argument("--json", metavar="OUT", help="write the clusters as JSON (e.g. RAW/dedupe.json)")
    parser.add_argument("--report", metavar="OUT.html", help="HTML contact sheet of the clusters")
    parser.add_argument("--apply", action="store_true",
                        help="move dropped files to DIR/_duplicates/ (never deletes; safe to re-run)")
    parser.add_argument("--cache", metavar="FILE",
                        help="hash cache (default: .gan-bokeh-hashes.jsonl in the DIRs' common folder; "
                             "'build-dataset' uses RAW/.gan-bokeh-hashes.jsonl too)")
    parser.add_argument("--workers", type=int, default=2, help="hashing processes (default 2)")
    parser.add_argument("--strict-paper-rule", action="store_true",
                        help="treat same resolution + same file size as duplicates without a perceptual check")


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from gan_bokeh.errors import UserError
    from gan_bokeh.io import atomic_write_text
    from scrapers.dedupe import apply_moves, clusters_to_json, collect_items, find_clusters
    from scrapers.review import write_cluster_report

    log = logging.getLogger("gan_bokeh.dedupe")
    if not 0 <= args.radius <= 32:
        raise UserError(f"--radius {args.radius}: must be between 0 and 32 bits")
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    cache = args.cache or _default_cache(args.dirs)
    items = collect_items(args.dirs, cache_path=cache, workers=args.workers)
    clusters = find_clusters(items, radius=args.radius, strict_paper_rule=args.strict_paper_rule)
    doc = clusters_to_json(clusters, items, radius=args.radius)
    if args.json:
        atomic_write_text(args.json, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    if args.report:
        write_cluster_report(clusters, args.report)
    for s in doc["skipped"]:
        log.warning("skipped %s: %s", s["path"], s["reason"])
    across = sum(1 for c in clusters if len(c.roots) > 1)
    sm = doc["summary"]
    msg = (f"dedupe: {sm['files']} files: {sm['clusters']} clusters ({sm['exact']} exact, {sm['near']} near, "
           f"{across} across folders), {sm['drop']} to drop, {sm['undecodable']} undecodable")
    if args.apply:
        moved = apply_moves(clusters, args.dirs)
        msg += f"; moved {moved['moved']} to _duplicates/ ({moved['already']} already moved)"
    print(msg)
    return 0


def _default_cache(dirs: list[str]):
    """``.gan-bokeh-hashes.jsonl`` in the folder common to all DIRs (RAW for ``RAW/A RAW/B``)."""
    import os
    from pathlib import Path

    folders = [p if p.is_dir() else p.parent for p in (Path(d).resolve() for d in dirs)]
    try:
        common = Path(os.path.commonpath(folders))
    except ValueError:  # different drives (Windows)
        common = folders[0]
    return common / ".gan-bokeh-hashes.jsonl"
