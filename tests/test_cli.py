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
