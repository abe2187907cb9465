"""``gan-bokeh scrape`` against a fake Flickr on 127.0.0.1 (tests/fake_flickr.py).

Covers: secrets never written or logged, the 4000-result cap (date-window bisection reaches more),
retries/backoff (429 + Retry-After, 500, timeouts, code 105, garbage bodies), invalid key → exit 2,
resume (a second run fetches nothing), ``kill -9`` mid-run, bad bodies recorded as failed with reasons,
excluded tags, camera restriction via getExif, attribution.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from PIL import Image

from gan_bokeh.cli import main
from gan_bokeh.errors import UserError
from gan_bokeh.io import read_jsonl
from scrapers import flickr as flickr_mod
from scrapers.config import (
    CC_LICENSES,
    Credentials,
    RetryConfig,
    ScrapeConfig,
    load_credentials,
    load_scrape_config,
)
from scrapers.download import make_download_session, placeholder_reason
from scrapers.flickr import FlickrClient, FlickrKeyError, FlickrUnavailableError, backoff_delay
from scrapers.manifest import Manifest, latest_records
from scrapers.ratelimit import TokenBucket
from scrapers.scrape import scrape_domain
from scrapers.search import SearchCache, SearchQuery, excluded_tags, iter_photos, query_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_flickr import FakeFlickr, make_jpeg, make_placeholder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = "kEy7f3a9c1e5b2d4a68zq"
SECRET = "sEcReT0b9e8d7c6a5f4e3dzq"
CREDS = Credentials(KEY, SECRET, "test")
FAST = RetryConfig(attempts=2, backoff=0.01, backoff_max=0.05, jitter=0.01, retry_after_max=5.0, timeout=2.0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the scraper's retry sleep with a recorder (tests stay fast; delays can be checked)."""
    recorded: list[float] = []
    monkeypatch.setattr(flickr_mod, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def creds_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLICKR_API_KEY", KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", SECRET)


def write_config(path: Path, rest_url: str, **extra: object) -> Path:
    cfg = {
        "flickr": {"rest_url": rest_url, "rate_limit": {"calls_per_hour": 1e9, "burst": 1000},
                   "retry": {"attempts": 2, "backoff": 0.01, "backoff_max": 0.05, "jitter": 0.01,
                             "timeout": 2.0}},
        "domains": {
            "A": {"text": "portrait", "cameras": ["Apple iPhone 7"], "target": 4000,
                  "exclude_tags": ["blackandwhite", "BW", "monochrome", "animal", "cat", "dog", "flower"],
                  "min_upload_date": 1_400_000_000, "max_upload_date": 1_600_000_000},
            "B": {"text": "portrait bokeh", "target": 4000,
                  "exclude_tags": ["blackandwhite", "BW", "monochrome", "animal", "cat", "dog", "flower"],
                  "min_upload_date": 1_400_000_000, "max_upload_date": 1_600_000_000},
        },
        "download": {"workers": 2, "timeout": 2.0},
    }
    for dotted, value in extra.items():
        node = cfg
        *head, last = dotted.split("__")
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def client_for(fake: FakeFlickr, retry: RetryConfig = FAST) -> FlickrClient:
    return FlickrClient(CREDS, rest_url=fake.rest_url, retry=retry, bucket=TokenBucket(1e9, 1000))


def small_cfg(**download: object) -> ScrapeConfig:
    cfg = ScrapeConfig()
    cfg.flickr.retry = FAST
    cfg.domains.A.min_upload_date = cfg.domains.B.min_upload_date = 1_400_000_000
    cfg.domains.A.max_upload_date = cfg.domains.B.max_upload_date = 1_600_000_000
    cfg.domains.B.exclude_tags = ["cat", "BW"]
    for k, v in download.items():
        setattr(cfg.download, k, v)
    return cfg


def ok_records(domain_dir: Path) -> dict[str, dict]:
    return {k: r for k, r in latest_records(read_jsonl(domain_dir / "manifest.jsonl")).items()
            if r["status"] == "ok"}


def assert_consistent(domain_dir: Path) -> None:
    """No partial files; every image belongs to an ok record whose sha256 matches (and vice versa)."""
    import hashlib

    oks = ok_records(domain_dir)
    files = sorted(p.name for p in (domain_dir / "images").iterdir())
    assert not [f for f in files if f.startswith(".")], files
    assert sorted(Path(r["path"]).name for r in oks.values()) == files
    for r in oks.values():
        data = (domain_dir / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert len(data) == r["bytes"]


# -- secrets ---------------------------------------------------------------------------------------

def test_secrets_never_written_or_logged(tmp_path, creds_env, sleeps, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeFlickr(24, api_key=KEY) as fake:
        fake.api_faults = ["429", "500"]
        fake.retry_after = "0"
        fake.image_faults = {fake.pid(22): ["html"]}
        cfg = write_config(tmp_path / "flickr.yaml", fake.rest_url)
        raw = tmp_path / "RAW"
        rc = main(["-v", "scrape", "--config", str(cfg), "--out", str(raw), "--limit", "5"])
        assert rc == 0
        client = client_for(fake)
        texts = [repr(client), str(client), repr(CREDS), str(CREDS), repr(load_credentials())]
    out, err = capsys.readouterr()
    texts += [out, err, caplog.text]
    files = [p for p in raw.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.jsonl" for p in files) and any(p.suffix == ".jpg" for p in files)
    for secret in (KEY, SECRET):
        for p in files:
            assert secret.encode() not in p.read_bytes(), f"{secret[:4]}… found in {p}"
        for t in texts:
            assert secret not in t
    assert "scrape A:" in caplog.text and "scrape B:" in caplog.text  # the summary lines


def test_credentials_file_must_be_private(tmp_path, monkeypatch):
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    monkeypatch.delenv("FLICKR_API_SECRET", raising=False)
    f = tmp_path / "flickr.cred"
    f.write_text(f"key: {KEY}\nsecret: {SECRET}\n")
    f.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600") as ei:
        load_credentials(str(f))
    assert KEY not in str(ei.value)
    f.chmod(0o600)
    c = load_credentials(str(f))
    assert (c.key, c.secret) == (KEY, SECRET) and KEY not in repr(c)
    with pytest.raises(UserError, match="FLICKR_API_KEY"):
        load_credentials(None)


def test_invalid_key_is_one_line_exit_2(tmp_path, monkeypatch, sleeps, capsys):
    monkeypatch.setenv("FLICKR_API_KEY", "wrong" + KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", SECRET)
    with FakeFlickr(5, api_key=KEY) as fake:
        cfg = write_config(tmp_path / "flickr.yaml", fake.rest_url)
        rc = main(["scrape", "--config", str(cfg), "--out", str(tmp_path / "RAW"), "--domain", "B"])
        assert fake.api_calls["flickr.photos.search"] == 1  # failed fast, no retries
    _, err = capsys.readouterr()
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "invalid API key" in lines[0] and "Traceback" not in err
    assert KEY not in err and SECRET not in err


def test_missing_credentials_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    monkeypatch.delenv("FLICKR_API_SECRET", raising=False)
    rc = main(["scrape", "--out", str(tmp_path / "RAW"), "--rest-url", "http://127.0.0.1:9/x"])
    assert rc == 2 and "FLICKR_API_KEY" in capsys.readouterr().err


# -- search and the result cap --------------------------------------------------------------------

def test_cap_bisection_reaches_more_than_4000(sleeps):
    n = 4500
    with FakeFlickr(n, api_key=KEY, with_images=False) as fake:
        call = client_for(fake).call
        q = SearchQuery(text="portrait", licenses=CC_LICENSES, extras="license,date_upload", cap=4000)
        lo, hi = fake.dateupload(0), fake.dateupload(n - 1)
        # Paging one query, as walk() would, never gets past the cap: pages beyond it repeat.
        naive = set()
        for page in range(1, 11):
            naive |= {p["id"] for p in call("flickr.photos.search", **q.params(lo, hi, page))["photos"]["photo"]}
        assert len(naive) == 4000
        calls = fake.api_calls["flickr.photos.search"]
        ids = [p["id"] for p in iter_photos(call, q, lo, hi)]
        assert len(ids) == len(set(ids)) == n
        # 1 call for the whole range (4500 > cap), then two halves of 5 pages each.
        assert fake.api_calls["flickr.photos.search"] - calls == 11


def test_deep_bisection_and_search_cache(tmp_path, sleeps):
    with FakeFlickr(1000, api_key=KEY, with_images=False, step=7) as fake:
        call = client_for(fake).call
        q = SearchQuery(text="portrait", licenses=CC_LICENSES, extras="license,date_upload", per_page=50, cap=100)
        lo, hi = fake.dateupload(0) - 5, fake.dateupload(999) + 5
        cache = SearchCache(tmp_path / "cache.jsonl")
        ids = [p["id"] for p in iter_photos(call, q, lo, hi, cache=cache)]
        assert sorted(ids) == sorted(fake.pid(i) for i in range(1000))
        calls = fake.api_calls["flickr.photos.search"]
        # Replayed from the cache by a resumed run: same ids, same order, no call.
        again = [p["id"] for p in iter_photos(call, q, lo, hi, cache=SearchCache(tmp_path / "cache.jsonl"))]
        assert again == ids and fake.api_calls["flickr.photos.search"] == calls


def test_one_second_window_over_cap_is_paged_to_the_cap(sleeps, caplog):
    with FakeFlickr(130, api_key=KEY, with_images=False, step=0) as fake:
        q = SearchQuery(text="x", licenses=CC_LICENSES, extras="date_upload", per_page=50, cap=100)
        ids = list(iter_photos(client_for(fake).call, q, fake.start_ts, fake.start_ts))
    assert len(ids) == 100 and "only the first 100" in caplog.text


def test_excluded_tags_in_query_and_post_filter():
    assert query_text("portrait bokeh", ["blackandwhite", "BW", "Black and White"]) == \
        "portrait bokeh -blackandwhite -bw -blackandwhite"
    assert excluded_tags("portrait cat blackandwhite", ["BW", "cat", "Black and White"]) == \
        ["cat", "blackandwhite"]
    assert excluded_tags(["portrait"], ["cat"]) == []


# -- retries, backoff, rate limit -------------------------------------------------------------------

def test_backoff_is_exponential_capped_with_jitter():
    cfg = RetryConfig(backoff=1.0, backoff_max=8.0, jitter=0.5)
    assert [backoff_delay(a, cfg, rng=lambda: 0.0) for a in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]
    assert backoff_delay(2, cfg, rng=lambda: 1.0) == 2.5


def test_token_bucket_limits_rate():
    now = [0.0]
    waited: list[float] = []

    def sleep(s: float) -> None:
        waited.append(s)
        now[0] += s

    b = TokenBucket(3600, burst=2, clock=lambda: now[0], sleep=sleep)
    assert [b.acquire() for _ in range(2)] == [0.0, 0.0]
    assert b.acquire() == pytest.approx(1.0)   # 1 token per second at 3600/h
    now[0] += 10.0                             # idle: refills only up to the burst
    assert [b.acquire() > 0 for _ in range(3)] == [False, False, True]


def test_retries_429_retry_after_500_timeout_105_garbage(sleeps):
    # The client timeout leaves room for a loaded CI machine; the "timeout" fault sleeps well past it.
    retry = RetryConfig(attempts=3, backoff=0.5, backoff_max=4.0, jitter=0.0, retry_after_max=60, timeout=1.0)
    with FakeFlickr(5, api_key=KEY) as fake:
        fake.timeout_sleep = 2.5
        fake.retry_after = "7"
        fake.api_faults = ["429", "500", "timeout"]
        client = client_for(fake, retry)
        # Our endpoint and retrying session are set on our instance only, never on flickrapi's classes.
        import flickrapi
        assert flickrapi.FlickrAPI.REST_URL == "https://api.flickr.com/services/rest/"
        assert flickrapi.auth.OAuthFlickrInterface.session is not client.session
        ans = client.call("flickr.photos.search", text="x", per_page=5, page=1, extras="")
        assert len(ans["photos"]["photo"]) == 5
        assert sleeps[0] == 7.0                      # Retry-After honoured
        assert sleeps[1:] == [1.0, 2.0]              # then exponential backoff (0.5 · 2^(n-1))
        assert fake.api_calls["flickr.photos.search"] == 4
        assert client.bucket.acquired == 4           # every retry spends a rate-limit token

        sleeps.clear()
        fake.api_faults = ["105", "html", "105"]
        assert client.call("flickr.photos.search", text="x", per_page=1)["stat"] == "ok"
        assert sleeps == [0.5, 1.0, 2.0]

        fake.api_faults = ["500"] * 10
        with pytest.raises(FlickrUnavailableError, match="after 3 retries") as ei:
            client.call("flickr.photos.search", text="x")
        assert "\n" not in str(ei.value)
        fake.api_faults = ["105"] * 10
        with pytest.raises(FlickrUnavailableError, match="error 105"):
            client.call("flickr.photos.search", text="x")
        fake.api_faults = ["100"]
        with pytest.raises(FlickrKeyError, match="invalid API key"):
            client.call("flickr.photos.search", text="x")


# -- downloads and bad bodies ---------------------------------------------------------------------

def test_bad_bodies_recorded_as_failed_with_reasons(tmp_path, sleeps):
    cfg = small_cfg(workers=3)
    faults = {3: ["truncated"], 4: ["html"], 5: ["empty"], 7: ["unavailable"], 8: ["gray"], 10: ["404"],
              11: ["short"], 13: ["short", "none"], 14: ["429", "none"], 15: ["500", "none"], 6: ["404", "none"]}
    with FakeFlickr(16, api_key=KEY) as fake:
        fake.retry_after = "0"
        fake.image_faults = {fake.pid(i): f for i, f in faults.items()}
        client = client_for(fake)
        s = scrape_domain(client.call, make_download_session(FAST), cfg, "B", tmp_path, progress=False)
    recs = latest_records(read_jsonl(tmp_path / "B" / "manifest.jsonl"))
    reason = {int(k[7:]): (r["status"], r["reason"] or "") for k, r in recs.items()}
    assert reason[3][0] == "failed" and "truncated" in reason[3][1]
    assert reason[4][0] == "failed" and "not a decodable image" in reason[4][1]
    assert reason[5][0] == "failed" and "empty" in reason[5][1]
    assert reason[7][0] == "failed" and "placeholder" in reason[7][1]
    assert reason[8][0] == "failed" and "placeholder" in reason[8][1]
    assert reason[10][0] == "failed" and "HTTP 404" in reason[10][1]
    assert reason[11][0] == "failed" and "incomplete" in reason[11][1]
    for i in (13, 14, 15):  # transient faults: retried, then ok
        assert reason[i] == ("ok", ""), (i, reason[i])
    assert recs[fake.pid(6)]["status"] == "ok" and recs[fake.pid(6)]["size_label"] == "l"  # url_o 404 → url_l
    assert recs[fake.pid(9)]["size_label"] == "o"                                          # largest first
    assert s.ok == 16 - 7 and s.failed == 7
    assert_consistent(tmp_path / "B")
    r = recs[fake.pid(9)]
    assert set(r) >= {"id", "domain", "status", "reason", "path", "url", "size_label", "bytes", "width", "height",
                      "sha256", "license", "license_name", "owner", "owner_name", "title", "page_url", "tags",
                      "camera", "date_upload", "query"}
    assert (r["width"], r["height"], r["domain"], r["camera"]) == (48, 32, "B", None)
    assert r["page_url"] == f"https://www.flickr.com/photos/{r['owner']}/{r['id']}/"


def test_placeholder_rule():
    assert placeholder_reason(Image.open(io.BytesIO(make_placeholder()))) is not None
    assert placeholder_reason(Image.open(io.BytesIO(make_jpeg(3, (400, 300))))) is None
    assert placeholder_reason(Image.new("RGB", (64, 64), (200, 30, 30))) is None  # flat but not gray
    assert "redirect" in placeholder_reason(Image.new("RGB", (8, 8)), "https://x/photo_unavailable.png")


def test_camera_restriction_and_excluded_tags(tmp_path, sleeps):
    def camera(i: int):
        return [("Apple", "iPhone 7"), ("Canon", "Canon EOS 5D"), None, ("Apple", "iPhone 7 Plus")][i % 4]

    with FakeFlickr(16, api_key=KEY, camera=camera,
                    tags=lambda i: "portrait cat" if i == 12 else "portrait people") as fake:
        cfg = small_cfg()
        cfg.domains.A.exclude_tags = ["cat", "BW"]
        client = client_for(fake)
        scrape_domain(client.call, make_download_session(FAST), cfg, "A", tmp_path, progress=False)
        recs = latest_records(read_jsonl(tmp_path / "A" / "manifest.jsonl"))
        assert "-cat -bw" in fake.search_params[0]["text"]
        assert fake.exif_hits[fake.pid(12)] == 0     # excluded by tag before any EXIF call
        assert recs[fake.pid(12)]["reason"] == "excluded tag(s): cat"
        ok = {k for k, r in recs.items() if r["status"] == "ok"}
        assert ok == {fake.pid(i) for i in (0, 4, 8)}
        assert all(recs[k]["camera"] == "Apple iPhone 7" for k in ok)
        assert recs[fake.pid(1)]["camera"] == "Canon EOS 5D" and recs[fake.pid(1)]["status"] == "skipped"
        assert "owner hides EXIF" in recs[fake.pid(2)]["reason"]
        assert recs[fake.pid(3)]["status"] == "skipped"   # 7 Plus is not a 7 (Portrait mode fakes bokeh)
        assert max(fake.exif_hits.values()) == 1
        # Re-run: no EXIF call asked twice, nothing downloaded again.
        before = (sum(fake.exif_hits.values()), sum(fake.image_hits.values()))
        scrape_domain(client.call, make_download_session(FAST), cfg, "A", tmp_path, progress=False)
        assert (sum(fake.exif_hits.values()), sum(fake.image_hits.values())) == before
    text = (tmp_path / "A" / "ATTRIBUTION.md").read_text()
    for k in ok:
        assert f"/{k}/" in text
    assert "CC BY 2.0 (<https://creativecommons.org/licenses/by/2.0/>)" in text


# -- resume -------------------------------------------------------------------------------------------

def test_resume_second_run_fetches_nothing(tmp_path, creds_env, sleeps, capsys):
    with FakeFlickr(30, api_key=KEY) as fake:
        cfg = write_config(tmp_path / "flickr.yaml", fake.rest_url)
        raw = tmp_path / "RAW"
        args = ["scrape", "--config", str(cfg), "--out", str(raw), "--limit", "6", "--rest-url", fake.rest_url]
        assert main(args) == 0
        state = (dict(fake.api_calls), dict(fake.image_hits))
        assert main(args) == 0
        assert (dict(fake.api_calls), dict(fake.image_hits)) == state   # nothing fetched twice
        # A larger limit continues where the first run stopped, from the cached search pages.
        assert main([*args[:-4], "--limit", "8"]) == 0
        assert fake.api_calls["flickr.photos.search"] == state[0]["flickr.photos.search"]
        assert max(fake.exif_hits.values()) == 1       # getExif only for domain A, once per photo
    oks = [ok_records(raw / d) for d in ("A", "B")]
    # The fake serves the same catalogue to both queries: a photo may be ok in A and in B (dedupe's job).
    assert dict(fake.image_hits) == {pid: sum(pid in o for o in oks) for pid in fake.image_hits}
    for d in ("A", "B"):
        assert len(ok_records(raw / d)) == 8
        assert_consistent(raw / d)
    assert (raw / "scrape_config.yaml").is_file()


def test_torn_manifest_line_is_repaired(tmp_path):
    m = Manifest(tmp_path / "B", "B")
    m.append({"id": "1", "status": "skipped", "reason": "x"})
    with open(m.path, "a") as fh:
        fh.write('{"id": "2", "status": "o')          # kill -9 in the middle of a write
    m2 = Manifest(tmp_path / "B", "B")
    m2.append({"id": "3", "status": "skipped", "reason": "y"})
    assert set(latest_records(read_jsonl(m.path))) == {"1", "3"}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_mid_run_then_resume(tmp_path, creds_env, sleeps):
    limit = 30
    with FakeFlickr(40, api_key=KEY) as fake:
        fake.image_delay = 0.2   # ~2 s of downloads with 3 workers: time to kill it in the middle
        cfg = write_config(tmp_path / "flickr.yaml", fake.rest_url)
        raw = tmp_path / "RAW"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "gan_bokeh", "scrape", "--config", str(cfg), "--out", str(raw),
               "--domain", "B", "--limit", str(limit), "--workers", "3"]
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        manifest = raw / "B" / "manifest.jsonl"
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if manifest.is_file() and len(read_jsonl(manifest)) >= 5:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()
        done_before = set(ok_records(raw / "B"))
        assert 5 <= len(done_before) < limit
        hits_before = dict(fake.image_hits)
        fake.image_delay = 0.0
        assert main(["scrape", "--config", str(cfg), "--out", str(raw), "--domain", "B",
                     "--limit", str(limit)]) == 0
        for pid in done_before:                        # finished items were not fetched again
            assert fake.image_hits[pid] == hits_before[pid] == 1
    assert len(ok_records(raw / "B")) == limit
    assert_consistent(raw / "B")


# -- config ---------------------------------------------------------------------------------------

def test_builtin_config_matches_paper():
    cfg = load_scrape_config("flickr")
    for d in (cfg.domains.A, cfg.domains.B):
        assert d.exclude_tags == ["blackandwhite", "BW", "monochrome", "animal", "cat", "dog", "flower"]
        assert d.target == 4000
    assert cfg.domains.A.cameras == ["Apple iPhone 7"] and cfg.domains.B.cameras == []
    assert (cfg.domains.A.text, cfg.domains.B.text) == ("portrait", "portrait bokeh")
    assert cfg.licenses == [1, 2, 3, 4, 5, 6, 9, 10] and cfg.per_page == 500
    with pytest.raises(UserError, match="per_page"):
        load_scrape_config("flickr", overrides=["per_page=900"])
    with pytest.raises(UserError, match="flickr.api_key: unknown key"):
        load_scrape_config("flickr", overrides=["flickr.api_key=abc"])


def test_scrape_json_records_are_valid_json_lines(tmp_path, sleeps):
    with FakeFlickr(6, api_key=KEY) as fake:
        scrape_domain(client_for(fake).call, make_download_session(FAST), small_cfg(), "B", tmp_path,
                      progress=False)
    for line in (tmp_path / "B" / "manifest.jsonl").read_text().splitlines():
        json.loads(line)


def test_orphan_file_from_a_killed_run_is_adopted_not_refetched(tmp_path, sleeps):
    with FakeFlickr(4, api_key=KEY) as fake:
        images = tmp_path / "B" / "images"
        images.mkdir(parents=True)
        (images / f"{fake.pid(3)}.jpg").write_bytes(fake.jpeg(fake.pid(3)))   # renamed, record never written
        (images / f".part-{fake.pid(2)}-abcd").write_bytes(b"half a jpeg")   # temp file of a killed run
        scrape_domain(client_for(fake).call, make_download_session(FAST), small_cfg(), "B", tmp_path,
                      progress=False)
        assert fake.image_hits[fake.pid(3)] == 0
    recs = ok_records(tmp_path / "B")
    assert recs[fake.pid(3)]["adopted"] is True and len(recs) == 4
    assert_consistent(tmp_path / "B")


def test_licence_post_filter_and_failure_streak_and_refused_search(tmp_path, sleeps):
    with FakeFlickr(12, api_key=KEY, filter_license=False, license_of=lambda i: 0 if i % 2 else 4) as fake:
        client = client_for(fake)
        scrape_domain(client.call, make_download_session(FAST), small_cfg(), "B", tmp_path, progress=False)
        recs = latest_records(read_jsonl(tmp_path / "B" / "manifest.jsonl"))
        assert recs[fake.pid(1)]["status"] == "skipped" and "licence 0" in recs[fake.pid(1)]["reason"]
        assert recs[fake.pid(2)]["status"] == "ok" and recs[fake.pid(2)]["license_name"] == "CC BY 2.0"

    cfg = small_cfg()
    cfg.max_consecutive_failures = 3
    with FakeFlickr(12, api_key=KEY) as fake:
        fake.image_faults = {fake.pid(i): ["404"] for i in range(12)}
        with pytest.raises(FlickrUnavailableError, match="3 downloads failed in a row"):
            scrape_domain(client_for(fake).call, make_download_session(FAST), cfg, "B", tmp_path / "x",
                          progress=False)
        assert len(fake.image_hits) <= 3 + cfg.download.workers   # stopped, not ploughing through all 12

        cfg.domains.B.text = ""
        cfg.domains.B.exclude_tags = []
        with pytest.raises(UserError, match="error 3"):
            scrape_domain(client_for(fake).call, make_download_session(FAST), cfg, "B", tmp_path / "y",
                          progress=False)


def test_placeholder_rule_flags_no_real_image(shared_data):
    from gan_bokeh.errors import BadImageError
    from gan_bokeh.io import open_image

    paths = [p for p in sorted(shared_data.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
             and "depth" not in str(p)]
    flagged, checked = [], 0
    for p in paths:
        try:
            img = open_image(p, draft=(256, 256))
        except BadImageError:
            continue
        checked += 1
        if placeholder_reason(img):
            flagged.append(p.name)
    assert checked >= 20 and flagged == []
