"""What a run was made with, and what ``--resume`` may change.

- :func:`provenance`: the package version and, when the code runs from a git checkout, its commit; written
  into every checkpoint and into the run folder's ``run.json``.
- :func:`resume_changes`: the config keys a resumed run changes, split into the ones it may change
  (run length, speed and logging settings) and the ones it may not (model, objective, data: the run would
  silently become another experiment).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError

__all__ = ["provenance", "flatten", "resume_changes", "check_resume_config", "legacy_overrides", "RUN_LENGTH_KEYS", "FREE_KEYS"]

#: Keys a resumed run may change; the change is recorded in ``run.json`` (``--max-iters`` is not a key).
RUN_LENGTH_KEYS = frozenset({"train.n_epochs", "train.n_epochs_decay"})
#: Keys that change speed, logging or test-time defaults, never what is trained.
FREE_KEYS = frozenset({"data.num_workers", "data.cache", "data.cache_dir", "train.amp", "train.channels_last",
                       "train.deterministic"})
FREE_SECTIONS = ("log.", "test.")
#: Values of keys that older runs did not record (what the code did before the key existed).
LEGACY = {"model.objective": "cyclegan", "data.preprocess": "cyclegan", "train.mask_loss_on": "overlaid"}


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, Any]:
    """``{"package_version": "0.1.0", "git_commit": "<40 hex>" | None}``."""
    from gan_bokeh import __version__

    return {"package_version": __version__, "git_commit": _git_commit()}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def resume_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, tuple[Any, Any]],
                                                                    dict[str, tuple[Any, Any]]]:
    """``(allowed, refused)``: the keys whose value differs between the run's config ``old`` and ``new``
    (both as nested dicts), as ``{key: (old value, new value)}``. A key the old run did not record counts
    with its :data:`LEGACY` value, else it is not compared."""
    fo, fn = flatten(old), flatten(new)
    allowed, refused = {}, {}
    for key, value in fn.items():
        if key in fo:
            before = fo[key]
        elif key in LEGACY:
            before = LEGACY[key]
        else:
            continue
        if before == value:
            continue
        if key in RUN_LENGTH_KEYS or key in FREE_KEYS or key.startswith(FREE_SECTIONS):
            allowed[key] = (before, value)
        else:
            refused[key] = (before, value)
    return allowed, refused


def legacy_overrides(old: dict[str, Any]) -> list[str]:
    """``--set`` values that give a config file of an older run the :data:`LEGACY` values of keys it lacks
    (loading it as it is would fill in today's defaults, which that run did not train with)."""
    fo = flatten(old)
    return [f"{k}={v}" for k, v in LEGACY.items() if k not in fo]


def check_resume_config(run_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The allowed changes; a :class:`UserError` naming every refused key otherwise."""
    allowed, refused = resume_changes(old, new)
    if refused:
        what = ", ".join(f"{k} {a!r} → {b!r}" for k, (a, b) in sorted(refused.items()))
        raise UserError(f"{run_dir}: --resume with a config that differs from the run's in {what}; resume "
                        "with the run's own config (drop --config and these --set), or start a new run with "
                        "another --name (only run length, speed and log.*/test.* keys may change)")
    return allowed
