"""Shared fixtures.

* Torch runs single-threaded in tests (two xdist workers share the two cores).
* ``shared_data``: the folder of real photos (``GAN_BOKEH_SHARED_DATA``, default ``../shared/data``).
  Locally a test that needs it is skipped when it is absent; with ``CI`` set it **fails** instead.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def _test_cache_root() -> str:
    """A throw-away cache root (the trainer's resized images stay out of ~/.cache) whose ``models/``
    links to the user's real model cache, so the selfie model is fetched once per machine, not per run."""
    root = Path(tempfile.mkdtemp(prefix="gan-bokeh-test-cache-"))
    models = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-bokeh" / "models"
    models.mkdir(parents=True, exist_ok=True)
    (root / "models").symlink_to(models, target_is_directory=True)
    # removed when the process that made it exits (xdist workers inherit the variable and make none);
    # rmtree unlinks the models/ symlink without following it
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return str(root)


if "GAN_BOKEH_CACHE" not in os.environ:
    os.environ["GAN_BOKEH_CACHE"] = _test_cache_root()

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("GAN_BOKEH_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session", autouse=True)
def _torch_single_thread():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``shared/data``; skip (locally) or fail (CI) when it is missing."""
    d = shared_data_dir()
    if not (d / "MANIFEST.tsv").is_file():
        msg = f"shared data not found at {d} (set GAN_BOKEH_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep things a person may want to look at (screenshots, tables)."""
    d = ROOT / "test-artifacts"
    d.mkdir(exist_ok=True)
    return d
