"""Exceptions shared by every room.

A :class:`UserError` is something the user can fix (a bad path, a missing mask, an invalid option).
The CLI prints its message as one line and exits with status 2 — never a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by user input; the message must name the file/option and the fix."""

    exit_code = 2


class BadImageError(UserError):
    """An image file that cannot be decoded (truncated, not an image, too large, ...).

    Batch jobs catch this, record ``str(err)`` as the reason and carry on.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class BackendUnavailableError(UserError):
    """A model backend cannot run on this machine; ``auto`` choices catch this and try the next one.

    The subclasses say why, each with its own one-line fix.
    """


class WeightsUnavailableError(BackendUnavailableError):
    """Pretrained weights are neither cached nor given by path (typically: offline machine)."""


class MissingDependencyError(BackendUnavailableError):
    """An optional Python package a backend needs is not installed (the message names the pip extra)."""


class RemoteCodeError(BackendUnavailableError):
    """Model code fetched at run time (``torch.hub``) was found but failed to import or run."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message (its type name when it has none), at most
    ``limit`` characters: for one-line messages that quote a library's error (``EOFError()`` from a
    zero-byte file has no text at all)."""
    for line in str(err).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(err).__name__
