"""``gan-bokeh build-dataset --raw RAW --out DATASET [--test-fraction F] [--max-side S] [--seed N]``."""

from __future__ import annotations

import argparse

HELP = "build trainA/trainB/testA/testB from scraped photos (rejects, dedupe, person filter, resize, provenance)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", required=True, help="scrape output folder (A/ and B/ with manifest.jsonl)")
    parser.add_argument("--out", required=True, metavar="DATASET", help="dataset folder to write")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="share of each domain in test (0.1)")
    parser.add_argument("--max-side", type=int, default=512, help="resize so the longer side is at most S (512)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (deterministic)")
    parser.add_argument("--rejects", metavar="FILE", help="manual rejects (default RAW/rejects.txt if present)")
    parser.add_argument("--mask", "--masks", dest="masks", metavar="DIR",
                        help="person masks <DIR>/<stem>.png (else sidecars/alpha)")
    parser.add_argument("--min-person-area", type=float, default=0.02,
                        help="drop photos whose available person mask covers less than this fraction (0.02)")
    parser.add_argument("--no-dedupe", action="store_true",
                        help="without RAW/dedupe.json, skip the built-in duplicate search")
    parser.add_argument("--radius", type=int, default=6, help="near-duplicate radius of the built-in search")
    parser.add_argument("--quality", "--jpeg-quality", dest="quality", type=int, default=95, help="JPEG quality (95)")
    parser.add_argument("--workers", type=int, default=2, help="processes (2)")


def run(args: argparse.Namespace) -> int:
    from scrapers.build import BuildOptions, build_dataset

    opts = BuildOptions(raw=args.raw, out=args.out, test_fraction=args.test_fraction, max_side=args.max_side,
                        seed=args.seed, rejects=args.rejects, masks=args.masks,
                        min_person_area=args.min_person_area, dedupe=not args.no_dedupe, radius=args.radius,
                        quality=args.quality, workers=max(1, args.workers))
    s = build_dataset(opts)
    c = s["counts"]
    print(f"build-dataset: {s['written'] + s['reused']} done ({s['written']} written, {s['reused']} reused), "
          f"{s['skipped']} skipped (rejected, duplicate, unreadable or no person; reasons in "
          f"{args.out}/skipped.jsonl) → {args.out}: trainA {c['trainA']}, trainB {c['trainB']}, "
          f"testA {c['testA']}, testB {c['testB']}; removed stale {s['removed_stale']}")
    return 0
