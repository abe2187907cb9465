"""Batch jobs over files: the library side of ``render``, ``segment`` and ``generate``.

The CLI modules parse flags into the options dataclasses here and print the :class:`BatchResult`; the demo
and ``compare`` call these functions directly. :mod:`gan_bokeh.batch.loop` holds the one done/skipped/failed
loop and the one exit-code rule.
"""

from gan_bokeh.batch.loop import BatchResult, each, failure_reason, run_batch

__all__ = ["BatchResult", "each", "failure_reason", "run_batch"]
