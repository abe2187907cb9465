"""Manual review (paper §3.1: wrong tag, no real person, post-processed, unfit) and ``rejects.txt``.

``rejects.txt`` format — one entry per line::

    12345678901                      # a Flickr photo id
    A/images/12345678901.jpg         # or a path (relative to RAW, to RAW/<domain>, or absolute)
    23456789012<TAB>post-processed   # a reason after a tab ...
    34567890123  # no real person    # ... or after '#'
    45678901234 wrong tag            # ... or after a space (the whole line also counts, for paths with spaces)

Blank lines and lines starting with ``#`` are ignored. The HTML contact sheet written by
:func:`write_review` lets a person tick photos and copy (or download) the matching lines; it is a
static page with plain JavaScript, no server.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import atomic_write_text, open_image, pil_to_rgb_alpha, read_jsonl, write_image
from scrapers.manifest import MANIFEST_NAME, latest_records

__all__ = ["REJECT_REASONS", "Card", "make_thumb", "parse_rejects", "read_manifest", "render_sheet",
           "write_cluster_report",
           "reject_reason", "write_review"]

#: The paper's manual-removal reasons, offered in the page's drop-down.
REJECT_REASONS = ("wrong tag", "no real person", "post-processed", "unfit for training", "duplicate", "other")
THUMB_SIZE = 256


def read_manifest(raw: str | os.PathLike[str], domain: str) -> list[dict]:
    """Records of ``RAW/<domain>/manifest.jsonl``, last line per id winning, in first-seen order."""
    return list(latest_records(read_jsonl(Path(raw) / domain / MANIFEST_NAME)).values())


def parse_rejects(path: str | os.PathLike[str] | None) -> dict[str, str]:
    """``rejects.txt`` → ``{entry: reason}`` (reason ``""`` when none was given)."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: rejects file not found; create it (one photo id or path per line) or drop --rejects")
    out: dict[str, str] = {}
    for raw_line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if "\t" in line:
            key, reason = line.split("\t", 1)
        elif "#" in line:
            key, reason = line.split("#", 1)
        else:
            key, reason = line, ""
            first, _, rest = line.partition(" ")
            if rest.strip():  # "12345 no real person": id + reason after a space (the whole line kept too,
                out[first] = rest.strip()  # for paths with spaces)
        key = key.strip()
        if key:
            out[key] = reason.strip().lstrip("#").strip()
    return out


def reject_reason(rejects: dict[str, str], *, raw: Path, domain: str, rec: dict) -> str | None:
    """The reason if this manifest record is listed in ``rejects`` (by id or by any form of its path)."""
    if not rejects:
        return None
    rel = str(rec.get("path", ""))
    src = (raw / domain / rel)
    keys = {str(rec.get("id", "")), rel, f"{domain}/{rel}", str(src), str(src.resolve()), Path(rel).name}
    for k in keys:
        if k and k in rejects:
            return rejects[k] or "listed in rejects.txt"
    return None


def _safe_file(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip(".") or "_"


def make_thumb(src: str | os.PathLike[str], dest: str | os.PathLike[str], size: int = THUMB_SIZE) -> str | None:
    """Write a JPEG thumbnail once (kept while newer than its source); returns an error reason or ``None``."""
    s, d = Path(src), Path(dest)
    try:
        if d.exists() and d.stat().st_mtime_ns >= s.stat().st_mtime_ns:
            return None
        img = open_image(s, draft=(size, size))
        img.thumbnail((size, size))
        rgb, _alpha = pil_to_rgb_alpha(img)  # CMYK, 16-bit, palette, ... → RGB float
        write_image(d, rgb, quality=85)
        return None
    except BadImageError as err:
        return err.reason
    except (OSError, ValueError) as err:
        return f"cannot make a thumbnail ({err})"


@dataclass
class Card:
    """One thumbnail on a contact sheet."""

    key: str  # what goes into rejects.txt
    thumb: str | None  # relative URL, or None (with ``error``)
    title: str = ""
    lines: list[str] = field(default_factory=list)  # id, owner, licence, camera, ...
    link: str | None = None
    checked: bool = False
    reason: str = ""
    error: str | None = None
    badge: str | None = None  # e.g. "keep" / "drop" in the dedupe report


_CSS = """
body{font:13px system-ui,sans-serif;margin:12px;background:#fafafa}
.grid{display:flex;flex-wrap:wrap;gap:8px}
.card{width:210px;background:#fff;border:2px solid #ddd;border-radius:6px;padding:6px;box-sizing:border-box}
.card.on{border-color:#d33;background:#fee}
.card img{width:196px;height:196px;object-fit:contain;background:#eee;display:block}
.card .t{font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.card .m{color:#555;font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.badge{display:inline-block;padding:0 4px;border-radius:3px;background:#333;color:#fff;font-size:11px}
.err{color:#b00;font-size:11px}
.group{margin:10px 0;padding:6px;border-left:4px solid #88a}
#out{width:100%;height:120px;font-family:monospace}
.bar{position:sticky;top:0;background:#fafafa;padding:6px 0;z-index:1;border-bottom:1px solid #ccc}
"""

_JS = """
function lines(){
  const out=[];
  document.querySelectorAll('input.rej:checked').forEach(cb=>{
    const sel=document.getElementById('r-'+cb.dataset.i);
    const why=sel?sel.value:'';
    out.push(cb.dataset.key+(why?'\\t'+why:''));
  });
  return out.join('\\n')+(out.length?'\\n':'');
}
function refresh(){
  document.querySelectorAll('input.rej').forEach(cb=>{
    cb.closest('.card').classList.toggle('on',cb.checked);});
  document.getElementById('out').value=lines();
  document.getElementById('count').textContent=document.querySelectorAll('input.rej:checked').length;
}
function copyOut(){
  const t=document.getElementById('out'); t.select();
  if(navigator.clipboard){navigator.clipboard.writeText(t.value).catch(()=>document.execCommand('copy'));}
  else{document.execCommand('copy');}
}
function download(){
  const a=document.createElement('a');
  a.href=URL.createObjectURL(new Blob([lines()],{type:'text/plain'}));
  a.download='rejects.txt'; a.click();
}
document.addEventListener('change',e=>{if(e.target.matches('input.rej,select.why'))refresh();});
document.addEventListener('DOMContentLoaded',()=>{
  refresh();
  if(location.hash==='#selftest'){  // used by the test suite in headless Chromium
    const boxes=document.querySelectorAll('input.rej');
    if(boxes.length>1){boxes[1].checked=true;
      const sel=document.getElementById('r-'+boxes[1].dataset.i); if(sel)sel.value='no real person';}
    refresh();
    const imgs=[...document.images], ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
    const pre=document.createElement('pre'); pre.id='selftest';
    pre.textContent=JSON.stringify({lines:lines(),count:document.getElementById('count').textContent,
                                    images:imgs.length});
    document.body.appendChild(pre);
  }
});
"""


def _card_html(i: int, c: Card, selectable: bool) -> str:
    e = html.escape
    img = (f'<img loading="lazy" src="{e(quote(c.thumb))}" alt="{e(c.key)}">' if c.thumb
           else '<div class="err" style="height:196px">no thumbnail</div>')
    if c.link:
        img = f'<a href="{e(c.link)}" target="_blank" rel="noopener">{img}</a>'
    parts = [f'<div class="card{" on" if c.checked else ""}">', img]
    if c.badge:
        parts.append(f'<span class="badge">{e(c.badge)}</span>')
    parts.append(f'<div class="t" title="{e(c.title)}">{e(c.title) or "&nbsp;"}</div>')
    parts += [f'<div class="m" title="{e(x)}">{e(x)}</div>' for x in c.lines]
    if c.error:
        parts.append(f'<div class="err">{e(c.error)}</div>')
    if selectable:
        opts = "".join(f'<option{" selected" if r == c.reason else ""}>{e(r)}</option>'
                       for r in ("", *REJECT_REASONS))
        if c.reason and c.reason not in REJECT_REASONS:
            opts += f"<option selected>{e(c.reason)}</option>"
        parts.append(f'<label><input type="checkbox" class="rej" data-i="{i}" data-key="{e(c.key)}"'
                     f'{" checked" if c.checked else ""}> reject</label> '
                     f'<select class="why" id="r-{i}">{opts}</select>')
    parts.append("</div>")
    return "".join(parts)


def render_sheet(title: str, groups: Sequence[tuple[str, Sequence[Card]]], *, selectable: bool = True,
                 intro: str = "") -> str:
    """A standalone HTML contact sheet; ``groups`` = ``[(heading, cards), ...]`` (heading may be "")."""
    e = html.escape
    body, i = [], 0
    for heading, cards in groups:
        inner = []
        for c in cards:
            inner.append(_card_html(i, c, selectable))
            i += 1
        block = f'<div class="grid">{"".join(inner)}</div>'
        body.append(f'<div class="group"><div>{e(heading)}</div>{block}</div>' if heading else block)
    bar = ""
    if selectable:
        bar = ('<div class="bar">Ticked: <b id="count">0</b> — lines for <code>rejects.txt</code> '
               '(paste into <code>RAW/rejects.txt</code>, one id per line, reason after a tab):<br>'
               '<textarea id="out" readonly></textarea><br>'
               '<button onclick="copyOut()">Copy</button> <button onclick="download()">Download rejects.txt'
               '</button></div>')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{_CSS}</style><script>{_JS}</script></head><body><h1>{e(title)}</h1>"
            f"<p>{intro}</p>{bar}{''.join(body)}</body></html>")


def _licence_text(rec: dict) -> str:
    name = rec.get("license_name") or ""
    return f"licence {rec.get('license', '?')}" + (f" ({name})" if name else "")


def write_review(raw: str | os.PathLike[str], out: str | os.PathLike[str], *, domains: Sequence[str] = ("A", "B"),
                 rejects_path: str | os.PathLike[str] | None = None, progress: bool = True) -> dict[str, object]:
    """Write ``OUT/<domain>.html`` (+ ``OUT/_thumbs/<domain>/``) for the ok items of each domain.

    Thumbnail folders start with ``_`` so ``gan-bokeh dedupe`` never scans them as photos.

    Items already listed in ``rejects_path`` (default ``RAW/rejects.txt`` when it exists) start ticked.
    Returns a summary: cards per domain and thumbnails that could not be made.
    """
    from tqdm import tqdm

    raw_p, out_p = Path(raw), Path(out)
    if rejects_path is None and (raw_p / "rejects.txt").is_file():
        rejects_path = raw_p / "rejects.txt"
    rejects = parse_rejects(rejects_path)
    summary: dict[str, object] = {}
    links = []
    for dom in domains:
        recs = [r for r in read_manifest(raw_p, dom) if r.get("status") == "ok" and r.get("path")]
        if not (raw_p / dom / "manifest.jsonl").is_file():
            continue
        cards, bad = [], 0
        for rec in tqdm(recs, desc=f"thumbs {dom}", disable=not progress or None):
            pid = str(rec["id"])
            src = raw_p / dom / rec["path"]
            thumb_rel = f"_thumbs/{dom}/{_safe_file(pid)}.jpg"
            err = make_thumb(src, out_p / thumb_rel) if src.exists() else "file missing"
            bad += err is not None
            reason = reject_reason(rejects, raw=raw_p, domain=dom, rec=rec)
            cards.append(Card(
                key=pid, thumb=None if err else thumb_rel, title=str(rec.get("title") or ""),
                lines=[f"{pid} · {rec.get('width', '?')}×{rec.get('height', '?')}",
                       f"by {rec.get('owner_name') or rec.get('owner') or '?'}", _licence_text(rec),
                       f"camera: {rec.get('camera') or '?'}"],
                link=rec.get("page_url"), checked=reason is not None,
                reason=reason if reason in REJECT_REASONS else (reason or ""), error=err))
        page = render_sheet(
            f"gan-bokeh review — domain {dom} ({len(cards)} photos)", [("", cards)],
            intro=("Tick photos to remove (paper §3.1: wrong tag, no real person, post-processed, unfit), "
                   "then copy the lines into <code>rejects.txt</code> and run "
                   "<code>gan-bokeh build-dataset --rejects rejects.txt</code>."))
        atomic_write_text(out_p / f"{dom}.html", page)
        links.append(f'<li><a href="{dom}.html">domain {dom}</a>: {len(cards)} photos</li>')
        summary[dom] = {"photos": len(cards), "thumb_errors": bad, "prechecked": sum(c.checked for c in cards)}
    if not summary:
        raise UserError(f"{raw_p}: no manifest.jsonl under {', '.join(domains)}; run 'gan-bokeh scrape' first")
    atomic_write_text(out_p / "index.html", "<!doctype html><meta charset='utf-8'><title>gan-bokeh review</title>"
                      f"<h1>gan-bokeh review</h1><ul>{''.join(links)}</ul>"
                      f"<pre>{html.escape(json.dumps(summary, indent=1))}</pre>")
    return summary


def write_cluster_report(clusters: Sequence[object], out_html: str | os.PathLike[str], *,
                         limit: int = 2000) -> Path:
    """HTML contact sheet of duplicate clusters (kept file first), thumbnails in ``_<name>_thumbs/``.

    Args:
        clusters: :class:`scrapers.dedupe.Cluster` objects.
        out_html: the page to write.
        limit: at most this many clusters are drawn (the JSON has them all).
    """
    import hashlib
    import os.path

    out = Path(out_html)
    thumbs = out.with_name(f"_{out.stem}_thumbs")
    groups = []
    for cl in list(clusters)[:limit]:
        cards = []
        for role, p in [("keep", cl.keep)] + [("drop", d) for d in cl.drop]:
            name = hashlib.sha1(str(Path(p).resolve()).encode()).hexdigest()[:16] + ".jpg"
            err = make_thumb(p, thumbs / name) if Path(p).exists() else "file missing (already moved?)"
            rel_src = quote(Path(os.path.relpath(Path(p).resolve(), out.parent.resolve())).as_posix())
            cards.append(Card(key=str(p), thumb=None if err else f"{thumbs.name}/{name}", title=Path(p).name,
                              lines=[str(p)], link=rel_src, error=err, badge=role))
        head = f"{cl.kind} · distance {cl.distance} · {', '.join(cl.reasons)}"
        if len(cl.roots) > 1:
            head += " · ACROSS " + " / ".join(cl.roots)
        groups.append((head, cards))
    more = f" (first {limit} of {len(clusters)})" if len(clusters) > limit else ""
    atomic_write_text(out, render_sheet(f"gan-bokeh dedupe — {len(clusters)} clusters{more}", groups,
                                        selectable=False,
                                        intro="Kept file first (largest resolution, then earliest). To overrule a "
                                              "cluster, move a path from its drop list to a keep_also "
                                              "list in the JSON."))
    return out
