"""The dispatcher: every subcommand has help; user errors are one line with exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gan_bokeh.cli import SUBCOMMANDS, build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as ex:
            parser.parse_args([name, "--help"])
        assert ex.value.code == 0
    assert "train" in capsys.readouterr().out


def test_python_m_matches_console_script():
    out = subprocess.run([sys.executable, "-m", "gan_bokeh", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("gan-bokeh ")


def test_help_does_not_import_torch():
    code = "import sys; from gan_bokeh.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2


def test_os_errors_on_user_paths_are_one_line(tmp_path, capsys):
    """QA: ``--out`` naming an existing file used to end in a FileExistsError traceback."""
    from PIL import Image

    Image.new("RGB", (16, 16), (90, 120, 150)).save(tmp_path / "a.png")
    (tmp_path / "file.txt").write_text("x")
    rc = main(["render", str(tmp_path / "a.png"), "--out", str(tmp_path / "file.txt"), "--method", "average",
               "--no-segment"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "file.txt: is a file where a folder is needed" in err


def test_train_run_folder_inside_the_dataset_is_refused(tmp_path, capsys):
    """QA: ``--out DATA --name trainA`` wrote checkpoints and TensorBoard images among the photos."""
    (tmp_path / "trainA").mkdir()
    assert main(["train", "--config", "cpu_small", "--data", str(tmp_path), "--out", str(tmp_path),
                 "--name", "trainA"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is inside --data" in err
    assert list((tmp_path / "trainA").iterdir()) == []
