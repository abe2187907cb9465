"""Pretrained weights: explicit file, cache, and the offline error message."""

from __future__ import annotations

import pytest
import torch

from gan_bokeh.errors import UserError, WeightsUnavailableError
from gan_bokeh.weights import cache_path_for_url, load_state_dict_file, resolve_weights, weights_available

URL = "https://example.invalid/models/tiny-0123abcd.pth"


def test_explicit_file_wins(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "w.pth")
    sd = resolve_weights(URL, what="tiny weights", flag="--weights", path=tmp_path / "w.pth")
    assert torch.equal(sd["w"], torch.ones(2))


def test_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    assert load_state_dict_file(tmp_path / "w.safetensors")["w"].shape == (3,)


def test_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = cache_path_for_url(URL)
    cached.parent.mkdir(parents=True)
    torch.save({"w": torch.full((1,), 7.0)}, cached)
    assert weights_available(URL)
    assert resolve_weights(URL, what="tiny", flag="--weights", download=False)["w"].item() == 7.0


def test_offline_error_names_cache_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights(URL, what="tiny weights", flag="--weights", download=False)
    msg = str(err.value)
    assert str(cache_path_for_url(URL)) in msg and "--weights PATH" in msg and "\n" not in msg


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(UserError, match="cannot load weights"):
        load_state_dict_file(tmp_path / "evil.pth")


@pytest.mark.parametrize("content", [b"", b"<html>404 Not Found</html>"])
def test_empty_or_html_weights_file_is_one_short_line(tmp_path, content):
    """QA: a zero-byte file raised IndexError (EOFError has no text); HTML gave a paragraph."""
    f = tmp_path / "w.pth"
    f.write_bytes(content)
    with pytest.raises(UserError, match="cannot load weights") as ei:
        load_state_dict_file(f)
    msg = str(ei.value)
    assert "\n" not in msg and len(msg) < 250 and str(f) in msg
