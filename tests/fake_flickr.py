"""A fake Flickr on 127.0.0.1 for tests: REST JSON (photos.search, photos.getExif) and image URLs.

It behaves like the parts of Flickr the scraper relies on:

* ``flickr.photos.search``: ``min/max_upload_date`` (inclusive) and ``license`` filters, stable
  ``date-posted-desc``/``asc`` sort, ``per_page`` ≤ 500, ``pages``/``total`` (total as a string, as
  Flickr sometimes sends it), and the **result cap**: pages past ``cap`` results repeat the last
  reachable page, like Flickr's 4000-result limit;
* ``flickr.photos.getExif``: EXIF ``Make``/``Model`` tags, or ``stat=fail`` code 2 for hidden EXIF;
* OAuth: the consumer key of the ``Authorization`` header must equal ``api_key`` (else code 100);
* image URLs ``/img/<id>_<size>.jpg`` serving real JPEG bytes made with Pillow.

Faults are injected by queue (API) or per photo id (images), see :class:`FakeFlickr`. Loopback only,
random free port, threaded; every sleep is an ``Event.wait`` so tests that patch ``time.sleep`` do not
shorten the server's own delays.
"""

from __future__ import annotations

import collections
import io
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
from PIL import Image, ImageDraw

API_FAULTS = ("429", "500", "timeout", "105", "html", "100")
IMAGE_FAULTS = ("truncated", "short", "html", "empty", "unavailable", "gray", "404", "429", "500", "timeout")


def make_jpeg(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small, colourful, clearly-not-a-placeholder JPEG."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), (seed * 37) % 255)], axis=2)
    arr = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def make_placeholder(size: tuple[int, int] = (500, 374)) -> bytes:
    """Something like Flickr's "photo unavailable" image: flat light gray with a small dark mark."""
    img = Image.new("RGB", size, (220, 220, 220))
    d = ImageDraw.Draw(img)
    w, h = size
    d.rectangle([w * 0.4, h * 0.35, w * 0.6, h * 0.6], fill=(160, 160, 160))
    d.text((w * 0.3, h * 0.7), "This photo is no longer available", fill=(120, 120, 120))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class FakeFlickr:
    """The fake server. Use as a context manager; ``rest_url`` / ``base_url`` once started.

    Args:
        n_photos: photos in the catalogue (ids ``"7000000<i>"``, uploads ``step`` s apart from ``start_ts``,
            newest last).
        api_key: the only consumer key accepted.
        cap: results reachable per query.
        with_images: include ``url_l`` (and ``url_o`` for every third photo) in search answers.
        camera: ``f(i) -> (make, model) | None`` for getExif (``None`` = EXIF hidden, code 2).
        tags: ``f(i) -> "space separated tags"``.

    Faults:
        ``api_faults``: list of names consumed one per API request (``"429"`` with Retry-After, ``"500"``,
        ``"timeout"`` (sleeps ``timeout_sleep``), ``"105"``, ``"html"`` (HTTP 200 with an HTML body),
        ``"100"``). ``image_faults``: ``{photo id: [names...]}`` consumed one per image request of that id
        (the last name sticks): ``"truncated"`` (cut JPEG, honest Content-Length), ``"short"`` (Content-Length
        larger than the body), ``"html"``, ``"empty"``, ``"unavailable"`` (302 to the placeholder),
        ``"gray"`` (placeholder served directly), ``"404"``, ``"429"``, ``"500"``, ``"timeout"``.
        ``image_delay``: seconds each image response waits (to make runs slow enough to kill).
    """

    def __init__(self, n_photos: int = 40, *, api_key: str = "fake-key", cap: int = 4000,
                 start_ts: int = 1_500_000_000, step: int = 60, with_images: bool = True,
                 camera: Any = None, tags: Any = None, license_of: Any = None,
                 filter_license: bool = True) -> None:
        self.api_key = api_key
        self.cap = cap
        self.n_photos = n_photos
        self.start_ts = start_ts
        self.step = step
        self.with_images = with_images
        self.camera = camera or (lambda i: ("Apple", "iPhone 7") if i % 2 == 0 else ("Canon", "Canon EOS 5D"))
        self.tags = tags or (lambda i: "portrait bokeh people")
        self.license_of = license_of or (lambda i: (4, 1, 2, 5, 9, 10)[i % 6])
        self.filter_license = filter_license
        self.api_faults: list[str] = []
        self.image_faults: dict[str, list[str]] = {}
        self.image_delay = 0.0
        self.timeout_sleep = 1.0
        self.retry_after = "1"
        self.api_calls: collections.Counter[str] = collections.Counter()
        self.image_hits: collections.Counter[str] = collections.Counter()
        self.exif_hits: collections.Counter[str] = collections.Counter()
        self.search_params: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._jpeg_cache: dict[str, bytes] = {}
        self._placeholder = make_placeholder()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- catalogue ---------------------------------------------------------------------------
    def pid(self, i: int) -> str:
        return f"7000000{i}"

    def index(self, pid: str) -> int:
        return int(pid[len("7000000"):])

    def dateupload(self, i: int) -> int:
        return self.start_ts + i * self.step

    def jpeg(self, pid: str) -> bytes:
        with self._lock:
            if pid not in self._jpeg_cache:
                self._jpeg_cache[pid] = make_jpeg(self.index(pid))
            return self._jpeg_cache[pid]

    def photo_json(self, i: int, extras: set[str]) -> dict[str, Any]:
        pid = self.pid(i)
        p: dict[str, Any] = {"id": pid, "owner": f"{1000 + i % 7}@N0{i % 3}", "secret": f"s{i:04x}",
                             "server": "65535", "farm": 66, "title": f"Portrait {i}", "ispublic": 1,
                             "isfriend": 0, "isfamily": 0}
        if "license" in extras:
            p["license"] = str(self.license_of(i))
        if "date_upload" in extras:
            p["dateupload"] = str(self.dateupload(i))
        if "owner_name" in extras:
            p["ownername"] = f"Owner {i % 7}"
        if "tags" in extras:
            p["tags"] = self.tags(i)
        if self.with_images:
            sizes = ["l"] + (["o"] if i % 3 == 0 else [])
            for s in sizes:
                if f"url_{s}" in extras:
                    p[f"url_{s}"] = f"{self.base_url}/img/{pid}_{s}.jpg"
                    p[f"width_{s}"], p[f"height_{s}"] = 48, 32
        return p

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FakeFlickr:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/services/rest/"

    def wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def next_api_fault(self) -> str | None:
        with self._lock:
            return self.api_faults.pop(0) if self.api_faults else None

    def next_image_fault(self, pid: str) -> str | None:
        with self._lock:
            q = self.image_faults.get(pid)
            if not q:
                return None
            return q.pop(0) if len(q) > 1 else q[0]

    # -- API methods -----------------------------------------------------------------------------
    def search(self, params: dict[str, str]) -> dict[str, Any]:
        self.search_params.append(params)
        if not params.get("text", "").strip():
            return {"stat": "fail", "code": 3, "message": "Parameterless searches have been disabled."}
        lo = int(params.get("min_upload_date", 0))
        hi = int(params.get("max_upload_date", 2**40))
        lic = {int(x) for x in params["license"].split(",")} if params.get("license") and self.filter_license \
            else None
        extras = set(params.get("extras", "").split(","))
        sel = [i for i in range(self.n_photos)
               if lo <= self.dateupload(i) <= hi and (lic is None or self.license_of(i) in lic)]
        desc = params.get("sort", "date-posted-desc").endswith("desc")
        sel.sort(key=lambda i: (self.dateupload(i), i), reverse=desc)
        per_page = max(1, min(int(params.get("per_page", 100)), 500))
        page = max(1, int(params.get("page", 1)))
        total = len(sel)
        reachable_pages = max(1, self.cap // per_page)
        eff = min(page, reachable_pages)  # Flickr repeats pages past its result cap
        items = sel[(eff - 1) * per_page: eff * per_page]
        return {"photos": {"page": page, "pages": math.ceil(total / per_page), "perpage": per_page,
                           "total": str(total), "photo": [self.photo_json(i, extras) for i in items]},
                "stat": "ok"}

    def get_exif(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.exif_hits[params.get("photo_id", "")] += 1
        try:
            i = self.index(params["photo_id"])
        except (KeyError, ValueError):
            return {"stat": "fail", "code": 1, "message": "Photo not found"}
        cam = self.camera(i)
        if cam is None:
            return {"stat": "fail", "code": 2, "message": "Permission denied"}
        make, model = cam
        return {"photo": {"id": self.pid(i), "secret": f"s{i:04x}", "server": "65535", "farm": 66,
                          "camera": f"{make} {model}",
                          "exif": [{"tagspace": "IFD0", "tagspaceid": 0, "tag": "Make", "label": "Make",
                                    "raw": {"_content": make}},
                                   {"tagspace": "IFD0", "tagspaceid": 0, "tag": "Model", "label": "Model",
                                    "raw": {"_content": model}}]},
                "stat": "ok"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeFlickr
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None,
              length: int | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, obj: dict[str, Any], status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_POST(self) -> None:
        f = self.fake
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8") if n else ""
        params = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        params.update({k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()})
        method = params.get("method", "")
        with f._lock:
            f.api_calls[method] += 1
        fault = f.next_api_fault()
        if fault == "429":
            return self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": f.retry_after})
        if fault == "500":
            return self._send(500, b"<html>Internal error</html>", "text/html")
        if fault == "timeout":
            f.wait(f.timeout_sleep)
            return self._send(503, b"late", "text/plain")
        if fault == "105":
            return self._json({"stat": "fail", "code": 105, "message": "Service currently unavailable"})
        if fault == "html":
            return self._send(200, b"<html><body>Proxy error</body></html>", "text/html")
        m = re.search(r'oauth_consumer_key="([^"]*)"', self.headers.get("Authorization", ""))
        if fault == "100" or not m or m.group(1) != f.api_key:
            return self._json({"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"})
        if method == "flickr.photos.search":
            return self._json(f.search(params))
        if method == "flickr.photos.getExif":
            return self._json(f.get_exif(params))
        return self._json({"stat": "fail", "code": 112, "message": f"Method \"{method}\" not found"})

    def do_GET(self) -> None:
        f = self.fake
        path = urlparse(self.path).path
        if path.startswith("/images/photo_unavailable"):
            return self._send(200, f._placeholder, "image/png")
        m = re.match(r"^/img/(\d+)_(\w+)\.jpg$", path)
        if not m:
            return self._send(404, b"not found", "text/html")
        pid = m.group(1)
        with f._lock:
            f.image_hits[pid] += 1
        if f.image_delay:
            f.wait(f.image_delay)
        fault = f.next_image_fault(pid)
        data = f.jpeg(pid)
        if fault == "truncated":
            cut = data[: len(data) * 6 // 10]
            return self._send(200, cut, "image/jpeg")
        if fault == "short":
            return self._send(200, data[: len(data) // 2], "image/jpeg", length=len(data))
        if fault == "html":
            return self._send(200, b"<!DOCTYPE html><html><body>Oops</body></html>", "image/jpeg")
        if fault == "empty":
            return self._send(200, b"", "image/jpeg")
        if fault == "unavailable":
            return self._send(302, b"", "text/html", {"Location": f"{f.base_url}/images/photo_unavailable.png"})
        if fault == "gray":
            return self._send(200, f._placeholder, "image/png")
        if fault in ("404", "500"):
            return self._send(int(fault), b"<html>error</html>", "text/html")
        if fault == "429":
            return self._send(429, b"slow down", "text/plain", {"Retry-After": f.retry_after})
        if fault == "timeout":
            f.wait(f.timeout_sleep)
            return self._send(503, b"late", "text/plain")
        return self._send(200, data, "image/jpeg")
