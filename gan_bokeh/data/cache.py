"""On-disk cache of the loader's resized uint8 arrays, so epochs after the first never decode a photo again.

One ``.npy`` file per (image, mask source, load size); the key holds each file's path, size and mtime, so an
edited image or mask is decoded afresh. Files are shared by loader workers, DDP ranks on one host and
successive runs (the four paper variants on one dataset decode it once). Nothing is ever evicted: delete the
folder to reclaim the space (~330 KB per image at ``load_size`` 286 with a mask).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from gan_bokeh.runtime import cache_root

__all__ = ["ArrayCache", "default_cache_dir", "file_identity"]


log = logging.getLogger(__name__)

_VERSION = "1"  # bump when the loader's output for a given file changes


def default_cache_dir() -> Path:
    """``<cache root>/resized`` (see :func:`gan_bokeh.runtime.cache_root`; ``$GAN_BOKEH_CACHE`` moves it)."""
    return cache_root() / "resized"


def file_identity(path: str | os.PathLike[str]) -> str:
    """``resolved-path|size|mtime_ns``: changes whenever the file is replaced or edited."""
    p = Path(path).resolve()
    st = p.stat()
    return f"{p}|{st.st_size}|{st.st_mtime_ns}"


class ArrayCache:
    """A folder of uint8 arrays addressed by string keys.

    A failed write (read-only or full disk) logs one warning and turns the cache off for this process; an
    unreadable entry counts as a miss. Writes are atomic (temp file + rename) but not fsynced: a cache entry
    torn by a crash fails to load and is simply rebuilt.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.enabled = True
        try:  # probe once here, so forked loader workers inherit the verdict instead of each warning
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError("permission denied")
        except OSError as err:
            self._disable(err)

    def _disable(self, err: OSError) -> None:
        self.enabled = False
        log.warning("resized-image cache %s is not writable (%s); continuing without it "
                    "(set data.cache_dir=DIR or data.cache=false)", self.root, err)

    def _path(self, key: str) -> Path:
        digest = hashlib.sha1(f"{_VERSION}|{key}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def get(self, key: str) -> np.ndarray | None:
        if not self.enabled:
            return None
        try:
            arr = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        return arr if arr.dtype == np.uint8 else None

    def put(self, key: str, arr: np.ndarray) -> None:
        if not self.enabled:
            return
        dest = self._path(key)
        tmp = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=".tmp", dir=dest.parent)
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr, dtype=np.uint8), allow_pickle=False)
            os.replace(tmp, dest)
            tmp = None
        except OSError as err:  # e.g. a full disk
            self._disable(err)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
