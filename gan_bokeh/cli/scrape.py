"""``gan-bokeh scrape``: collect the unpaired Flickr dataset (paper §3.1, Table 1) into ``RAW/<A|B>/``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

HELP = "collect domain A/B photos from Flickr into RAW/<domain>/ (resumable; see docs/scraping.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="flickr", help="scrape config file or built-in name"
                        " (default: flickr = configs/flickr.yaml)")
    parser.add_argument("--out", required=True, metavar="RAW", help="output folder (RAW/<domain>/...)")
    parser.add_argument("--domain", choices=("A", "B", "all"), default="all",
                        help="A = ordinary iPhone 7 portraits, B = shallow-DoF portraits (default: all)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="stop a domain at N ok photos (counting earlier runs; default: its target)")
    parser.add_argument("--rest-url", default=None, metavar="URL", help="Flickr REST endpoint (tests, proxies)")
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="parallel downloads")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set flickr.rate_limit.calls_per_hour=1800")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


class _RedactFilter(logging.Filter):
    """Replaces the key/secret in any log record (belt and braces: nothing should log them)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = self._redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gan_bokeh.config import dump_config
    from gan_bokeh.errors import UserError
    from scrapers.config import load_credentials, load_scrape_config
    from scrapers.download import make_download_session
    from scrapers.flickr import FlickrClient, quiet_third_party_logs
    from scrapers.scrape import scrape_domain

    overrides = list(args.overrides)
    if args.rest_url:
        overrides.append(f"flickr.rest_url={args.rest_url}")
    if args.workers is not None:
        if args.workers < 1:
            raise UserError("--workers: must be >= 1")
        overrides.append(f"download.workers={args.workers}")
    if args.limit is not None and args.limit < 0:
        raise UserError("--limit: must be >= 0")
    cfg = load_scrape_config(args.config, overrides=overrides)
    creds = load_credentials(cfg.flickr.credentials_file)
    quiet_third_party_logs()
    filt = _RedactFilter(creds.redact)
    handlers = logging.getLogger().handlers
    for h in handlers:
        h.addFilter(filt)
    log = logging.getLogger("gan_bokeh.scrape")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, out / "scrape_config.yaml")  # resolved config (never holds credentials)
    client = FlickrClient(creds, rest_url=cfg.flickr.rest_url, retry=cfg.flickr.retry,
                          calls_per_hour=cfg.flickr.rate_limit.calls_per_hour,
                          burst=cfg.flickr.rate_limit.burst, pool_size=cfg.download.workers + 2)
    session = make_download_session(cfg.flickr.retry, cfg.download.workers)
    domains = ("A", "B") if args.domain == "all" else (args.domain,)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        for d in domains:
            summary = scrape_domain(client.call, session, cfg, d, out, limit=args.limit,
                                    workers=cfg.download.workers, progress=progress,
                                    api_calls=lambda: client.bucket.acquired)
            log.info("%s -> %s", summary.line(), out / d / "manifest.jsonl")
    except UserError as err:
        clean = UserError(creds.redact(str(err)))
        clean.exit_code = err.exit_code
        raise clean from None
    finally:
        for h in handlers:
            h.removeFilter(filt)
        session.close()
        client.session.close()
    return 0
