"""The demo's stage cache: ``<out>/.stages/<name>.done`` markers whose keys are derived from the stage's
parameters and the keys of the stages it reads (``after=``), so a changed upstream stage re-runs every
stage downstream of it without threading keys by hand."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Stages", "progress", "say", "stage_key"]

def stage_key(params: dict[str, Any]) -> str:
    """A short stable hash of a stage's parameters (and its upstream keys)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Stages:
    """Stage markers in ``<out>/.stages/<name>.done`` (JSON: key, seconds, finished, info)."""

    def __init__(self, out: Path) -> None:
        self.dir = out / ".stages"
        self.reused: list[str] = []
        self.ran: list[str] = []
        #: key of every stage run or reused in this session (what ``after=`` reads)
        self.keys: dict[str, str] = {}

    def derive(self, params: dict[str, Any], after: Sequence[str] = ()) -> str:
        """The key of a stage: its parameters plus the keys of the stages it reads (``after``), so a stage
        re-runs whenever anything upstream of it changed."""
        missing = [a for a in after if a not in self.keys]
        if missing:
            raise ValueError(f"stage(s) {', '.join(missing)} must run before the stages that read them")
        return stage_key({**params, "after": {a: self.keys[a] for a in sorted(after)}})

    def marker(self, name: str) -> dict[str, Any] | None:
        p = self.dir / f"{name}.done"
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def done(self, name: str, key: str, outputs: Sequence[Path] = ()) -> dict[str, Any] | None:
        """The marker of ``name`` when its key matches and its ``outputs`` still exist, else ``None``
        (a match also records ``key`` for the stages after it)."""
        m = self.marker(name)
        if m is None or m.get("key") != key or not all(Path(p).exists() for p in outputs):
            return None
        self.keys[name] = key
        return m

    def mark(self, name: str, key: str, seconds: float, info: dict[str, Any]) -> None:
        from gan_bokeh.io import atomic_write_text

        self.keys[name] = key
        rec = {"stage": name, "key": key, "seconds": round(seconds, 2),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "info": info}
        atomic_write_text(self.dir / f"{name}.done", json.dumps(rec, indent=2, default=str))

    def run(self, name: str, params: dict[str, Any], fn: Callable[[], dict[str, Any]],
            outputs: Sequence[Path] = (), after: Sequence[str] = ()) -> tuple[str, dict]:
        """Run ``fn`` unless a marker with the same key (:meth:`derive`) exists and ``outputs`` do; return
        ``(key, info)``."""
        key = self.derive(params, after)
        m = self.done(name, key, outputs)
        if m is not None:
            self.keys[name] = key
            say(f"[reuse] {name} (finished {m['finished']}, {m['seconds']:.0f} s)")
            self.reused.append(name)
            return key, m.get("info", {})
        say(f"[stage] {name} …")
        t0 = time.monotonic()
        info = fn() or {}
        secs = time.monotonic() - t0
        self.mark(name, key, secs, info)
        self.ran.append(name)
        say(f"[done]  {name} in {secs:.1f} s")
        return key, info


def say(msg: str) -> None:
    print(msg, flush=True)


def progress(total: int, desc: str):  # -> tqdm
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", leave=False, disable=not sys.stderr.isatty())
