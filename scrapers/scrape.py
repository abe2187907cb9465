"""The scrape loop of one domain: search → filter → (EXIF camera check) → download → manifest.

The loop only schedules; the work lives in :mod:`scrapers.search`, :mod:`scrapers.camera` and
:mod:`scrapers.download`. Only this thread appends to the manifest; workers return records to it.
Resuming is implicit: every decision already in ``RAW/<domain>/manifest.jsonl`` is honoured, and the
search answers are replayed from ``search_cache.jsonl`` with the same fixed upper date (``state.json``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import atomic_write_text
from scrapers.attribution import license_info, page_url, write_attribution
from scrapers.camera import check_camera
from scrapers.config import DomainConfig, ScrapeConfig, parse_date
from scrapers.download import available_sizes, download_photo, verify_file
from scrapers.flickr import FlickrUnavailableError
from scrapers.hashing import sha256_file
from scrapers.manifest import Manifest
from scrapers.search import SearchCache, SearchQuery, excluded_tags, iter_photos, query_text

__all__ = ["DomainSummary", "photo_metadata", "scrape_domain"]

LOG = logging.getLogger(__name__)

#: Flickr opened in 2004; nothing is uploaded before this (2004-01-01 UTC).
FLICKR_EPOCH = 1072915200

CallFn = Callable[..., dict[str, Any]]


@dataclass
class DomainSummary:
    domain: str
    target: int
    ok: int = 0
    new_ok: int = 0
    failed: int = 0
    skipped: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        more = " (search exhausted before the target)" if self.exhausted and self.ok < self.target else ""
        return (f"scrape {self.domain}: {self.ok}/{self.target} ok ({self.new_ok} new), {self.failed} failed, "
                f"{self.skipped} skipped this run; {self.api_calls} API calls in {self.seconds:.0f} s{more}")


def photo_metadata(photo: dict[str, Any], domain: str, query: str) -> dict[str, Any]:
    """Manifest fields that come from the search answer (licence, owner, title, page, tags, date)."""
    pid = str(photo["id"])
    try:
        lic: int | None = int(photo.get("license"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        lic = None
    name, url = license_info(lic)
    tags = photo.get("tags") or ""
    try:
        date_upload = int(photo.get("dateupload") or 0)
    except (TypeError, ValueError):
        date_upload = 0
    owner = str(photo.get("owner") or "")
    return {"id": pid, "domain": domain, "license": lic, "license_name": name, "license_url": url,
            "owner": owner, "owner_name": str(photo.get("ownername") or ""),
            "title": str(photo.get("title") or ""), "page_url": page_url(owner, pid),
            "tags": tags.split() if isinstance(tags, str) else list(tags), "date_upload": date_upload,
            "query": query}


def _empty_download_fields() -> dict[str, Any]:
    return {"path": None, "url": None, "size_label": None, "bytes": 0, "width": 0, "height": 0, "sha256": None}


def _fixed_window(ddir: Path, dcfg: DomainConfig, domain: str, now: int) -> tuple[int, int]:
    """The searched upload-date range; an unset upper date is frozen at the first run (state.json)."""
    state_path = ddir / "state.json"
    state: dict[str, Any] = {}
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
    lo = parse_date(dcfg.min_upload_date, f"domains.{domain}.min_upload_date") or FLICKR_EPOCH
    hi = parse_date(dcfg.max_upload_date, f"domains.{domain}.max_upload_date")
    if hi is None:
        hi = int(state.get("frozen_max_upload_date") or now)
        if state.get("frozen_max_upload_date") != hi:
            state["frozen_max_upload_date"] = hi
            atomic_write_text(state_path, json.dumps(state, indent=2) + "\n")
    return lo, hi


class _Loop:
    """State of one domain's scrape (kept in an object so each step is a small method)."""

    def __init__(self, call: CallFn, session: requests.Session, cfg: ScrapeConfig, domain: str,
                 out_dir: Path, target: int, workers: int, progress: bool) -> None:
        self.call, self.session, self.cfg, self.domain = call, session, cfg, domain
        self.dcfg: DomainConfig = getattr(cfg.domains, domain)
        self.ddir = out_dir / domain
        self.man = Manifest(self.ddir, domain)
        removed = self.man.clean_temp_files()
        if removed:
            LOG.info("scrape %s: removed %d partial download(s) of an interrupted run", domain, removed)
        self.workers = workers
        self.summary = DomainSummary(domain, target)
        self.text = query_text(self.dcfg.text, self.dcfg.exclude_tags)
        self.progress = progress
        self.consecutive_failures = 0

    # -- decisions without any network call ------------------------------------------------------
    def prefilter(self, photo: dict[str, Any]) -> dict[str, Any] | None | bool:
        """``True`` = needs work; ``None`` = nothing to do; a dict = a skipped record to write now."""
        pid = str(photo.get("id"))
        if self.man.is_done(pid):
            return None
        prior = self.man.get(pid)
        if prior and prior.get("status") == "failed" and \
                int(prior.get("attempts") or 1) >= self.cfg.download.max_attempts:
            return None
        meta = photo_metadata(photo, self.domain, self.text)
        reason = None
        if meta["license"] not in self.cfg.licenses:
            reason = f"licence {meta['license']} not in the allowed list {self.cfg.licenses}"
        elif bad := excluded_tags(meta["tags"], self.dcfg.exclude_tags):
            reason = f"excluded tag(s): {', '.join(bad)}"
        elif not available_sizes(photo, self.cfg.download.sizes):
            reason = "no allowed size offered (owner restricts downloads?)"
        if reason is None:
            return True
        return {**meta, **_empty_download_fields(), "status": "skipped", "reason": reason, "camera": None}

    # -- work done by a worker thread --------------------------------------------------------------
    def process(self, photo: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
        pid = str(photo["id"])
        meta = photo_metadata(photo, self.domain, self.text)
        known = bool(prior and prior.get("camera_checked"))
        cam = check_camera(self.call, photo, self.dcfg.cameras, (prior or {}).get("camera"), known)
        base = {**meta, "camera": cam.camera, "camera_checked": bool(self.dcfg.cameras)}
        if not cam.allowed:
            return {**base, **_empty_download_fields(), "status": "skipped", "reason": cam.reason}
        adopted = self._adopt_orphan(pid, photo)
        if adopted is not None:
            return {**base, **adopted}
        res = download_photo(self.session, pid, photo, self.ddir, self.cfg.download, self.cfg.flickr.retry)
        attempts = int((prior or {}).get("attempts") or 0) + 1
        return {**base, **res.as_fields(), "attempts": attempts}

    def _adopt_orphan(self, pid: str, photo: dict[str, Any]) -> dict[str, Any] | None:
        """A file renamed into place by a run killed before it wrote the record: check and keep it."""
        path = self.man.orphan_file(pid)
        if path is None:
            return None
        try:
            width, height, _ = verify_file(path, "", self.cfg.download.placeholder_fraction)
        except BadImageError:
            path.unlink(missing_ok=True)
            return None
        sizes = available_sizes(photo, self.cfg.download.sizes)
        label, url = sizes[0] if sizes else (None, None)
        return {"status": "ok", "reason": None, "path": f"images/{path.name}", "url": url,
                "size_label": label, "bytes": path.stat().st_size, "width": width, "height": height,
                "sha256": sha256_file(path), "adopted": True}

    # -- bookkeeping ---------------------------------------------------------------------------
    def record(self, rec: dict[str, Any], bar: Any) -> None:
        self.man.append(rec)
        status = rec["status"]
        if status == "ok":
            self.summary.ok += 1
            self.summary.new_ok += 1
            self.consecutive_failures = 0
        elif status == "failed":
            self.summary.failed += 1
            self.consecutive_failures += 1
            LOG.debug("%s failed: %s", rec["id"], rec.get("reason"))
        else:
            self.summary.skipped += 1
        bar.set_postfix(ok=self.summary.ok, failed=self.summary.failed, skipped=self.summary.skipped,
                        refresh=False)
        if status == "ok":
            bar.update(1)  # tqdm redraws at most every 0.1 s
        limit = self.cfg.max_consecutive_failures
        if self.consecutive_failures >= limit:
            raise FlickrUnavailableError(
                f"scrape {self.domain}: {limit} downloads failed in a row (last: {rec.get('reason')}); "
                "stopping — check the network, then re-run to resume")

    def run(self, photos: Iterator[dict[str, Any]]) -> None:
        from tqdm import tqdm

        s = self.summary
        s.ok = len(self.man.ok_records())
        bar = tqdm(total=s.target, initial=min(s.ok, s.target), unit="photo", desc=f"scrape {self.domain}",
                   disable=None if self.progress else True, dynamic_ncols=True)
        inflight: dict[Future[dict[str, Any]], str] = {}
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"scrape-{self.domain}")
        try:
            while True:
                while not s.exhausted and s.ok + len(inflight) < s.target and len(inflight) < self.workers:
                    photo = next(photos, None)
                    if photo is None:
                        s.exhausted = True
                        break
                    decision = self.prefilter(photo)
                    if isinstance(decision, dict):
                        self.record(decision, bar)
                    elif decision is True:
                        pid = str(photo["id"])
                        inflight[pool.submit(self.process, photo, self.man.get(pid))] = pid
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                errors = []
                for fut in done:
                    inflight.pop(fut)
                    try:
                        self.record(fut.result(), bar)
                    except Exception as err:  # key errors, service down: finish bookkeeping, then stop
                        errors.append(err)
                if errors:
                    raise errors[0]
        except OSError as err:  # disk full, permissions: one clear line, the manifest stays consistent
            raise UserError(f"scrape {self.domain}: cannot write under {self.ddir} ({err}); "
                            "fix it and re-run to resume") from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()


def scrape_domain(call: CallFn, session: requests.Session, cfg: ScrapeConfig, domain: str,
                  out_dir: str | Path, *, limit: int | None = None, workers: int | None = None,
                  progress: bool = True, api_calls: Callable[[], int] | None = None,
                  now: int | None = None) -> DomainSummary:
    """Collect up to ``limit`` (default the domain's ``target``) ok photos into ``out_dir/<domain>/``.

    Args:
        call: ``FlickrClient.call``.
        session: HTTP session for image downloads (with retries).
        cfg: the scrape config.
        domain: ``"A"`` or ``"B"``.
        out_dir: the RAW folder.
        limit: cap on ok photos in the domain (counting earlier runs).
        workers: parallel download workers (default ``cfg.download.workers``).
        progress: show a tqdm bar (only on a terminal).
        api_calls: returns the number of API calls made so far (for the summary).
        now: "now" in unix seconds, frozen as the upper upload date on the first run.

    Raises:
        FlickrKeyError: invalid key (exit 2). FlickrUnavailableError: gave up; a re-run resumes.
    """
    t0 = time.monotonic()
    calls0 = api_calls() if api_calls else 0
    out = Path(out_dir)
    dcfg: DomainConfig = getattr(cfg.domains, domain)
    target = limit if limit is not None else dcfg.target
    loop = _Loop(call, session, cfg, domain, out, target, workers or cfg.download.workers, progress)
    lo, hi = _fixed_window(loop.ddir, dcfg, domain, int(now if now is not None else time.time()))
    try:
        if len(loop.man.ok_records()) < target:
            q = SearchQuery(text=loop.text, licenses=tuple(cfg.licenses), extras=cfg.search_extras(),
                            sort=dcfg.sort, per_page=cfg.per_page, content_type=dcfg.content_type,
                            safe_search=dcfg.safe_search, cap=cfg.max_results_per_query)
            cache = SearchCache(loop.ddir / "search_cache.jsonl")
            loop.run(iter_photos(call, q, lo, hi, cache=cache))
        else:
            loop.summary.ok = len(loop.man.ok_records())
    finally:
        n = write_attribution(loop.man.ok_records(), loop.ddir / "ATTRIBUTION.md",
                              title=f"Photo credits, domain {domain}")
        LOG.debug("attribution for %d photos written", n)
        loop.summary.seconds = time.monotonic() - t0
        loop.summary.api_calls = (api_calls() - calls0) if api_calls else 0
    return loop.summary
