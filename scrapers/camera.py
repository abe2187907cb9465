"""Camera restriction for domain A (the paper's "iPhone 7 only" ordinary portraits).

``flickr.photos.search`` has no documented camera filter, so the restriction is checked honestly per
photo with ``flickr.photos.getExif`` (one API call each): the EXIF ``Make`` and ``Model`` tags give a
camera string such as ``"Apple iPhone 7"``, compared case- and space-insensitively with the allowed list.
Exact match on purpose: ``"Apple iPhone 7 Plus"`` (a dual camera with a synthetic-bokeh Portrait mode)
does not pass as ``"Apple iPhone 7"``. The answer is stored in the photo's manifest record (``camera``)
so a photo is never asked about twice, also across runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scrapers.flickr import FlickrCallError

__all__ = ["CameraCheck", "camera_from_exif", "check_camera", "normalize_camera"]

#: getExif codes that mean "this photo's EXIF is not available to us": skip the photo.
NO_EXIF_CODES = {1: "photo not found", 2: "owner hides EXIF"}


def normalize_camera(name: str) -> str:
    return " ".join(name.casefold().split())


def camera_from_exif(answer: dict[str, Any]) -> str | None:
    """``"Make Model"`` from a getExif answer (``Model`` alone if it already starts with the make)."""
    photo = answer.get("photo") or {}
    make = model = ""
    for tag in photo.get("exif") or []:
        name = tag.get("tag")
        raw = tag.get("raw")
        value = raw.get("_content", "") if isinstance(raw, dict) else str(raw or "")
        if name == "Make" and not make:
            make = value.strip()
        elif name == "Model" and not model:
            model = value.strip()
    if not model:
        cam = photo.get("camera")  # Flickr's own summary string, when EXIF tags are trimmed
        return str(cam).strip() or None if cam else None
    if make and not normalize_camera(model).startswith(normalize_camera(make)):
        return f"{make} {model}"
    return re.sub(r"\s+", " ", model)


@dataclass
class CameraCheck:
    camera: str | None
    allowed: bool
    reason: str | None


def check_camera(call: Callable[..., dict[str, Any]], photo: dict[str, Any], allowed: list[str],
                 known_camera: str | None = None, known: bool = False) -> CameraCheck:
    """Look up (or reuse) the photo's camera and test it against ``allowed``.

    Args:
        call: ``FlickrClient.call``.
        photo: the search record (``id``, ``secret``).
        allowed: allowed ``"Make Model"`` strings; empty = any camera (no call made).
        known_camera, known: a camera already recorded for this id (no call made when ``known``).

    Raises:
        FlickrKeyError / FlickrUnavailableError: from the client (the job stops).
    """
    if not allowed:
        return CameraCheck(known_camera if known else None, True, None)
    if known:
        camera = known_camera
    else:
        try:
            params = {"photo_id": str(photo["id"])}
            if photo.get("secret"):
                params["secret"] = str(photo["secret"])
            camera = camera_from_exif(call("flickr.photos.getExif", **params))
        except FlickrCallError as err:
            why = NO_EXIF_CODES.get(err.code or -1, f"getExif error {err.code}: {err.message}")
            return CameraCheck(None, False, f"camera unknown ({why})")
    if camera is None:
        return CameraCheck(None, False, "camera unknown (no Make/Model in EXIF)")
    ok = normalize_camera(camera) in {normalize_camera(a) for a in allowed}
    return CameraCheck(camera, ok, None if ok else f"camera {camera!r} not in {allowed}")
