"""Licence names/URLs of Flickr licence ids and the attribution file of a collected set.

Ids follow ``flickr.photos.licenses.getInfo``: 0 all rights reserved, 1–6 Creative Commons 2.0
(BY-NC-SA, BY-NC, BY-NC-ND, BY, BY-SA, BY-ND), 7 no known copyright restrictions, 8 United States
Government work, 9 CC0 1.0, 10 Public Domain Mark 1.0.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import Any

from gan_bokeh.io import atomic_write_text

__all__ = ["LICENSES", "attribution_line", "license_info", "page_url", "write_attribution"]

LICENSES: dict[int, tuple[str, str]] = {
    0: ("All Rights Reserved", "https://www.flickr.com/help/terms"),
    1: ("CC BY-NC-SA 2.0", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    2: ("CC BY-NC 2.0", "https://creativecommons.org/licenses/by-nc/2.0/"),
    3: ("CC BY-NC-ND 2.0", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    4: ("CC BY 2.0", "https://creativecommons.org/licenses/by/2.0/"),
    5: ("CC BY-SA 2.0", "https://creativecommons.org/licenses/by-sa/2.0/"),
    6: ("CC BY-ND 2.0", "https://creativecommons.org/licenses/by-nd/2.0/"),
    7: ("No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    8: ("United States Government Work", "https://www.usa.gov/government-works"),
    9: ("CC0 1.0 (Public Domain Dedication)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    10: ("Public Domain Mark 1.0", "https://creativecommons.org/publicdomain/mark/1.0/"),
}


def license_info(license_id: int | str | None) -> tuple[str, str]:
    """``(name, url)`` of a Flickr licence id; unknown ids get a generic name and Flickr's licence page."""
    try:
        lid = int(license_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ("unknown licence", "https://www.flickr.com/services/api/flickr.photos.licenses.getInfo.html")
    return LICENSES.get(lid, (f"Flickr licence {lid}",
                              "https://www.flickr.com/services/api/flickr.photos.licenses.getInfo.html"))


def page_url(owner: str, photo_id: str) -> str:
    """The photo's public page (``https://www.flickr.com/photos/<owner>/<id>/``)."""
    return f"https://www.flickr.com/photos/{owner}/{photo_id}/"


def attribution_line(rec: dict[str, Any]) -> str:
    """One Markdown list item: "title" by owner, licence (link), page."""
    title = (rec.get("title") or "").strip() or "untitled"
    owner = (rec.get("owner_name") or "").strip() or str(rec.get("owner") or "unknown")
    name = rec.get("license_name") or license_info(rec.get("license"))[0]
    url = rec.get("license_url") or license_info(rec.get("license"))[1]
    return (f"- \"{_md(title)}\" by {_md(owner)}, {name} (<{url}>), <{rec.get('page_url', '')}>"
            f" — `{rec.get('path') or rec.get('id')}`")


def _md(text: str) -> str:
    return html.escape(" ".join(str(text).split()), quote=False).replace("[", "\\[").replace("]", "\\]")


def write_attribution(records: Iterable[dict[str, Any]], path: str | os.PathLike[str], *,
                      title: str = "Photo credits") -> int:
    """Write a Markdown attribution file for ``records`` (only status ``ok`` ones); returns their count.

    Each entry gives the title, the owner, the licence name and URL, and the Flickr page, which is what
    the Creative Commons licences ask of a re-user.
    """
    ok = sorted((r for r in records if r.get("status", "ok") == "ok"), key=lambda r: str(r.get("id")))
    lines = [f"# {title}", "",
             f"{len(ok)} photos from Flickr, each under the licence named on its line. Keep this file "
             "with any copy of the images.", ""]
    lines += [attribution_line(r) for r in ok]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return len(ok)
