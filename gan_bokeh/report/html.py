"""Static HTML for the comparison report: one self-contained ``index.html`` with relative image links.

No server, no internet, no external CSS/JS: the page opens from disk (``file://``). A tiny inline script
checks after load that every ``<img>`` decoded (``naturalWidth > 0``) and writes the result into
``#img-status`` (``images-ok N/N`` or ``images-broken K/N: names``) — the browser test reads it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table.grid{border-collapse:collapse}
table.grid td,table.grid th{border:1px solid #ddd;padding:4px;vertical-align:top;text-align:center;background:#fff}
figure{margin:0}figure img{display:block;max-width:200px;max-height:200px;margin:auto}
figcaption{font-size:11px;margin-top:3px;max-width:200px;word-wrap:break-word}
table.grid th{max-width:140px;font-size:12px;word-wrap:break-word}
.note{font-size:11px;color:#a33;max-width:240px}
table.metrics{border-collapse:collapse;font-size:12px}
table.metrics td,table.metrics th{border:1px solid #ccc;padding:3px 6px;text-align:right}
table.metrics td:first-child,table.metrics th:first-child{text-align:left}
.plots img{max-width:100%;border:1px solid #ddd;margin:4px 0}
#img-status{font-size:11px;color:#666}
"""

_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  var el = document.getElementById('img-status');
  el.textContent = bad.length ? ('images-broken ' + bad.length + '/' + imgs.length + ': ' +
      bad.map(function (im) { return im.getAttribute('src'); }).join(' ')) :
      ('images-ok ' + imgs.length + '/' + imgs.length);
  el.setAttribute('data-status', bad.length ? 'broken' : 'ok');
});
"""


def href(rel_path: str) -> str:
    """A relative file path as a URL (spaces, ``+``, ``#`` and non-ASCII quoted)."""
    return quote(rel_path.replace("\\", "/"), safe="/")


@dataclass
class Cell:
    """One labelled image (thumbnail linking to the full-size file) or a note when it could not be made."""

    label: str
    thumb: str | None = None
    full: str | None = None
    note: str = ""

    def to_html(self) -> str:
        cap = html.escape(self.label)
        if self.thumb is None:
            return f'<figure><div class="note">{html.escape(self.note or "unavailable")}</div>' \
                   f"<figcaption>{cap}</figcaption></figure>"
        img = f'<img src="{href(self.thumb)}" alt="{cap}">'
        if self.full:
            img = f'<a href="{href(self.full)}">{img}</a>'
        note = f'<div class="note">{html.escape(self.note)}</div>' if self.note else ""
        return f"<figure>{img}<figcaption>{cap}</figcaption>{note}</figure>"


@dataclass
class Row:
    name: str
    cells: list[Cell] = field(default_factory=list)


def metrics_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; floats shown with 4 significant digits, ``None`` as an empty cell."""
    def fmt(v: object) -> str:
        if v is None or (isinstance(v, float) and v != v):  # None / NaN: not measurable here
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<h3>{html.escape(title)}</h3><table class=\"metrics\"><tr>{head}</tr>{body}</table>"


def render_page(title: str, rows: Sequence[Row], *, tables_html: str = "", plots: Sequence[tuple[str, str]] = (),
                notes: Sequence[str] = (), legend: str = "") -> str:
    """The whole page as a string (caller writes it atomically)."""
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             '<div id="img-status" data-status="pending">images-pending</div>']
    if legend:
        parts.append(f"<p>{html.escape(legend)}</p>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Results</h2><table class=\"grid\">")
    for r in rows:
        parts.append(f"<tr><th>{html.escape(r.name)}</th>" + "".join(f"<td>{c.to_html()}</td>" for c in r.cells)
                     + "</tr>")
    parts.append("</table>")
    if tables_html:
        parts.append(f"<h2>Metrics</h2>{tables_html}")
    if plots:
        parts.append("<h2>Loss curves</h2><div class=\"plots\">")
        for label, path in plots:
            parts.append(f"<h3>{html.escape(label)}</h3><a href=\"{href(path)}\"><img src=\"{href(path)}\" "
                         f"alt=\"{html.escape(label)}\"></a>")
        parts.append("</div>")
    parts.append(f"<script>{_JS}</script></body></html>\n")
    return "\n".join(parts)
