"""Typed config loading: YAML + overrides + validation messages that name the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from gan_bokeh.config import apply_overrides, dump_config, load_config, to_dict
from gan_bokeh.errors import UserError


@dataclass
class Inner:
    ngf: int = 64
    mode: Literal["lsgan", "vanilla"] = "lsgan"
    lr: float = 2e-4
    tags: list[str] = field(default_factory=list)
    path: str | None = None


@dataclass
class Outer:
    model: Inner = field(default_factory=Inner)
    flag: bool = False

    def validate(self) -> None:
        if self.model.ngf < 1:
            raise UserError("model.ngf: must be >= 1")


def test_defaults_yaml_and_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  ngf: 16\n  lr: 1e-4\n")
    cfg = load_config(Outer, tmp_path / "c.yaml", overrides=["model.mode=vanilla", "flag=true",
                                                             "model.tags=[a, b]"])
    assert cfg.model.ngf == 16 and cfg.model.lr == pytest.approx(1e-4)
    assert cfg.model.mode == "vanilla" and cfg.flag is True and cfg.model.tags == ["a", "b"]


@pytest.mark.parametrize("override, needle", [
    ("model.ngff=3", "model.ngff: unknown key"),
    ("model.ngf=wide", "model.ngf: expected an integer"),
    ("model.mode=wgan", "model.mode: expected one of"),
    ("flag=3", "flag: expected true/false"),
    ("model.ngf=0", "model.ngf: must be >= 1"),
    ("nokey", "expected key=value"),
])
def test_errors_name_the_key(override, needle):
    with pytest.raises(UserError, match=needle):
        load_config(Outer, None, overrides=[override])


def test_missing_config_lists_builtins():
    with pytest.raises(UserError, match="no such file"):
        load_config(Outer, "definitely-not-a-config")


def test_invalid_yaml(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(UserError, match="invalid YAML"):
        load_config(Outer, tmp_path / "bad.yaml")


def test_dump_roundtrip(tmp_path):
    cfg = load_config(Outer, None, overrides=["model.ngf=8"])
    dump_config(cfg, tmp_path / "out.yaml")
    assert load_config(Outer, tmp_path / "out.yaml") == cfg
    assert to_dict(cfg)["model"]["ngf"] == 8


def test_apply_overrides_rejects_non_section():
    with pytest.raises(UserError, match="not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_preprocess_presets_resolve_and_refuse_lies() -> None:
    """``data.preprocess`` fills ``load_size``/``flip``; ``paper`` refuses a random crop or a flip."""
    from gan_bokeh.train.config import TrainConfig

    keep = load_config(TrainConfig, "cyclegan")
    assert (keep.data.preprocess, keep.data.load_size, keep.data.flip, keep.data.squash) == ("keep_aspect", 286,
                                                                                          True, False)
    paper = load_config(TrainConfig, "cyclegan", overrides=["data.preprocess=paper"])
    assert (paper.data.load_size, paper.data.flip) == (256, False)
    squash = load_config(TrainConfig, "cyclegan", overrides=["data.preprocess=cyclegan", "data.crop_size=128"])
    assert (squash.data.load_size, squash.data.flip, squash.data.squash) == (143, True, True)
    with pytest.raises(UserError, match="data.load_size 286: data.preprocess paper"):
        load_config(TrainConfig, "cyclegan", overrides=["data.preprocess=paper", "data.load_size=286"])
    with pytest.raises(UserError, match="data.flip true: data.preprocess paper"):
        load_config(TrainConfig, "cyclegan", overrides=["data.preprocess=paper", "data.flip=true"])
