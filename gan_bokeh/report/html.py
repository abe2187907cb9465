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

#: Displayed thumbnail width (px); the thumbnail files are :data:`gan_bokeh.report.compare.THUMB_SIZE`.
THUMB_PX = 256

_CSS = """
body{font-family:system-ui,sans-serif;margin:16px auto;max-width:1360px;padding:0 12px;background:#fafafa;
  color:#222;line-height:1.4}
h1{font-size:26px;margin:8px 0}h2{font-size:21px;margin:32px 0 8px;border-bottom:2px solid #ccc;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
h2,h3{overflow-wrap:break-word;word-break:normal;hyphens:none}
nav.toc{background:#fff;border:1px solid #ddd;padding:8px 14px;display:inline-block;max-width:100%}
nav.toc ul{margin:4px 0;padding-left:18px}nav.toc li{margin:2px 0}
.cells{display:grid;grid-template-columns:repeat(auto-fill,minmax(THUMBPXpx,1fr));gap:10px}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px;min-width:0}
figure .colhead{font-weight:600;font-size:13px;margin-bottom:4px;overflow-wrap:break-word}
figure img{display:block;width:THUMBPXpx;max-width:100%;height:auto;margin:auto;image-rendering:auto}
figcaption{font-size:12px;margin-top:4px;overflow-wrap:break-word;color:#444}
.note{font-size:12px;color:#a33;overflow-wrap:break-word}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;margin:6px 0}
.legend .bar{width:220px;height:12px;border:1px solid #999;
  background:linear-gradient(to right,#fde725,#5ec962,#21918c,#3b528b,#440154)}
.scroll{overflow-x:auto;max-width:100%}
table.metrics{border-collapse:collapse;font-size:12px;background:#fff}
table.metrics td,table.metrics th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
table.metrics td:first-child,table.metrics th:first-child{text-align:left;white-space:normal}
table.metrics thead th{position:sticky;top:0;background:#eee}
.plots img{max-width:100%;height:auto;border:1px solid #ddd;margin:4px 0;background:#fff}
ul.notes li{margin:3px 0}
#img-status{font-size:11px;color:#666}
""".replace("THUMBPX", str(THUMB_PX))

_JS = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  var el = document.getElementById('img-status');
  var over = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  el.textContent = (bad.length ? ('images-broken ' + bad.length + '/' + imgs.length + ': ' +
      bad.map(function (im) { return im.getAttribute('src'); }).join(' ')) :
      ('images-ok ' + imgs.length + '/' + imgs.length)) + ' overflow-x ' + over + 'px';
  el.setAttribute('data-status', bad.length ? 'broken' : 'ok');
  el.setAttribute('data-overflow', String(over));
});
"""

#: The depth previews' colour scale (viridis: yellow = near, dark purple = far).
DEPTH_LEGEND = ('<div class="legend"><span>depth: near</span><div class="bar" title="viridis"></div>'
                "<span>far</span></div>")


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
    #: the column this cell belongs to (its header); ``""`` = the label
    column: str = ""
    #: extra HTML under the image (e.g. the depth legend); trusted, made by this package
    extra_html: str = ""

    def to_html(self) -> str:
        head = f'<div class="colhead">{html.escape(self.column or self.label)}</div>'
        cap = f"<figcaption>{html.escape(self.label)}</figcaption>" if self.column and self.label else ""
        if self.thumb is None:
            return f'<figure>{head}<div class="note">{html.escape(self.note or "unavailable")}</div>{cap}</figure>'
        alt = html.escape(self.column or self.label, quote=True)
        img = f'<img src="{href(self.thumb)}" alt="{alt}" loading="lazy">'
        if self.full:
            img = f'<a href="{href(self.full)}" title="full-size image">{img}</a>'
        note = f'<div class="note">{html.escape(self.note)}</div>' if self.note else ""
        return f"<figure>{head}{img}{self.extra_html}{cap}{note}</figure>"


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
    return (f"<h3>{html.escape(title)}</h3><div class=\"scroll\"><table class=\"metrics\"><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>")


def anchor(prefix: str, name: str) -> str:
    """An HTML id for a section (``input-photo_jpg``)."""
    return prefix + "-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def render_page(title: str, rows: Sequence[Row], *, tables_html: str = "",
                plots: Sequence[tuple[str, str]] = (), notes: Sequence[str] = (), legend: str = "") -> str:
    """The whole page as a string (caller writes it atomically).

    Layout: title, table of contents, a short legend, one section per input (a wrapping grid of
    :data:`THUMB_PX`-px thumbnails, each under its column header and linking to the full-size image), the
    metrics tables (scrolling sideways inside their box, never the page), one sub-section per loss plot
    (per run, then runs compared), and the notes last.
    """
    esc = html.escape
    toc = ["<li><a href=\"#results\">Results per input</a><ul>"
           + "".join(f"<li><a href=\"#{anchor('input', r.name)}\">{esc(r.name)}</a></li>" for r in rows)
           + "</ul></li>"]
    if tables_html:
        toc.append("<li><a href=\"#metrics\">Metrics</a></li>")
    if plots:
        toc.append("<li><a href=\"#losses\">Loss curves</a><ul>"
                   + "".join(f"<li><a href=\"#{anchor('plot', lab)}\">{esc(lab)}</a></li>" for lab, _ in plots)
                   + "</ul></li>")
    if notes:
        toc.append(f"<li><a href=\"#notes\">Notes ({len(notes)})</a></li>")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>",
             '<div id="img-status" data-status="pending">images-pending</div>',
             "<nav class=\"toc\"><strong>Contents</strong><ul>" + "".join(toc) + "</ul></nav>"]
    if legend:
        parts.append(f"<p>{esc(legend)}</p>")
    parts.append("<h2 id=\"results\">Results per input</h2>")
    for r in rows:
        parts.append(f"<h3 id=\"{anchor('input', r.name)}\">{esc(r.name)}</h3><div class=\"cells\">"
                     + "".join(c.to_html() for c in r.cells) + "</div>")
    if tables_html:
        parts.append(f"<h2 id=\"metrics\">Metrics</h2>{tables_html}")
    if plots:
        parts.append("<h2 id=\"losses\">Loss curves</h2><div class=\"plots\">")
        for label, path in plots:
            parts.append(f"<h3 id=\"{anchor('plot', label)}\">{esc(label)}</h3><a href=\"{href(path)}\">"
                         f"<img src=\"{href(path)}\" alt=\"{esc(label, quote=True)}\"></a>")
        parts.append("</div>")
    if notes:
        parts.append("<h2 id=\"notes\">Notes</h2><ul class=\"notes\">"
                     + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append(f"<script>{_JS}</script></body></html>\n")
    return "\n".join(parts)
