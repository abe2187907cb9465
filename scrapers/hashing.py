"""Content and perceptual hashes of image files, cached and computed in parallel.

* ``sha256`` of the file bytes (exact duplicates), file size, and the *oriented* resolution read from
  the header (the paper's exact-duplicate rule: identical resolution and file size).
* ``phash``: 64-bit DCT perceptual hash (:func:`imagehash.phash`) of the image decoded at reduced size
  with JPEG draft mode (1/2…1/8 scale in the decoder, ~3× faster on 6 MP photos) and only *then*
  EXIF-transposed, so an orientation-6 file hashes like its upright copy.

Results are cached in a JSON-lines file keyed by ``(path, size, mtime_ns)``: re-runs only hash new or
changed files. A file that cannot be decoded gets ``error`` (the reason) instead of a ``phash``; its
sha256 is still recorded, and nothing stops the job.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gan_bokeh.errors import BadImageError
from gan_bokeh.io import append_jsonl, atomic_write_text, image_info, open_image, read_jsonl

__all__ = ["DRAFT_SIZE", "FileHash", "HashCache", "hash_file", "hash_files", "phash_image", "sha256_file"]

log = logging.getLogger(__name__)

#: JPEG draft target: the decoder picks the smallest 1/2^k scale still at least this large (phash
#: itself works on a 32×32 resize, so 1/8 of a 6 MP photo is plenty).
DRAFT_SIZE = (256, 256)
#: Bump when the hash definition changes; cached entries of another version are recomputed.
HASH_VERSION = 1


@dataclass
class FileHash:
    """Hashes and header facts of one file (``phash`` is ``None`` when ``error`` is set)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    width: int | None = None
    height: int | None = None
    phash: int | None = None
    error: str | None = None
    version: int = HASH_VERSION

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        # JSON numbers are doubles in many readers: keep the 64-bit hash exact as a hex string.
        d["phash"] = None if self.phash is None else f"{self.phash:016x}"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> FileHash:
        ph = d.get("phash")
        return cls(path=str(d["path"]), size=int(d["size"]), mtime_ns=int(d["mtime_ns"]),
                   sha256=str(d["sha256"]), width=d.get("width"), height=d.get("height"),
                   phash=None if ph is None else int(str(ph), 16), error=d.get("error"),
                   version=int(d.get("version", 0)))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _to_gray(img):  # PIL.Image -> PIL.Image 'L'
    """Any Pillow mode → 8-bit gray, scaling 16-bit data instead of clamping it."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        scale = 65535.0 if img.mode.startswith("I") and arr.max(initial=0) > 255 else 255.0
        return Image.fromarray((np.clip(arr / scale, 0, 1) * 255 + 0.5).astype(np.uint8), "L")
    if img.mode in ("P", "PA", "LA", "La", "RGBA", "RGBa"):
        # Composite transparency over white so a transparent region hashes like an empty background.
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, 1, ...
    return img.convert("L")


def phash_image(img) -> int:
    """64-bit perceptual hash (``imagehash.phash``, hash_size 8) of a PIL image, as an ``int``.

    Bit order: row-major over the 8×8 DCT sign matrix, first bit most significant.
    """
    import imagehash

    bits = imagehash.phash(_to_gray(img), hash_size=8).hash.ravel()
    return int.from_bytes(np.packbits(bits.astype(np.uint8)).tobytes(), "big")


def hash_file(path: str | os.PathLike[str], *, draft: bool = True) -> FileHash:
    """Hash one file; never raises for bad image content (the reason goes to ``error``)."""
    p = Path(path)
    st = p.stat()
    rec = FileHash(path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256_file(p))
    try:
        img = open_image(p, draft=DRAFT_SIZE if draft else None)  # decoder errors have the clearest words
        info = image_info(p)  # full-size (oriented) resolution: the draft decode is smaller
        rec.width, rec.height = int(info["width"]), int(info["height"])
        rec.phash = phash_image(img)
    except BadImageError as err:
        rec.error = err.reason
    except Exception as err:  # noqa: BLE001 - a batch job must survive any decoder failure
        rec.error = f"cannot hash image ({type(err).__name__}: {err})"
    return rec


def _hash_worker(args: tuple[str, bool]) -> dict[str, object]:
    return hash_file(args[0], draft=args[1]).to_dict()


class HashCache:
    """JSON-lines cache ``path -> FileHash`` valid while size and mtime are unchanged.

    Appends as it goes (a killed run keeps what it computed); :meth:`compact` rewrites one line per
    file atomically.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self.entries: dict[str, FileHash] = {}
        if self.path is not None:
            for d in read_jsonl(self.path):
                try:
                    fh = FileHash.from_dict(d)
                except (KeyError, TypeError, ValueError):
                    continue
                self.entries[fh.path] = fh

    @staticmethod
    def key(path: str | os.PathLike[str]) -> str:
        return str(Path(path).resolve())

    def get(self, path: str | os.PathLike[str]) -> FileHash | None:
        fh = self.entries.get(self.key(path))
        if fh is None or fh.version != HASH_VERSION:
            return None
        try:
            st = Path(path).stat()
        except FileNotFoundError:
            return None
        if st.st_size != fh.size or st.st_mtime_ns != fh.mtime_ns:
            return None
        return fh

    def put(self, fh: FileHash) -> None:
        fh = FileHash(**{**asdict(fh), "path": self.key(fh.path)})
        self.entries[fh.path] = fh
        if self.path is not None:
            try:
                append_jsonl(self.path, fh.to_dict(), fsync=False)
            except OSError as err:  # read-only folder: carry on without a cache
                log.warning("hash cache %s not writable (%s); continuing without it (use --cache)", self.path, err)
                self.path = None

    def compact(self) -> None:
        if self.path is None:
            return
        live = [fh for fh in self.entries.values() if Path(fh.path).exists()]
        import json

        try:
            atomic_write_text(self.path, "".join(json.dumps(fh.to_dict(), sort_keys=True) + "\n" for fh in live))
        except OSError as err:
            log.warning("hash cache %s not writable (%s)", self.path, err)


def hash_files(paths: Sequence[str | os.PathLike[str]], *, cache: HashCache | None = None, workers: int = 2,
               draft: bool = True, progress: bool = True) -> list[FileHash]:
    """Hash many files (cached, ``workers`` processes); result order follows ``paths``.

    Returned ``FileHash.path`` is the path as given (not the cache's resolved key).
    """
    cache = cache or HashCache(None)
    out: list[FileHash | None] = [None] * len(paths)
    todo: list[int] = []
    for i, p in enumerate(paths):
        hit = cache.get(p)
        if hit is not None:
            out[i] = FileHash(**{**asdict(hit), "path": str(p)})
        else:
            todo.append(i)
    if todo:
        log.info("hashing %d file(s) (%d cached)", len(todo), len(paths) - len(todo))
        results = _map(_hash_worker, [(str(paths[i]), draft) for i in todo], workers, progress)
        for i, d in zip(todo, results, strict=True):
            fh = FileHash.from_dict(d)
            cache.put(fh)
            out[i] = fh
        cache.compact()
    return [fh for fh in out if fh is not None]


def _map(fn, items: list, workers: int, progress: bool) -> Iterable:
    from tqdm import tqdm

    bar_kw = {"total": len(items), "desc": "hash", "unit": "img", "disable": not progress or None}
    if workers <= 1 or len(items) < 8:
        return [fn(it) for it in tqdm(items, **bar_kw)]
    chunk = max(1, min(64, len(items) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers) as ex:
        return list(tqdm(ex.map(fn, items, chunksize=chunk), **bar_kw))
