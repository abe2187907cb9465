"""Paging ``flickr.photos.search`` ourselves, past Flickr's ~4000-results-per-query cap.

Flickr serves at most about 4000 results for one query, whatever ``pages`` says (later pages repeat
earlier ones). :func:`iter_photos` therefore splits the upload-date range into windows: a window whose
``total`` is above the cap is bisected, recursively, until every window fits, then each window is paged
with ``per_page`` up to 500. The upper date is fixed (given, or frozen at the first run) and the sort
order is stable, so the same windows give the same pages on a re-run, and results are de-duplicated
by photo id. Excluded tags go into the query (``-tag`` terms of ``text``) *and* are checked again on
the tags each photo comes back with (:func:`excluded_tags`), because the query-side exclusion is
best-effort on Flickr's side.

Every answer can be cached in a :class:`SearchCache` (JSON lines; the request parameters never include
credentials), so a resumed run replays the search without calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError
from gan_bokeh.io import append_jsonl, read_jsonl
from scrapers.flickr import FlickrCallError
from scrapers.manifest import repair_tail

__all__ = ["SearchCache", "SearchQuery", "Window", "excluded_tags", "iter_photos", "normalize_tag",
           "query_text"]

LOG = logging.getLogger(__name__)

CallFn = Callable[..., dict[str, Any]]


def normalize_tag(tag: str) -> str:
    """Flickr's "clean" tag form: lower case, letters and digits only ("Black and White" → "blackandwhite")."""
    return re.sub(r"[^0-9a-z]", "", tag.casefold())


def query_text(text: str, exclude: list[str]) -> str:
    """Search text with Flickr's ``-term`` exclusions appended, e.g. ``"portrait -cat -dog"``."""
    terms = [text.strip()] + [f"-{normalize_tag(t)}" for t in exclude if normalize_tag(t)]
    return " ".join(t for t in terms if t)


def excluded_tags(photo_tags: list[str] | str, exclude: list[str]) -> list[str]:
    """Excluded tags present on a photo (normalised form), in the order of ``exclude``."""
    tags = photo_tags.split() if isinstance(photo_tags, str) else photo_tags
    have = {normalize_tag(t) for t in tags}
    return [n for n in (normalize_tag(t) for t in exclude) if n and n in have]


@dataclass(frozen=True)
class SearchQuery:
    """The fixed part of a search (everything but the date window and page)."""

    text: str
    licenses: tuple[int, ...]
    extras: str
    sort: str = "date-posted-desc"
    per_page: int = 500
    content_type: int = 1
    safe_search: int = 1
    cap: int = 4000

    def params(self, lo: int, hi: int, page: int) -> dict[str, Any]:
        p: dict[str, Any] = {
            "text": self.text, "min_upload_date": lo, "max_upload_date": hi, "sort": self.sort,
            "per_page": self.per_page, "page": page, "extras": self.extras,
            "content_type": self.content_type, "safe_search": self.safe_search, "media": "photos",
        }
        if self.licenses:
            p["license"] = ",".join(str(x) for x in self.licenses)
        return p


@dataclass(frozen=True)
class Window:
    """An upload-date window ``[lo, hi]`` (both inclusive, as Flickr's min/max_upload_date)."""

    lo: int
    hi: int
    total: int


class SearchCache:
    """Answers of ``photos.search`` keyed by their parameters, in a JSON-lines file (last one wins)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._data: dict[str, dict[str, Any]] = {}
        if self.path is not None:
            repair_tail(self.path)
            for rec in read_jsonl(self.path):
                if isinstance(rec.get("key"), str) and isinstance(rec.get("answer"), dict):
                    self._data[rec["key"]] = rec["answer"]

    @staticmethod
    def key(params: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]

    def get(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return self._data.get(self.key(params))

    def put(self, params: dict[str, Any], answer: dict[str, Any]) -> None:
        k = self.key(params)
        self._data[k] = answer
        if self.path is not None:
            append_jsonl(self.path, {"key": k, "params": params, "answer": answer}, fsync=False)

    def __len__(self) -> int:
        return len(self._data)


def _search_page(call: CallFn, cache: SearchCache, q: SearchQuery, lo: int, hi: int,
                 page: int) -> dict[str, Any]:
    params = q.params(lo, hi, page)
    answer = cache.get(params)
    if answer is None:
        try:
            raw = call("flickr.photos.search", **params)
        except FlickrCallError as err:  # e.g. 3 "parameterless searches disabled", 18 "illogical arguments"
            raise UserError(f"Flickr refused the search {q.text!r} (error {err.code}: {err.message}); "
                            "check the domain's text and upload dates in the config") from None
        photos = raw.get("photos") or {}
        answer = {"total": int(photos.get("total") or 0), "pages": int(photos.get("pages") or 0),
                  "photo": list(photos.get("photo") or [])}
        cache.put(params, answer)
    return answer


def iter_windows(call: CallFn, cache: SearchCache, q: SearchQuery, lo: int,
                 hi: int) -> Iterator[tuple[Window, dict[str, Any]]]:
    """Yield ``(window, first page)`` for windows that fit the cap, newest window first.

    A window over the cap is split at its middle second; a one-second window that is still over the
    cap cannot be split further and is paged up to the cap (logged).
    """
    stack = [(lo, hi)]
    while stack:
        a, b = stack.pop()
        first = _search_page(call, cache, q, a, b, 1)
        total = first["total"]
        if total > q.cap and b > a:
            mid = (a + b) // 2
            LOG.debug("window %d..%d holds %d > %d results: bisecting", a, b, total, q.cap)
            stack.append((a, mid))       # older half: visited after the newer one
            stack.append((mid + 1, b))
            continue
        if total > q.cap:
            LOG.warning("%d results uploaded within one second (%d); only the first %d are reachable",
                        total, a, q.cap)
        yield Window(a, b, total), first


def iter_photos(call: CallFn, q: SearchQuery, lo: int, hi: int, *,
                cache: SearchCache | None = None) -> Iterator[dict[str, Any]]:
    """Every photo of the query in ``[lo, hi]``, each id once, paging each window in a stable order.

    Args:
        call: ``FlickrClient.call``-like function ``(method, **params) -> parsed JSON``.
        q: the query.
        lo, hi: upload-date range, unix seconds, inclusive.
        cache: optional answer cache (a resumed run replays it without calls).

    The loop is bounded: at most ``ceil(min(total, cap) / per_page)`` pages per window, and a page
    that brings no new id ends the window early (Flickr repeats pages past the cap).
    """
    cache = SearchCache(None) if cache is None else cache
    seen: set[str] = set()
    for win, first in iter_windows(call, cache, q, lo, hi):
        n_pages = max(1, math.ceil(min(win.total, q.cap) / q.per_page))
        for page in range(1, n_pages + 1):
            answer = first if page == 1 else _search_page(call, cache, q, win.lo, win.hi, page)
            fresh = 0
            for photo in answer["photo"]:
                pid = str(photo.get("id", ""))
                if pid and pid not in seen:
                    seen.add(pid)
                    fresh += 1
                    yield photo
            if not answer["photo"] or (fresh == 0 and page > 1):
                break
