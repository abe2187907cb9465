"""The one done/skipped/failed loop of the batch commands, and their one exit-code rule.

Every item of a batch ends in exactly one state:

* **done** — its outputs were written;
* **skipped** — its outputs already exist (resume; ``--overwrite`` redoes it);
* **failed** — bad input (unreadable photo, broken mask or depth file, a model error on this item): recorded
  with a one-line reason naming the file, and the batch carries on.

Exit status of ``render``, ``segment`` and ``generate`` (:attr:`BatchResult.exit_code`): **0** when no item
failed, **1** when at least one item failed (even if others were done: a script must notice a missing output),
**2** for a user error before any work (bad flags, no inputs, ``--out`` = the input folder), raised as
:class:`~gan_bokeh.errors.UserError` and printed as one line by the CLI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from gan_bokeh.errors import UserError

__all__ = ["BatchResult", "each", "failure_reason", "run_batch"]

T = TypeVar("T")
#: What the work function returns per item: ``(item, record)``; ``record["status"]`` is ``"done"`` or
#: ``"failed"`` (then with ``"reason"``).
Outcome = tuple[Any, dict[str, Any]]


@dataclass
class BatchResult:
    """Counts of one batch, its printed summary and its exit status."""

    command: str
    out: Path
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, one-line reason)
    detail: str = ""  # appended to the summary line, e.g. "work size 256, merge detail"

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else 1 (the module docstring's rule)."""
        return 1 if self.failed else 0

    def summary(self) -> str:
        """``render: 2 done, 1 skipped (already done), 0 failed → OUT (detail)``."""
        extra = f" ({self.detail})" if self.detail else ""
        return (f"{self.command}: {self.done} done, {self.skipped} skipped (already done), "
                f"{len(self.failed)} failed → {self.out}{extra}")

    def report(self, out: TextIO | None = None, err: TextIO | None = None) -> int:
        """Print each failure (stderr) and the summary line (stdout); return :attr:`exit_code`."""
        out, err = out or sys.stdout, err or sys.stderr
        for item, reason in self.failed:
            print(f"failed: {reason if item in reason else f'{item}: {reason}'}", file=err)
        print(self.summary(), file=out)
        return self.exit_code


def failure_reason(item: str | os.PathLike[str], err: UserError) -> str:
    """One line naming the file that is wrong: the input itself (just the reason), or the side file (mask,
    depth) that failed to load (its full message, which names it)."""
    from gan_bokeh.errors import BadImageError

    if isinstance(err, BadImageError) and Path(err.path) == Path(item):
        return err.reason
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def each(fn: Callable[[T], dict[str, Any]]) -> Callable[[list[T]], list[Outcome]]:
    """Adapt a one-item function (returns the item's ``done`` record, raises :class:`UserError` for bad
    input) to the chunk interface of :func:`run_batch`."""

    def work(chunk: list[T]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for item in chunk:
            try:
                outcomes.append((item, {"status": "done", **fn(item)}))
            except UserError as err:  # BadImageError included: record it, carry on
                outcomes.append((item, {"status": "failed", "reason": failure_reason(item, err)}))
        return outcomes

    return work


def run_batch(items: Sequence[T], work: Callable[[list[T]], Iterable[Outcome]], *, command: str,
              out: str | os.PathLike[str], is_done: Callable[[T], bool] | None = None,
              failed_early: Iterable[tuple[T, str]] = (), chunk_size: int = 1,
              journal: str | os.PathLike[str] | None = None, item_key: str = "input",
              progress: bool = True) -> BatchResult:
    """Run ``work`` over ``items`` in chunks; count, journal and return the outcome.

    Args:
        items: the inputs, in order.
        work: ``chunk → [(item, record)]`` (see :func:`each` for one item at a time); a chunk lets a model
            run several images per forward pass.
        command: the name in the summary line.
        out: the output folder (summary line).
        is_done: ``item → True`` when its outputs exist (skipped; pass ``None`` with ``--overwrite``).
        failed_early: ``(item, reason)`` already refused by the caller's planning (e.g. colliding stems).
        chunk_size: items per ``work`` call.
        journal: JSON-lines file that gets one record per done or failed item (``item_key`` = the item).
        progress: a progress bar on a terminal.
    """
    from tqdm import tqdm

    from gan_bokeh.io import append_jsonl

    res = BatchResult(command, Path(out))

    def record(item: T, rec: dict[str, Any]) -> None:
        if rec.get("status") == "failed":
            res.failed.append((str(item), str(rec.get("reason", "failed"))))
        else:
            res.done += 1
        if journal is not None:
            append_jsonl(journal, {item_key: str(item), **rec})

    for item, reason in failed_early:
        record(item, {"status": "failed", "reason": reason})
    todo = []
    for item in items:
        if is_done is not None and is_done(item):
            res.skipped += 1
        else:
            todo.append(item)
    bar = tqdm(total=len(todo), desc=command, unit="img", disable=not (progress and sys.stderr.isatty()))
    for start in range(0, len(todo), max(1, chunk_size)):
        chunk = todo[start:start + max(1, chunk_size)]
        for item, rec in work(chunk):
            record(item, rec)
        bar.update(len(chunk))
    bar.close()
    return res
