"""One registry-wide test per registry (renderers, kernels, merge modes, configs), the CLI choices they feed
and the docs tables they generate."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from gan_bokeh.registry import CONFIGS, MERGE_MODES, Registry, doc_tables, replace_doc_table
from gan_bokeh.render.registry import KERNELS, RENDERERS

ROOT = Path(__file__).resolve().parent.parent


def _choices(module, dest: str) -> tuple[str, ...]:  # noqa: ANN001
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return tuple(next(a for a in parser._actions if a.dest == dest).choices)


def test_cli_choices_are_the_registries():
    """Catches a renderer/kernel/merge mode registered but not offered, or offered by a hand-kept list."""
    from gan_bokeh.cli import generate, render

    assert _choices(render, "method") == RENDERERS.names()
    assert _choices(render, "kernel") == KERNELS.names()
    assert _choices(generate, "merge") == MERGE_MODES.names()


@pytest.mark.parametrize("name", RENDERERS.names())
def test_every_renderer_renders(name):
    """Every registered renderer imports, runs on a tiny image with (only if it needs one) a depth map, and
    keeps shape and range; catches a wrong target, a wrong needs_depth flag or a wrong return kind."""
    from gan_bokeh.render import render_image

    rng = np.random.default_rng(0)
    image = rng.random((24, 32, 3)).astype(np.float32)
    mask = np.zeros((24, 32), np.float32)
    mask[6:18, 10:22] = 1
    depth = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1)) if RENDERERS[name].meta["needs_depth"] else None
    assert callable(RENDERERS.load(name))
    out, info = render_image(image, method=name, mask=mask, depth=depth)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1 and isinstance(info, dict)
    if name == "interpolate":
        assert info["interpolation_mask"].shape == (24, 32)


@pytest.mark.parametrize("name", KERNELS.names())
def test_every_kernel_is_normalised(name):
    from gan_bokeh.render import make_kernel

    k = make_kernel(name, 4.0)
    assert abs(float(k.sum()) - 1.0) < 1e-5 and k.shape[0] == k.shape[1]


@pytest.mark.parametrize("name", MERGE_MODES.names())
def test_every_merge_mode_merges(name):
    """An identity generator gives back the full-resolution input's size and range in every mode."""
    from gan_bokeh.generate import merge_full_resolution
    from gan_bokeh.io import resize_image

    full = np.random.default_rng(1).random((40, 48, 3)).astype(np.float32)
    small = resize_image(full, (20, 24))
    out = merge_full_resolution(full, small, small, name)
    assert out.shape == full.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", CONFIGS.names())
def test_every_config_loads(name):
    """Every configs/*.yaml is a valid config of its command (catches a typo in a key or a value)."""
    if CONFIGS[name].meta["command"] == "scrape":
        from scrapers.config import load_scrape_config

        load_scrape_config(name)
        return
    from gan_bokeh.config import load_config
    from gan_bokeh.train.config import TrainConfig

    load_config(TrainConfig, CONFIGS[name].target)


def test_registry_refuses_duplicates_and_names_choices():
    from gan_bokeh.errors import UserError

    reg = Registry("thing", "--thing")
    reg.add("a", "first")
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", "again")
    with pytest.raises(UserError, match="--thing b: unknown thing; choose from a"):
        reg.check("b")


def test_docs_tables_are_current():
    """docs/*.md tables are generated from the registries: run `python scripts/docs_tables.py` to update."""
    for (doc, marker), table in doc_tables().items():
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert replace_doc_table(text, marker, table) == text, f"{doc} {marker}: run scripts/docs_tables.py"
