"""Loss-curve plots from a run's ``metrics.jsonl`` (the paper's Fig. 15–16), rendered with Agg.

Every numeric key is plotted, grouped by kind: ``cycle`` (cycle-consistency, Eq. 3), ``GAN`` (G_*, D_*:
adversarial terms), ``identity`` (idt_*), ``mask`` (mask_*: the L1/norm and VGG parts of the mask loss)
and ``other``. Bookkeeping keys (epoch, iteration, learning rate, timings) are the x axis or ignored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

GROUPS = ("cycle", "GAN", "identity", "mask", "other")
#: Keys that are bookkeeping, not losses.
SKIP_KEYS = frozenset({"epoch", "iter", "iteration", "step", "lr", "lr_G", "lr_D", "time", "seconds",
                       "sec", "sec_per_iter", "data_time", "iter_time", "images", "samples", "wall",
                       "level"})


def loss_group(key: str) -> str | None:
    """The group a metrics key belongs to, or ``None`` for bookkeeping keys."""
    k = key.lower()
    if key in SKIP_KEYS or k.startswith(("lr", "time", "t_", "mem", "gpu")) or k.endswith(("_time", "_sec", "_s")):
        return None
    if "cycle" in k or k.startswith("cyc"):
        return "cycle"
    if k.startswith("mask"):
        return "mask"
    if k.startswith(("idt", "ident")):
        return "identity"
    if key[:2] in ("G_", "D_") or "gan" in k or k.startswith(("d_", "g_")):
        return "GAN"
    return "other"


def group_keys(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Numeric keys seen in ``records``, grouped by :func:`loss_group` (groups in :data:`GROUPS` order)."""
    seen: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                seen.setdefault(k, None)
    out: dict[str, list[str]] = {}
    for k in seen:
        g = loss_group(k)
        if g is not None:
            out.setdefault(g, []).append(k)
    return {g: sorted(out[g]) for g in GROUPS if g in out}


def x_axis(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, str]:
    """Iteration numbers when recorded (else the record index)."""
    for key in ("iter", "iteration", "step"):
        if records and all(isinstance(r.get(key), (int, float)) for r in records):
            return np.array([r[key] for r in records], float), "iteration"
    return np.arange(1, len(records) + 1, dtype=float), "record"


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average ignoring NaN (window 1 = raw)."""
    if window <= 1 or len(values) < 2:
        return values
    out = np.empty_like(values)
    for i in range(len(values)):
        seg = values[max(0, i - window + 1):i + 1]
        seg = seg[~np.isnan(seg)]
        out[i] = seg.mean() if len(seg) else np.nan
    return out


def _series(records: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if isinstance(r.get(key), (int, float)) else np.nan for r in records])


def plot_run_losses(records: Sequence[dict[str, Any]], out_png: str | os.PathLike[str], title: str = "",
                    smooth_window: int | None = None) -> Path | None:
    """One PNG with a panel per loss group for one run. ``None`` when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    groups = group_keys(records)
    if not records or not groups:
        return None
    x, xlabel = x_axis(records)
    win = smooth_window if smooth_window is not None else max(1, len(records) // 50)
    n = len(groups)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (g, keys) in zip(axes.flat, groups.items(), strict=False):
        for k in keys:
            ax.plot(x, smooth(_series(records, k), win), label=k, linewidth=1.2)
        ax.set_title(f"{g} loss" + (f" (moving avg {win})" if win > 1 else ""), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save_figure(fig, out_png)


def plot_runs_group(runs: dict[str, Sequence[dict[str, Any]]], group: str, out_png: str | os.PathLike[str],
                    smooth_window: int | None = None) -> Path | None:
    """Compare runs on one loss group (sum of the group's keys per record), like Fig. 15 (cycle) / 16 (mask)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    fig, ax = plt.subplots(figsize=(6, 3.4))
    plotted = 0
    for name, records in runs.items():
        keys = group_keys(records).get(group)
        if not keys:
            continue
        x, xlabel = x_axis(records)
        total = np.nansum(np.stack([_series(records, k) for k in keys]), axis=0)
        win = smooth_window if smooth_window is not None else max(1, len(records) // 50)
        ax.plot(x, smooth(total, win), label=f"{name} ({' + '.join(keys)})" if len(keys) <= 4 else name)
        ax.set_xlabel(xlabel)
        plotted += 1
    if not plotted:
        plt.close(fig)
        return None
    ax.set_title(f"{group} loss by run")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_figure(fig, out_png)


def _save_figure(fig: Any, out_png: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    import matplotlib.pyplot as plt

    from gan_bokeh.io import atomic_path

    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out
