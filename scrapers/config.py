"""Typed configuration of ``gan-bokeh scrape`` (``configs/flickr.yaml``) and the Flickr credentials.

The YAML never holds the API key or secret. They come from the environment (``FLICKR_API_KEY`` /
``FLICKR_API_SECRET``) or from a file the user owns (``flickr.credentials_file``), and live only in a
:class:`Credentials` object whose ``repr`` is redacted. Nothing in this package writes them anywhere.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_bokeh.config import load_config
from gan_bokeh.errors import UserError

__all__ = [
    "CC_LICENSES", "Credentials", "DomainConfig", "DomainsConfig", "DownloadConfig", "FlickrConfig",
    "RateLimitConfig", "RetryConfig", "ScrapeConfig", "load_credentials", "load_scrape_config",
    "parse_date",
]

#: Flickr licence ids of the Creative Commons family: CC 2.0 BY-NC-SA, BY-NC, BY-NC-ND, BY, BY-SA,
#: BY-ND (1–6), CC0 (9) and the CC Public Domain Mark (10). 0 (all rights reserved), 7 (no known
#: restrictions, Flickr Commons) and 8 (US Government work) are not Creative Commons and are left out.
CC_LICENSES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 9, 10)

DEFAULT_REST_URL = "https://api.flickr.com/services/rest/"
DEFAULT_SIZES = ("url_o", "url_k", "url_h", "url_l", "url_c")
KNOWN_SIZES = ("url_o", "url_6k", "url_5k", "url_4k", "url_3k", "url_k", "url_h", "url_l", "url_c",
               "url_z", "url_w", "url_m", "url_n", "url_s")
KEY_ENV = "FLICKR_API_KEY"
SECRET_ENV = "FLICKR_API_SECRET"


@dataclass
class RateLimitConfig:
    """One token bucket for the whole API key (Flickr allows 3600 calls per hour per key)."""

    calls_per_hour: float = 3600.0
    burst: int = 5


@dataclass
class RetryConfig:
    """Retries of transient failures (HTTP 429/5xx, timeouts, connection errors, Flickr codes 105/106)."""

    attempts: int = 6            # retries after the first try
    backoff: float = 1.0         # seconds; delay = backoff * 2**(n-1) + U(0, jitter), capped
    backoff_max: float = 120.0
    jitter: float = 1.0
    retry_after_max: float = 900.0   # never wait longer than this for a Retry-After header
    timeout: float = 30.0        # seconds per HTTP request (connect and read)


@dataclass
class FlickrConfig:
    rest_url: str = DEFAULT_REST_URL
    credentials_file: str | None = None
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)


@dataclass
class DomainConfig:
    """One domain of the unpaired dataset (the paper's Table 1 row)."""

    text: str = "portrait"
    exclude_tags: list[str] = field(default_factory=list)
    #: allowed cameras as "Make Model" from EXIF (e.g. "Apple iPhone 7"); empty = any camera, no EXIF calls.
    cameras: list[str] = field(default_factory=list)
    target: int = 4000
    #: upload-date range searched (unix seconds or "YYYY-MM-DD", UTC). An unset upper date is fixed at the
    #: first run (stored in RAW/<domain>/state.json) so the windows, and therefore the results, are stable.
    min_upload_date: Any = None
    max_upload_date: Any = None
    sort: str = "date-posted-desc"
    content_type: int = 1        # photos only (no screenshots / "other")
    safe_search: int = 1


@dataclass
class DomainsConfig:
    A: DomainConfig = field(default_factory=lambda: DomainConfig(
        text="portrait", cameras=["Apple iPhone 7"], min_upload_date="2016-09-16"))
    B: DomainConfig = field(default_factory=lambda: DomainConfig(text="portrait bokeh"))


@dataclass
class DownloadConfig:
    workers: int = 4
    sizes: list[str] = field(default_factory=lambda: list(DEFAULT_SIZES))
    timeout: float = 60.0
    max_bytes: int = 80_000_000
    #: an item that failed this many times is not tried again by later runs.
    max_attempts: int = 3
    #: a gray image whose most common colour covers at least this fraction is Flickr's placeholder.
    placeholder_fraction: float = 0.8


@dataclass
class ScrapeConfig:
    flickr: FlickrConfig = field(default_factory=FlickrConfig)
    licenses: list[int] = field(default_factory=lambda: list(CC_LICENSES))
    per_page: int = 500
    #: Flickr serves at most this many results per query; larger windows are bisected by upload date.
    max_results_per_query: int = 4000
    extras: list[str] = field(default_factory=lambda: [
        "license", "owner_name", "tags", "date_upload", "original_format", "media"])
    domains: DomainsConfig = field(default_factory=DomainsConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    #: stop a domain after this many failures in a row (the service or the network is down).
    max_consecutive_failures: int = 25

    def validate(self) -> None:
        if not 1 <= self.per_page <= 500:
            raise UserError(f"per_page: must be 1..500 (Flickr's maximum), got {self.per_page}")
        if self.max_results_per_query < self.per_page:
            raise UserError("max_results_per_query: must be at least per_page")
        if self.flickr.rate_limit.calls_per_hour <= 0 or self.flickr.rate_limit.burst < 1:
            raise UserError("flickr.rate_limit: calls_per_hour must be > 0 and burst >= 1")
        if self.flickr.retry.attempts < 0 or self.flickr.retry.timeout <= 0:
            raise UserError("flickr.retry: attempts must be >= 0 and timeout > 0")
        if not re.match(r"^https?://", self.flickr.rest_url):
            raise UserError(f"flickr.rest_url: expected an http(s) URL, got {self.flickr.rest_url!r}")
        if self.download.workers < 1:
            raise UserError(f"download.workers: must be >= 1, got {self.download.workers}")
        for s in self.download.sizes:
            if s not in KNOWN_SIZES:
                raise UserError(f"download.sizes: unknown size {s!r} (known: {', '.join(KNOWN_SIZES)})")
        if not self.download.sizes:
            raise UserError("download.sizes: give at least one size, e.g. [url_o, url_l]")
        for lic in self.licenses:
            if not 0 <= lic <= 16:
                raise UserError(f"licenses: unknown Flickr licence id {lic}")
        for name in ("A", "B"):
            d: DomainConfig = getattr(self.domains, name)
            if d.target < 1:
                raise UserError(f"domains.{name}.target: must be >= 1")
            parse_date(d.min_upload_date, f"domains.{name}.min_upload_date")
            parse_date(d.max_upload_date, f"domains.{name}.max_upload_date")

    def search_extras(self) -> str:
        """The ``extras`` parameter: metadata plus every image size we may download."""
        seen: list[str] = []
        for e in [*self.extras, *self.download.sizes]:
            if e not in seen:
                seen.append(e)
        return ",".join(seen)


def load_scrape_config(path: str | os.PathLike[str] | None = "flickr", *,
                       overrides: list[str] | None = None) -> ScrapeConfig:
    """Load ``configs/flickr.yaml`` (or another file) with ``--set`` overrides."""
    return load_config(ScrapeConfig, path, overrides=overrides)


def parse_date(value: Any, where: str = "date") -> int | None:
    """A unix timestamp (UTC) from an int, ``YYYY-MM-DD[ HH:MM:SS]`` string or YAML date; ``None`` stays."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UserError(f"{where}: expected a date, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, _dt.datetime):
        return int(calendar.timegm(value.utctimetuple()))
    if isinstance(value, _dt.date):
        return int(calendar.timegm(value.timetuple()))
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return int(s)
        for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return int(calendar.timegm(_dt.datetime.strptime(s, fmt).timetuple()))
            except ValueError:
                continue
    raise UserError(f"{where}: expected unix seconds or YYYY-MM-DD, got {value!r}")


class Credentials:
    """Flickr API key and secret. Never printed: ``repr``/``str`` are redacted."""

    __slots__ = ("_key", "_secret", "source")

    def __init__(self, key: str, secret: str, source: str) -> None:
        self._key = key
        self._secret = secret
        self.source = source  # where they came from ("environment" or the file path), safe to show

    @property
    def key(self) -> str:
        return self._key

    @property
    def secret(self) -> str:
        return self._secret

    def redact(self, text: str) -> str:
        """``text`` with the key and secret replaced by ``***``.

        Values shorter than 6 characters (never real Flickr credentials, which are 32 and 16 hex digits)
        are left alone: replacing "s" everywhere would garble every message.
        """
        for s in (self._key, self._secret):
            if s and len(s) >= 6:
                text = text.replace(s, "***")
        return text

    def __repr__(self) -> str:
        return f"Credentials(key=***, secret=***, source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # refuse pickling: a pickle would hold the secret in plain text
        raise TypeError("Credentials cannot be pickled")


def load_credentials(credentials_file: str | None = None,
                     env: dict[str, str] | os._Environ[str] | None = None) -> Credentials:
    """Key and secret from ``FLICKR_API_KEY``/``FLICKR_API_SECRET``, else from ``credentials_file``.

    The file is YAML (``key: …`` and ``secret: …``) or ``NAME=value`` lines with the two environment
    variable names; it must belong to the user and not be readable by others (``chmod 600``).

    Raises:
        UserError: no credentials, or an unsafe/unreadable file (the message never contains them).
    """
    env = os.environ if env is None else env
    key, secret = env.get(KEY_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if key and secret:
        return Credentials(key, secret, "environment")
    if credentials_file:
        return _credentials_from_file(Path(os.path.expanduser(credentials_file)))
    raise UserError(f"no Flickr API key: set {KEY_ENV} and {SECRET_ENV} (apply for a key at "
                    "https://www.flickr.com/services/apps/create/) or point flickr.credentials_file "
                    "at a file you own (chmod 600)")


def _credentials_from_file(path: Path) -> Credentials:
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"flickr.credentials_file {path}: no such file") from None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UserError(f"flickr.credentials_file {path}: not owned by you; use a file you own")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"flickr.credentials_file {path}: readable by others; run chmod 600 {path}")
    text = path.read_text(encoding="utf-8")
    values: dict[str, str] = {}
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
    if isinstance(loaded, dict):
        values = {str(k).lower(): str(v).strip() for k, v in loaded.items() if v is not None}
    else:
        for line in text.splitlines():
            name, sep, val = line.partition("=")
            if sep:
                values[name.strip().lower()] = val.strip().strip("'\"")
    key = values.get("key") or values.get("api_key") or values.get(KEY_ENV.lower(), "")
    secret = values.get("secret") or values.get("api_secret") or values.get(SECRET_ENV.lower(), "")
    if not key or not secret:
        raise UserError(f"flickr.credentials_file {path}: expected 'key: …' and 'secret: …' "
                        f"(or {KEY_ENV}=… and {SECRET_ENV}=… lines)")
    return Credentials(key, secret, str(path))
