"""Rewrite the registry tables in docs/*.md from the registries (renderers, kernels, merge modes, configs).

Usage: ``python scripts/docs_tables.py`` (from the repository root); tests/test_registries.py fails when a
table is out of date.
"""

from __future__ import annotations

from pathlib import Path

from gan_bokeh.registry import doc_tables, replace_doc_table

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for (doc, marker), table in doc_tables().items():
        path = ROOT / doc
        new = replace_doc_table(path.read_text(encoding="utf-8"), marker, table)
        path.write_text(new, encoding="utf-8")
        print(f"{doc}: {marker}")


if __name__ == "__main__":
    main()
