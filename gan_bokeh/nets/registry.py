"""Name → constructor registries (timm-style). They feed the CLI/config choices and the test that runs
every registered net forward and backward at tiny size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gan_bokeh.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])

GENERATORS: dict[str, Callable[..., Any]] = {}
DISCRIMINATORS: dict[str, Callable[..., Any]] = {}


def _register(table: dict[str, Callable[..., Any]], kind: str, name: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        if name in table:
            raise ValueError(f"{kind} {name!r} registered twice")
        table[name] = fn
        return fn
    return deco


def register_generator(name: str) -> Callable[[F], F]:
    """Decorator: ``@register_generator("resnet_9blocks")`` on a ``(**kwargs) -> nn.Module`` factory."""
    return _register(GENERATORS, "generator", name)


def register_discriminator(name: str) -> Callable[[F], F]:
    """Decorator: ``@register_discriminator("patchgan_3layers")``."""
    return _register(DISCRIMINATORS, "discriminator", name)


def _build(table: dict[str, Callable[..., Any]], kind: str, name: str, **kwargs: Any) -> Any:
    try:
        factory = table[name]
    except KeyError:
        raise UserError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}") from None
    return factory(**kwargs)


def build_generator(name: str, **kwargs: Any) -> Any:
    """Instantiate a registered generator (random N(0, 0.02) init, on CPU)."""
    return _build(GENERATORS, "generator", name, **kwargs)


def generator_blocks(name: str) -> int | None:
    """The residual-block count a registered generator's name fixes (``resnet_6blocks`` → 6), or ``None``
    when the name does not fix one (``resnet``, non-ResNet generators, unknown names)."""
    return getattr(GENERATORS.get(name), "n_blocks", None)


def build_discriminator(name: str, **kwargs: Any) -> Any:
    """Instantiate a registered discriminator (random N(0, 0.02) init, on CPU)."""
    return _build(DISCRIMINATORS, "discriminator", name, **kwargs)
