"""``gan-bokeh review --raw RAW [--domain A|B|all] --out REPORT_DIR``."""

from __future__ import annotations

import argparse

HELP = "HTML contact sheets of scraped photos for manual review; builds rejects.txt lines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", required=True, help="scrape output folder (with A/ and B/ manifests)")
    parser.add_argument("--domain", choices=("A", "B", "all"), default="all", help="which domain (default all)")
    parser.add_argument("--out", required=True, metavar="REPORT_DIR", help="where the pages and thumbnails go")
    parser.add_argument("--rejects", metavar="FILE",
                        help="pre-tick photos listed here (default RAW/rejects.txt if it exists)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gan_bokeh.errors import UserError
    from scrapers.review import write_review

    if not Path(args.raw).is_dir():
        raise UserError(f"--raw {args.raw}: no such folder; run 'gan-bokeh scrape --out {args.raw}' first")
    domains = ("A", "B") if args.domain == "all" else (args.domain,)
    summary = write_review(args.raw, args.out, domains=domains, rejects_path=args.rejects)
    for dom, s in summary.items():
        print(f"review: domain {dom}: {s['photos']} photos ({s['prechecked']} already rejected, "
              f"{s['thumb_errors']} without thumbnail) -> {Path(args.out) / (dom + '.html')}")
    return 0
