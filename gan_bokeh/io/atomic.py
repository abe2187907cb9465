"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one behind.

Everything is written to a temporary file in the destination folder, flushed, fsynced and then
``os.replace``-d over the target (atomic on POSIX and Windows within one filesystem).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from gan_bokeh.errors import UserError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; outputs should get the permissions a plain open() would give them.
_FILE_MODE = 0o666 & ~_current_umask()

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "append_jsonl", "fsync_dir", "read_jsonl"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    Args:
        path: final destination.
        suffix: suffix of the temporary file (defaults to the destination's, so libraries that
            pick a format from the extension — OpenCV, Pillow, torch — still work).
    """
    dest = Path(path)
    if dest.is_dir():  # os.replace would fail only after the work is done, with a traceback
        raise UserError(f"{dest}: is a folder; give a file path (a name inside it, for example)")
    if dest.parent.exists() and not dest.parent.is_dir():
        raise UserError(f"{dest.parent}: is a file, not a folder; choose another output path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or dest.suffix or ".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with contextlib.suppress(OSError):
            os.chmod(tmp_path, _FILE_MODE)
        _fsync_file(tmp_path)
        os.replace(tmp_path, dest)
        fsync_dir(dest.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], Any]) -> None:
    """Call ``writer(fileobj)`` on a temporary binary file, then move it over ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any], *, fsync: bool = True) -> None:
    """Append one JSON object as a line; the line is flushed (and fsynced) before returning.

    A crash can at worst leave a truncated *last* line, which :func:`read_jsonl` ignores.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    with open(p, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping a torn last line left by a crash (and blank lines)."""
    p = Path(path)
    if not p.exists():
        return []
    out: list[dict[str, Any]] = []
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # torn write from a killed process; the item is simply redone
    return out


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make renames inside ``path`` durable (directory fsync); a no-op where unsupported (e.g. Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
