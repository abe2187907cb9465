"""A polite Flickr REST client around :class:`flickrapi.FlickrAPI`.

What flickrapi does not do, and this wrapper adds:

* **configurable endpoint** — ``REST_URL`` is a class attribute read on every call; we set it on *our*
  instance only, so other FlickrAPI objects in the process keep the real endpoint;
* **HTTP retries** — flickrapi posts through a ``requests.Session`` shared by every instance (a class
  attribute). We give our instance its own session with an ``HTTPAdapter`` whose :class:`PoliteRetry`
  retries HTTP 429/5xx, timeouts and connection errors (POST included: ``allowed_methods=None``) with
  exponential backoff + jitter, honouring ``Retry-After``, and spends a rate-limit token per retry;
* **Flickr's own temporary errors** — ``stat=fail`` codes 105 (service unavailable) and 106 (write
  failed) come back with HTTP 200, so they are retried here with the same backoff;
* **fail fast** — an invalid key (100) or bad signature (96–99) is a :class:`FlickrKeyError` (a
  :class:`~gan_bokeh.errors.UserError`: one line, exit 2); other ``stat=fail`` codes are
  :class:`FlickrCallError` for the caller to judge (e.g. getExif code 2 = owner hides EXIF);
* **rate limit** — every call (and retry) takes a token from the key's :class:`~scrapers.ratelimit.TokenBucket`;
* **secrecy** — key and secret never appear in messages, logs or ``repr``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import flickrapi
import requests
from flickrapi.exceptions import FlickrError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gan_bokeh import __version__
from gan_bokeh.errors import UserError
from scrapers.config import Credentials, RetryConfig
from scrapers.ratelimit import TokenBucket, bucket_for_key

__all__ = ["FlickrCallError", "FlickrClient", "FlickrKeyError", "FlickrUnavailableError", "PoliteRetry",
           "RETRY_STATUSES", "TEMPORARY_CODES", "backoff_delay", "make_session", "quiet_third_party_logs"]

LOG = logging.getLogger(__name__)

#: HTTP statuses worth retrying: rate limited and server-side trouble.
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Flickr ``stat=fail`` codes that mean "try again later" (105 service unavailable, 106 write failed).
TEMPORARY_CODES = frozenset({105, 106})
#: codes that say the key/secret itself is unusable: stop at once.
KEY_CODES = {
    100: "Flickr rejected the API key (error 100: invalid API key); check FLICKR_API_KEY "
         "or flickr.credentials_file",
    96: "Flickr rejected the request signature (error 96); check FLICKR_API_SECRET",
    97: "Flickr reports a missing signature (error 97); check FLICKR_API_SECRET",
    98: "Flickr login failed (error 98: invalid auth token); check FLICKR_API_KEY/FLICKR_API_SECRET",
    99: "Flickr denied permission (error 99); this key lacks the rights for the call",
}
#: other codes that no retry can fix, for any method.
PERMANENT_CODES = {95: "SSL is required", 111: "format not found", 112: "method not found",
                   116: "bad URL (is flickr.rest_url right?)"}

# Module-level so tests can replace it (``monkeypatch.setattr(scrapers.flickr, "_sleep", fake)``).
_sleep: Callable[[float], None] = time.sleep


def _do_sleep(seconds: float) -> None:
    if seconds > 0:
        _sleep(seconds)


class FlickrKeyError(UserError):
    """The key or secret is invalid: nothing will work, stop now (exit 2)."""


class FlickrUnavailableError(UserError):
    """Flickr (or the network) kept failing after every retry: stop; a re-run resumes."""

    exit_code = 1


class FlickrCallError(Exception):
    """A ``stat=fail`` answer that is about this call (photo not found, EXIF hidden, bad argument ...)."""

    def __init__(self, method: str, code: int | None, message: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method}: error {code}: {message}")


def backoff_delay(attempt: int, cfg: RetryConfig, rng: Callable[[], float] = random.random) -> float:
    """Delay before retry number ``attempt`` (1-based): ``backoff·2^(attempt−1)`` capped, plus jitter."""
    base = min(cfg.backoff_max, cfg.backoff * (2 ** max(0, attempt - 1)))
    return base + rng() * cfg.jitter


class PoliteRetry(Retry):
    """urllib3 ``Retry`` whose sleep = ``Retry-After`` if given, else exponential backoff with jitter.

    Subclassed per client by :func:`make_session` to bind the retry settings and the token bucket
    (urllib3 re-creates Retry objects through ``type(self)(...)``, so class attributes survive).
    """

    retry_cfg: RetryConfig = RetryConfig()
    bucket: TokenBucket | None = None

    def sleep(self, response: Any = None) -> None:
        delay: float | None = None
        if response is not None and self.respect_retry_after_header:
            try:
                delay = self.get_retry_after(response)  # capped at retry_after_max by urllib3
            except Exception:  # an unparsable header: fall back to our backoff
                delay = None
        if delay is None:
            delay = backoff_delay(max(1, len(self.history)), self.retry_cfg)
        status = getattr(response, "status", None)
        if delay >= 10:
            LOG.info("Flickr asked to slow down (%s): waiting %.0f s", f"HTTP {status}" if status else "timeout",
                     delay)
        LOG.debug("retrying after %s in %.1f s", f"HTTP {status}" if status else "a network error", delay)
        _do_sleep(delay)
        if self.bucket is not None:
            self.bucket.acquire()  # a retry is another call against the key's hourly budget


def make_session(cfg: RetryConfig, bucket: TokenBucket | None = None, pool_size: int = 8) -> requests.Session:
    """A ``requests.Session`` that retries 429/5xx/timeouts/connection errors politely (any method)."""
    retry_cls = type("BoundPoliteRetry", (PoliteRetry,), {"retry_cfg": cfg, "bucket": bucket})
    retry = retry_cls(
        total=None, connect=cfg.attempts, read=cfg.attempts, status=cfg.attempts, other=cfg.attempts,
        redirect=10, allowed_methods=None, status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True, retry_after_max=cfg.retry_after_max, raise_on_status=True,
        backoff_factor=0)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"gan-bokeh/{__version__} (research dataset collection; python-requests)"
    return session


def quiet_third_party_logs() -> None:
    """Silence loggers that would print request details (oauthlib logs signed headers at DEBUG)."""
    for name in ("flickrapi", "requests_oauthlib", "oauthlib", "urllib3"):
        logging.getLogger(name).setLevel(logging.CRITICAL if name == "flickrapi" else logging.WARNING)


class FlickrClient:
    """Rate-limited, retrying Flickr REST client.

    Args:
        credentials: key and secret (never logged).
        rest_url: REST endpoint (``flickr.rest_url`` / ``--rest-url``).
        retry: retry/timeout settings.
        calls_per_hour, burst: the key's token bucket (shared by every client of the same key).
        bucket: explicit bucket (tests).
    """

    def __init__(self, credentials: Credentials, *, rest_url: str, retry: RetryConfig,
                 calls_per_hour: float = 3600.0, burst: int = 5, bucket: TokenBucket | None = None,
                 pool_size: int = 8) -> None:
        self._creds = credentials
        self.rest_url = rest_url
        self.retry = retry
        self.bucket = bucket or bucket_for_key(credentials.key, calls_per_hour, burst)
        self.session = make_session(retry, self.bucket, pool_size)
        quiet_third_party_logs()
        api = flickrapi.FlickrAPI(credentials.key, credentials.secret, format="parsed-json",
                                  store_token=False, timeout=retry.timeout)
        # Instance attributes shadow FlickrAPI's class-level REST_URL and shared session: this client's
        # endpoint and retry policy never leak into other FlickrAPI objects of the process.
        api.REST_URL = rest_url
        api.flickr_oauth.session = self.session
        self._api = api

    def __repr__(self) -> str:  # flickrapi's own repr prints the key; ours does not
        return f"FlickrClient(rest_url={self.rest_url!r})"

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` (e.g. ``"flickr.photos.search"``) and return the parsed JSON answer.

        Raises:
            FlickrKeyError: invalid key/secret (stop the job).
            FlickrUnavailableError: still failing after every retry (stop; re-run resumes).
            FlickrCallError: another ``stat=fail`` answer about this call.
        """
        attempts = self.retry.attempts
        last = ""
        for attempt in range(attempts + 1):
            if attempt:
                _do_sleep(backoff_delay(attempt, self.retry))
            self.bucket.acquire()
            try:
                return self._api.do_flickr_call(method, timeout=self.retry.timeout, **params)
            except FlickrError as err:
                code = err.code
                msg = self._creds.redact(str(err))
                if code in KEY_CODES:
                    raise FlickrKeyError(KEY_CODES[code]) from None
                if code in PERMANENT_CODES:
                    raise FlickrKeyError(f"Flickr {method}: error {code} ({PERMANENT_CODES[code]})") from None
                if code in TEMPORARY_CODES or (code == 10 and method == "flickr.photos.search"):
                    last = f"error {code}: {_short(msg)}"
                    LOG.debug("%s: temporary Flickr error %s, retrying", method, code)
                    continue
                if code is None:  # a non-200 status that is not worth retrying (403, 404, ...)
                    raise FlickrUnavailableError(f"Flickr {method} at {self.rest_url}: {_short(msg)}") from None
                raise FlickrCallError(method, code, _short(msg.partition(f"{code}: ")[2] or msg)) from None
            except requests.exceptions.RetryError as err:
                # urllib3 already retried ``attempts`` times with backoff; do not multiply the retries.
                raise FlickrUnavailableError(
                    f"Flickr {method}: still failing after {attempts} retries ({_http_reason(err)}); "
                    "re-run later to resume") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
                raise FlickrUnavailableError(
                    f"Flickr {method}: no answer from {self.rest_url} after {attempts} retries "
                    f"({type(err).__name__}); check the network or flickr.rest_url, then re-run") from None
            except (ValueError, KeyError) as err:  # JSON garbage (a proxy's HTML page with HTTP 200)
                last = f"unparsable answer ({type(err).__name__})"
                LOG.debug("%s: unparsable answer, retrying", method)
                continue
        raise FlickrUnavailableError(f"Flickr {method}: still failing after {attempts} retries ({last}); "
                                     "re-run later to resume")


def _short(msg: str, n: int = 160) -> str:
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[: n - 1] + "…"


def _http_reason(err: Exception) -> str:
    reason = getattr(getattr(err, "args", [None])[0], "reason", None)
    text = str(reason) if reason is not None else str(err)
    if "too many" in text:
        return text[text.find("too many"):].rstrip("')\"")
    return type(reason).__name__ if reason is not None else type(err).__name__
