"""``RAW/<domain>/manifest.jsonl``: the single truth about every photo a scrape has looked at.

One JSON object per line, appended (flushed + fsynced) through :func:`gan_bokeh.io.append_jsonl`; the
**last record of an id wins**. A record is written only *after* its image file has been renamed into
place, so after a crash (even ``kill -9``) the worst cases are a torn last line (ignored, the item is
redone) or an image without a record (adopted on the next run after its bytes are checked).

Record keys (readers such as dedupe/build-dataset rely on them)::

    id, domain, status ("ok" | "failed" | "skipped"), reason (str | None),
    path ("images/<id>.<ext>", relative to RAW/<domain>/), url, size_label, bytes, width, height, sha256,
    license, license_name, owner, owner_name, title, page_url, tags, camera, date_upload, query
    (+ attempts, time, license_url: extra, informational)
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gan_bokeh.io import append_jsonl, read_jsonl

__all__ = ["IMAGES_DIR", "MANIFEST_NAME", "RECORD_KEYS", "TEMP_PREFIX", "Manifest", "latest_records",
           "repair_tail"]

MANIFEST_NAME = "manifest.jsonl"
IMAGES_DIR = "images"
#: temporary download files start with this; they are never valid images to other tools (dot files).
TEMP_PREFIX = ".part-"

RECORD_KEYS = ("id", "domain", "status", "reason", "path", "url", "size_label", "bytes", "width", "height",
               "sha256", "license", "license_name", "owner", "owner_name", "title", "page_url", "tags",
               "camera", "date_upload", "query")


def repair_tail(path: str | os.PathLike[str]) -> None:
    """End a JSON-lines file torn by ``kill -9`` with a newline, so the next appended line stays whole.

    (Appending to a torn line would glue the new record onto it and both would be lost.)
    """
    try:
        with open(path, "rb+") as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
    except FileNotFoundError:
        return


def latest_records(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Collapse manifest lines to the last record per id (insertion order = first appearance)."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        pid = rec.get("id")
        if pid is not None:
            out[str(pid)] = rec
    return out


class Manifest:
    """Append-only manifest of one domain folder (``RAW/<domain>/``).

    Only one thread should call :meth:`append` (the scrape loop does; workers return records to it).
    """

    def __init__(self, domain_dir: str | os.PathLike[str], domain: str) -> None:
        self.dir = Path(domain_dir)
        self.domain = domain
        self.path = self.dir / MANIFEST_NAME
        self.images = self.dir / IMAGES_DIR
        self.images.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self.records = latest_records(read_jsonl(self.path))

    # -- queries -------------------------------------------------------------------------------
    def get(self, pid: str) -> dict[str, Any] | None:
        return self.records.get(str(pid))

    def is_done(self, pid: str) -> bool:
        """True if the item needs no more work: ok with its file present, or skipped for good."""
        rec = self.records.get(str(pid))
        if rec is None:
            return False
        if rec.get("status") == "ok":
            return bool(rec.get("path")) and (self.dir / rec["path"]).is_file()
        return rec.get("status") == "skipped"

    def ok_records(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values()
                if r.get("status") == "ok" and r.get("path") and (self.dir / r["path"]).is_file()]

    def counts(self) -> Counter[str]:
        return Counter(str(r.get("status")) for r in self.records.values())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records.values())

    def __len__(self) -> int:
        return len(self.records)

    # -- updates -------------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        """Append ``record`` (must carry ``id``); it becomes the current state of that id."""
        rec = dict(record)
        rec["id"] = str(rec["id"])
        rec.setdefault("domain", self.domain)
        rec.setdefault("time", int(time.time()))
        append_jsonl(self.path, rec)
        self.records[rec["id"]] = rec

    def clean_temp_files(self) -> int:
        """Remove temporary download files left by a killed run; returns how many."""
        n = 0
        for p in self.images.iterdir():
            if p.name.startswith(TEMP_PREFIX) or (p.name.startswith(".") and ".tmp" in p.name):
                try:
                    p.unlink()
                    n += 1
                except OSError:
                    pass
        return n

    def orphan_file(self, pid: str) -> Path | None:
        """An image file for ``pid`` without an ``ok`` record (a run killed after the rename)."""
        for p in sorted(self.images.glob(f"{pid}.*")):
            if p.is_file() and not p.name.startswith("."):
                return p
        return None
