"""Name → objective class registry (imports the built-in objectives lazily, on first lookup)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from gan_bokeh.errors import UserError

T = TypeVar("T", bound=type)

OBJECTIVES: dict[str, type[Any]] = {}

#: Modules that register the built-in objectives; imported on first lookup so that importing the registry
#: (e.g. for the CLI's ``--help``) stays light.
_BUILTIN_MODULES = ("gan_bokeh.objectives.cyclegan", "gan_bokeh.objectives.cut", "gan_bokeh.objectives.defocus",
                    "gan_bokeh.objectives.pynet")


def register_objective(name: str) -> Callable[[T], T]:
    """Class decorator: ``@register_objective("cyclegan")``."""

    def deco(cls: T) -> T:
        if name in OBJECTIVES and OBJECTIVES[name] is not cls:
            raise ValueError(f"objective {name!r} registered twice")
        OBJECTIVES[name] = cls
        cls.name = name
        return cls

    return deco


def load_builtin_objectives() -> dict[str, type[Any]]:
    """Import every built-in objective module and return the registry."""
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    return OBJECTIVES


def objective_class(name: str) -> type[Any]:
    """The class registered as ``name``; one-line :class:`UserError` naming the choices otherwise."""
    table = load_builtin_objectives()
    try:
        return table[name]
    except KeyError:
        raise UserError(f"model.objective {name!r}: unknown; choose one of: {', '.join(sorted(table))}") from None
