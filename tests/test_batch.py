"""The one batch loop and exit-code rule of render / segment / generate (gan_bokeh.batch), and the quiet
selfie model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gan_bokeh.batch import BatchResult, each, run_batch
from gan_bokeh.errors import BadImageError, UserError
from gan_bokeh.io import read_jsonl, write_image


def test_run_batch_counts_done_skipped_failed_and_journals(tmp_path):
    """Catches a loop that stops at the first bad item, counts a skipped item as done, or forgets the journal."""
    def fn(item: str) -> dict:
        if item == "bad":
            raise BadImageError(item, "not a decodable image")
        return {"output": f"{item}.png"}

    res = run_batch(["a", "bad", "done", "b"], each(fn), command="x", out=tmp_path,
                    is_done=lambda i: i == "done", failed_early=[("dup", "same stem")],
                    journal=tmp_path / "j.jsonl", progress=False)
    assert (res.done, res.skipped, [f[0] for f in res.failed]) == (2, 1, ["dup", "bad"])
    assert res.failed[1][1] == "not a decodable image" and res.exit_code == 1
    statuses = {r["input"]: r["status"] for r in read_jsonl(tmp_path / "j.jsonl")}
    assert statuses == {"dup": "failed", "a": "done", "bad": "failed", "b": "done"}
    assert BatchResult("x", tmp_path, done=3, skipped=2).exit_code == 0


def test_one_exit_code_rule_for_render_and_segment(tmp_path, monkeypatch, capsys):
    """render and segment exit 1 as soon as one item failed (segment used to say 0 when another was done),
    0 when none failed, 2 for a user error before any work (generate: tests/test_generate.py)."""
    import gan_bokeh.segment as segment_room
    from gan_bokeh.cli import main

    class Fake:
        name = "fake"

        def __call__(self, image: np.ndarray) -> np.ndarray:
            return np.ones(image.shape[:2], np.float32)

    monkeypatch.setattr(segment_room, "get_segmenter", lambda *a, **k: Fake())
    src = tmp_path / "in"
    write_image(src / "a.png", np.random.default_rng(0).random((16, 20, 3)))
    (src / "broken.jpg").write_bytes(b"<html>")
    for argv in (["render", str(src), "--method", "gaussian", "--no-segment"],
                 ["segment", str(src), "--format", "mask", "--no-refine"]):
        assert main([*argv, "--out", str(tmp_path / argv[0])]) == 1, argv[0]
        cap = capsys.readouterr()
        assert "1 done, 0 skipped (already done), 1 failed" in cap.out and "broken.jpg" in cap.err
        assert main([argv[0], str(src / "a.png"), *argv[2:], "--out", str(tmp_path / argv[0])]) == 0
        assert "0 done, 1 skipped" in capsys.readouterr().out
        assert main([argv[0], str(tmp_path / "nope"), *argv[2:], "--out", str(tmp_path / argv[0])]) == 2


def test_generate_takes_positional_inputs_and_requires_one(tmp_path, capsys):
    """``generate INPUT…`` like render/segment; ``--input`` still works; none at all is a one-line error."""
    from gan_bokeh.cli import build_parser, main

    args = build_parser().parse_args(["generate", "a.jpg", "b", "--input", "c", "--checkpoint", "r", "--out", "o"])
    assert args.inputs == ["a.jpg", "b"] and args.input == ["c"]
    assert main(["generate", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no input" in capsys.readouterr().err


_NOISY = ("import os, sys\n"
          "from gan_bokeh.runtime import quiet_native_stderr\n"
          "with quiet_native_stderr():\n"
          "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
          "    os.write(2, b'E real native error\\n')\n")


def test_quiet_native_stderr_drops_the_delegate_line_keeps_errors():
    """The selfie model's C++ INFO line goes; a real native error line stays (catches both a filter that
    hides everything and one that filters nothing)."""
    err = subprocess.run([sys.executable, "-c", _NOISY], capture_output=True, text=True, check=True).stderr
    assert "XNNPACK" not in err and "E real native error" in err


def test_segment_with_selfie_prints_no_tflite_info(tmp_path):
    """End to end: ``segment --backend selfie`` (the cached model) writes no XNNPACK INFO line."""
    from gan_bokeh.segment.model_files import selfie_model_path

    try:
        selfie_model_path()
    except (UserError, OSError) as err:
        pytest.skip(f"selfie model unavailable: {err}")
    write_image(tmp_path / "a.png", np.random.default_rng(0).random((32, 32, 3)))
    proc = subprocess.run([sys.executable, "-m", "gan_bokeh", "segment", str(tmp_path / "a.png"), "--out",
                           str(tmp_path / "o"), "--backend", "selfie"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "XNNPACK" not in proc.stderr, proc.stderr
