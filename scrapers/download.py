"""Downloading one photo safely: largest allowed size, temp file + rename, decode check, placeholder check.

Per photo, the sizes of ``download.sizes`` (default ``url_o → url_k → url_h → url_l → url_c``) that the
search answer offers are tried largest first; a size that fails (HTTP 403/404, not an image, truncated,
placeholder) falls through to the next one. Bytes stream into ``images/.part-<id>-<random>`` (a dot file
no image lister picks up), are fsynced, decoded with :func:`gan_bokeh.io.open_image` (which rejects
zero-byte, truncated, HTML and decompression-bomb files), checked against Flickr's "photo unavailable"
placeholder, and only then renamed to ``images/<id>.<ext>`` (``ext`` from the decoded format, not the URL).

**Placeholder rule.** Flickr answers a missing/private photo (or a wrong URL secret) with HTTP 200 and a
gray "This photo is no longer available" image. A download is the placeholder when (1) a redirect led to
a URL containing ``photo_unavailable``, or (2) the image is an opaque 8-bit image that is essentially
one flat mid-to-light gray: at a 128-px nearest-neighbour thumbnail, the most common colour has R, G, B
within 3 levels of each other, a level in :data:`PLACEHOLDER_GRAY` (64..250, so pure black/white frames,
masks and cut-outs do not count) and covers at least ``placeholder_fraction`` (default 80 %) of the
pixels. A real portrait never has 80 % identical pixels. Checked on the 86 images of ``shared/data``
(photos, masks, cut-outs, disparity maps): none flagged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from PIL import Image
from urllib3.exceptions import MaxRetryError

from gan_bokeh.errors import BadImageError
from gan_bokeh.io import fsync_dir, image_info, open_image
from scrapers import flickr as _flickr
from scrapers.config import DownloadConfig, RetryConfig
from scrapers.manifest import IMAGES_DIR, TEMP_PREFIX

__all__ = ["DownloadResult", "available_sizes", "download_photo", "make_download_session", "placeholder_reason",
           "verify_file"]

LOG = logging.getLogger(__name__)

_EXT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp",
        "MPO": "jpg", "AVIF": "avif"}
#: gray levels of the placeholder's background: mid to light gray, never pure black or white (masks,
#: cut-outs and studio shots on white are not placeholders).
PLACEHOLDER_GRAY = (64, 250)
#: body-level network failures (connection cut mid-body, read timeout while streaming) are retried this
#: many times per size; HTTP 429/5xx and connect/read timeouts before the headers are retried by the
#: session's PoliteRetry already.
BODY_RETRIES = 2


@dataclass
class DownloadResult:
    status: str                 # "ok" | "failed"
    reason: str | None = None
    path: str | None = None     # relative to the domain folder: images/<id>.<ext>
    url: str | None = None
    size_label: str | None = None
    bytes: int = 0
    width: int = 0
    height: int = 0
    sha256: str | None = None

    def as_fields(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "path": self.path, "url": self.url,
                "size_label": self.size_label, "bytes": self.bytes, "width": self.width,
                "height": self.height, "sha256": self.sha256}


def make_download_session(retry: RetryConfig, workers: int = 4) -> requests.Session:
    """HTTP session for image downloads: polite retries of 429/5xx/timeouts, a pool per worker.

    Downloads come from Flickr's static image servers, not the API, so they spend no API tokens.
    """
    return _flickr.make_session(retry, None, pool_size=workers + 2)


def available_sizes(photo: dict[str, Any], order: list[str]) -> list[tuple[str, str]]:
    """``(label, url)`` pairs of ``photo`` in preference order (``url_o`` → ``o``)."""
    out = []
    for key in order:
        url = photo.get(key)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            out.append((key.removeprefix("url_"), url))
    return out


def placeholder_reason(img: Image.Image, final_url: str = "", fraction: float = 0.8) -> str | None:
    """Why ``img`` looks like Flickr's "photo unavailable" placeholder, or ``None`` (rule: module doc)."""
    if "photo_unavailable" in final_url:
        return "Flickr 'photo unavailable' placeholder (redirected to it)"
    if img.mode not in ("RGB", "L", "P", "CMYK", "YCbCr"):
        return None  # the placeholder is an opaque 8-bit image; cut-outs with alpha, 16-bit maps are not
    thumb = img.convert("RGB")
    if max(thumb.size) > 128:
        thumb.thumbnail((128, 128), Image.Resampling.NEAREST)
    colors = thumb.getcolors(maxcolors=thumb.width * thumb.height)
    if not colors:
        return None
    count, (r, g, b) = max(colors, key=lambda c: c[0])
    share = count / (thumb.width * thumb.height)
    gray = max(r, g, b) - min(r, g, b) <= 3 and PLACEHOLDER_GRAY[0] <= g <= PLACEHOLDER_GRAY[1]
    if share >= fraction and gray:
        return f"Flickr 'photo unavailable' placeholder ({share:.0%} flat gray)"
    return None


def verify_file(path: Path, final_url: str = "", fraction: float = 0.8) -> tuple[int, int, str]:
    """Decode ``path``; returns ``(width, height, ext)`` or raises BadImageError with the reason.

    JPEGs decode in draft mode (DCT scaling to ~256 px): every byte of the stream is still read, so a
    truncated file fails just the same, at a fraction of the cost of a full 12-MP decode. Width and height
    come from the header, after EXIF orientation.
    """
    img = open_image(path, draft=(256, 256))
    reason = placeholder_reason(img, final_url, fraction)
    if reason:
        raise BadImageError(path, reason)
    info = image_info(path)
    fmt = str(info["format"] or "")
    return int(info["width"]), int(info["height"]), _EXT.get(fmt, fmt.lower() or "img")


def download_photo(session: requests.Session, pid: str, photo: dict[str, Any], domain_dir: Path,
                   cfg: DownloadConfig, retry: RetryConfig) -> DownloadResult:
    """Fetch the largest usable size of ``photo`` into ``domain_dir/images/<pid>.<ext>``.

    Never raises for a bad photo: returns ``DownloadResult(status="failed", reason=...)`` instead.
    """
    sizes = available_sizes(photo, cfg.sizes)
    if not sizes:
        return DownloadResult("failed", "no downloadable size offered (owner restricts downloads?)")
    reasons = []
    for label, url in sizes:
        res = _fetch_one(session, pid, label, url, domain_dir, cfg, retry)
        if res.status == "ok":
            return res
        reasons.append(f"{label}: {res.reason}")
    return DownloadResult("failed", "; ".join(reasons), url=sizes[0][1], size_label=sizes[0][0])


def _fetch_one(session: requests.Session, pid: str, label: str, url: str, domain_dir: Path,
               cfg: DownloadConfig, retry: RetryConfig) -> DownloadResult:
    images = domain_dir / IMAGES_DIR
    tmp = images / f"{TEMP_PREFIX}{pid}-{_secrets.token_hex(4)}"
    try:
        reason = None
        for attempt in range(BODY_RETRIES + 1):
            if attempt:
                _flickr._do_sleep(_flickr.backoff_delay(attempt, retry))
            reason, final_url, size, digest = _stream(session, url, tmp, cfg)
            if reason is None or not reason.startswith("incomplete"):
                break
        if reason is not None:
            return DownloadResult("failed", reason, url=url, size_label=label)
        try:
            width, height, ext = verify_file(tmp, final_url, cfg.placeholder_fraction)
        except BadImageError as err:
            return DownloadResult("failed", err.reason, url=url, size_label=label, bytes=size)
        final = images / f"{pid}.{ext}"
        os.replace(tmp, final)
        fsync_dir(images)
        return DownloadResult("ok", None, f"{IMAGES_DIR}/{final.name}", url, label, size, width, height, digest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _stream(session: requests.Session, url: str, tmp: Path,
            cfg: DownloadConfig) -> tuple[str | None, str, int, str]:
    """Stream ``url`` into ``tmp``; returns ``(failure reason or None, final url, bytes, sha256)``."""
    h = hashlib.sha256()
    n = 0
    try:
        with session.get(url, stream=True, timeout=(cfg.timeout, cfg.timeout)) as r:
            if r.status_code != 200:
                return f"HTTP {r.status_code}", r.url, 0, ""
            ctype = r.headers.get("Content-Type", "")
            with open(tmp, "wb") as fh:
                for chunk in r.iter_content(1 << 16):
                    n += len(chunk)
                    if n > cfg.max_bytes:
                        return f"larger than download.max_bytes={cfg.max_bytes}", r.url, n, ""
                    h.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if ctype.startswith("text/") and n:
                LOG.debug("%s: served as %s", url, ctype)
            return None, r.url, n, h.hexdigest()
    except requests.exceptions.RetryError as err:
        return f"server kept failing ({_flickr._http_reason(err)})", url, 0, ""
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as err:
        return f"incomplete body after {n} bytes ({type(err).__name__})", url, n, ""
    except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as err:
        if err.args and isinstance(err.args[0], MaxRetryError):
            # Before the headers, the session's PoliteRetry already retried: do not multiply retries.
            return f"no answer after retries ({type(err.args[0].reason).__name__})", url, 0, ""
        # Mid-body, urllib3 does not retry: let the caller try again.
        return f"incomplete: {type(err).__name__} after {n} bytes", url, n, ""
