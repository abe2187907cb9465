"""Offline depth guess from a subject mask alone: subject plane + ground-plane ramp."""

from __future__ import annotations

import numpy as np

#: Label stored in output metadata when this source is used.
FALLBACK_LABEL = "fallback: subject plane + ground-plane ramp (no depth file, no learned depth)"


def fallback_depth(mask: np.ndarray, *, horizon: float | None = None) -> np.ndarray:
    """Guess a depth map from a subject mask, for machines with neither a depth file nor a learned depth model.

    The scene is modelled as a ground plane seen from eye height: depth rises linearly from 0 at the
    bottom row to 1 at the horizon, and everything above the horizon is far (1). The subject is a
    vertical plane standing on the ground at its lowest row, so it takes the ground depth of that row.

    Args:
        mask: ``(H, W)`` float [0, 1] subject mask (> 0.5 = subject). An empty mask gives the plain ramp.
        horizon: horizon row as a fraction of the height (0 = top); default: the subject's top row, or
            0.4 without a subject.

    Returns:
        ``float32 (H, W)``, 0 = near … 1 = far.
    """
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got {m.shape}")
    h, w = m.shape
    rows = np.flatnonzero((m > 0.5).any(axis=1))
    if horizon is None:
        horizon = rows[0] / h if rows.size else 0.4
    y_h = float(np.clip(horizon, 0.0, 0.95)) * (h - 1)
    y = np.arange(h, dtype=np.float32)
    ramp = np.clip((h - 1 - y) / max(h - 1 - y_h, 1.0), 0.0, 1.0)
    depth = np.repeat(ramp[:, None], w, axis=1)
    if rows.size:
        subject_depth = ramp[rows[-1]]
        depth = depth * (1.0 - m) + subject_depth * m
    return depth.astype(np.float32)
