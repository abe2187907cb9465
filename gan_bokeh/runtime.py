"""Device selection, thread settings and the user cache folder shared by the commands that run networks.

Only the trainer, generator, segmenter and renderer entry points call this; models never pick devices.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gan_bokeh.errors import UserError


def cache_root() -> Path:
    """The user cache of gan-bokeh: ``$GAN_BOKEH_CACHE``, else ``$XDG_CACHE_HOME/gan-bokeh``, else
    ``~/.cache/gan-bokeh``. Sub-folders: ``models/`` (downloaded model files), ``resized/`` (training
    images decoded at load size). Not created here."""
    env = os.environ.get("GAN_BOKEH_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-bokeh"


def pick_device(name: str | None = None):  # -> torch.device (torch imported lazily)
    """``None``/``"auto"`` → CUDA when present, else CPU; ``"cuda"`` without a GPU is a user error.

    A ``torch.device`` is accepted too (library callers pass one) and goes through the same checks.
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)

    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is visible; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: unknown device; use cpu, cuda or cuda:N") from None


def torch_threads(n: int | None = None) -> None:
    """Set intra-op threads (``GAN_BOKEH_THREADS`` or ``n``); default leaves torch's choice."""
    import torch

    n = n or int(os.environ.get("GAN_BOKEH_THREADS", "0") or 0)
    if n > 0:
        torch.set_num_threads(n)


#: Native-library chatter written straight to file descriptor 2 that says nothing to a user.
NATIVE_NOISE = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)


@contextlib.contextmanager
def quiet_native_stderr(drop: tuple[str, ...] = NATIVE_NOISE) -> Iterator[None]:
    """Drop the lines of ``drop`` that C++ libraries (TFLite/LiteRT) print to file descriptor 2 inside the
    block; every other line (a real error or warning) is written back to stderr afterwards, in order.

    Python's ``sys.stderr`` cannot catch these: the library writes to the descriptor itself.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest capture, notebooks: nothing to redirect
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            kept = [ln for ln in tmp.read().decode(errors="replace").splitlines(keepends=True)
                    if ln.strip() not in drop]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
