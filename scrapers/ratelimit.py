"""A thread-safe token bucket: one per API key, shared by every thread that calls Flickr with it.

Flickr allows 3600 API calls per hour per key. The bucket refills continuously at
``calls_per_hour / 3600`` tokens per second and holds at most ``burst`` tokens, so a fresh start may fire
a few calls at once but the long-run rate never exceeds the budget. Retries spend tokens too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket", "bucket_for_key"]


class TokenBucket:
    """Blocking token bucket.

    Args:
        rate_per_hour: refill rate (tokens per hour), > 0.
        burst: capacity (maximum tokens saved up), >= 1. Starts full.
        clock: monotonic clock in seconds (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(self, rate_per_hour: float, burst: int = 1, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_per_hour <= 0 or burst < 1:
            raise ValueError("rate_per_hour must be > 0 and burst >= 1")
        self.rate = rate_per_hour / 3600.0
        self.capacity = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.acquired = 0  # number of tokens handed out (calls made), for the summary line

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def reserve(self) -> float:
        """Take one token now (possibly going into debt) and return how long the caller must wait.

        Reservation under the lock followed by sleeping outside it keeps callers in FIFO-ish order and
        never lets two threads spend the same token.
        """
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            self.acquired += 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Block until a token is available; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


_BUCKETS: dict[str, TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for_key(api_key: str, rate_per_hour: float, burst: int) -> TokenBucket:
    """The process-wide bucket of ``api_key`` (created on first use); clients sharing a key share it.

    The registry is keyed by a hash of the key, so not even this dict holds the key itself.
    """
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _BUCKETS_LOCK:
        b = _BUCKETS.get(digest)
        if b is None or b.rate != rate_per_hour / 3600.0 or b.capacity != float(burst):
            b = TokenBucket(rate_per_hour, burst)
            _BUCKETS[digest] = b
        return b
