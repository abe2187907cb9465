"""Name → implementation registries (timm style) for every user-choosable list, and the light ones.

A :class:`Registry` maps a name to an :class:`Entry`: a one-line help, free metadata and an optional lazy
``"module:attribute"`` target imported on first use, so the CLI can build ``choices=`` and help texts without
importing torch or the implementations. Each registry feeds the CLI choices, a table in the docs
(:meth:`Registry.markdown`) and one registry-wide test.

Registries: :data:`gan_bokeh.render.registry.RENDERERS` and :data:`~gan_bokeh.render.registry.KERNELS`,
:data:`MERGE_MODES` and :data:`CONFIGS` (here: their implementations import torch), the nets
(:mod:`gan_bokeh.nets.registry`); segmenters and depth backends have their own in their rooms.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_bokeh.errors import UserError

__all__ = ["CONFIGS", "MERGE_MODES", "Entry", "Registry", "config_registry"]


@dataclass(frozen=True)
class Entry:
    """One registered choice: ``name``, a one-line ``help``, ``meta`` data and a lazy ``target``."""

    name: str
    help: str
    target: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class Registry(Mapping[str, Entry]):
    """An ordered name → :class:`Entry` table (registration order = order in choices and docs)."""

    def __init__(self, kind: str, flag: str | None = None) -> None:
        self.kind, self.flag = kind, flag
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, help: str, target: str | None = None, **meta: Any) -> Entry:  # noqa: A002
        """Register ``name`` (twice is a programming error)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        entry = Entry(name, help, target, meta)
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        """The names in registration order (``argparse`` ``choices=``)."""
        return tuple(self._entries)

    def check(self, name: str) -> Entry:
        """The entry of ``name``, or a one-line :class:`UserError` naming the flag and the choices."""
        if name not in self._entries:
            what = self.flag or self.kind
            raise UserError(f"{what} {name}: unknown {self.kind}; choose from {', '.join(self._entries)}")
        return self._entries[name]

    def load(self, name: str) -> Any:
        """Import and return the target of ``name`` (``module:attribute``)."""
        target = self.check(name).target
        if target is None:
            raise ValueError(f"{self.kind} {name!r} has no target")
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def help_list(self) -> str:
        """``name (help); name (help)`` for ``--help`` texts."""
        return "; ".join(f"{e.name}: {e.help}" for e in self._entries.values())

    def markdown(self, columns: Mapping[str, str] | None = None) -> str:
        """A Markdown table of the entries: name, help and the ``meta`` keys given in ``columns``
        (``{meta key: column title}``); docs embed it and a test checks the docs still agree."""
        cols = dict(columns or {})
        head = f"| {self.kind} | what it is | " + "".join(f"{t} | " for t in cols.values())
        rule = "|---|---|" + "---|" * len(cols)
        rows = [f"| `{e.name}` | {e.help} | " + "".join(f"{_cell(e.meta.get(k))} | " for k in cols)
                for e in self._entries.values()]
        return "\n".join([head.rstrip(), rule, *(r.rstrip() for r in rows)])


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "–" if v is None else str(v)


#: How ``generate`` carries the working-resolution output to full size
#: (:func:`gan_bokeh.generate.merge_full_resolution`).
MERGE_MODES = Registry("merge mode", "--merge")
MERGE_MODES.add("detail", "the change plus the full-resolution detail, gated by where G kept texture (default)",
                keeps_detail="where G kept it")
MERGE_MODES.add("delta", "full-resolution input plus the upscaled change", keeps_detail="everywhere")
MERGE_MODES.add("resize", "bicubic upscale of G's output (the soft baseline)", keeps_detail="nowhere")


def config_registry(folder: str | Path | None = None) -> Registry:
    """The built-in configs: every ``configs/<name>.yaml``, help = its first comment line."""
    from gan_bokeh.config import CONFIG_DIR

    reg = Registry("config", "--config")
    d = Path(folder) if folder is not None else CONFIG_DIR
    for p in sorted(d.glob("*.yaml")) if d.is_dir() else []:
        lines = p.read_text(encoding="utf-8").splitlines()
        first = next((ln for ln in lines if ln.startswith("#")), "#")
        kind = "scrape" if any(ln.startswith("flickr:") for ln in lines) else "train"
        reg.add(p.stem, first.lstrip("# ").strip(), str(p), command=kind)
    return reg


#: Built-in configs (``--config NAME`` = ``configs/NAME.yaml``).
CONFIGS = config_registry()


def doc_tables() -> dict[tuple[str, str], str]:
    """``(docs file, marker) → Markdown table`` of every registry shown in the docs. The docs hold each table
    between ``<!-- registry:MARKER -->`` and ``<!-- /registry -->``; ``python scripts/docs_tables.py`` rewrites
    them and a test checks they are current."""
    from gan_bokeh.render.registry import KERNELS, RENDERERS

    return {
        ("docs/rendering.md", "renderers"): RENDERERS.markdown({"needs_depth": "needs depth",
                                                                         "pastes_subject": "subject pasted",
                                                                         "source": "source"}),
        ("docs/rendering.md", "kernels"): KERNELS.markdown({"sides": "blades (0 = round)"}),
        ("docs/generation.md", "merge-modes"): MERGE_MODES.markdown({"keeps_detail": "full-resolution detail"}),
        ("docs/training.md", "configs"): CONFIGS.markdown({"command": "for"}),
    }


def replace_doc_table(text: str, marker: str, table: str) -> str:
    """``text`` with the block between ``<!-- registry:marker -->`` and the next ``<!-- /registry -->``
    replaced by ``table`` (the markers must exist: a missing one is a programming error)."""
    start_tag, end_tag = f"<!-- registry:{marker} -->", "<!-- /registry -->"
    i = text.index(start_tag) + len(start_tag)
    j = text.index(end_tag, i)
    return text[:i] + "\n" + table + "\n" + text[j:]
