"""Methods by name (timm's registry pattern): `list_methods()`, `create_method(name, ...)`.

A method registers itself when its module is imported (`@register_method`). The harness
imports no method package by name: packages that provide methods declare an entry point in
the `mrw.methods` group (this project's `pvse` and `baselines` do, in `pyproject.toml`), and
the registry imports every such package the first time a method is looked up. A third-party
package adds methods the same way, with no change here:

    [project.entry-points."mrw.methods"]
    my_method = "my_package.my_method"
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
from collections.abc import Mapping
from importlib.metadata import distributions
from typing import Any, TypeVar

from mrw.core.errors import MRWError
from mrw.methods.base import Method, MethodContext

M = TypeVar("M", bound=type[Method])

ENTRY_POINT_GROUP = "mrw.methods"
_METHODS: dict[str, type[Method]] = {}
_loaded_plugins = False


class UnknownMethodError(MRWError):
    pass


def register_method(cls: M) -> M:
    """Class decorator: make a `Method` subclass available under `cls.name`.

    Raises:
        ValueError: another class is already registered under that name.
    """
    if cls.name in _METHODS and _METHODS[cls.name] is not cls:
        raise ValueError(f"method {cls.name!r} is registered twice")
    _METHODS[cls.name] = cls
    return cls


def _load_plugins() -> None:
    """Import every package that declares methods in the `mrw.methods` entry-point group.

    Every installed distribution is asked, not only the first of each name: a stale
    `*.egg-info` folder in the working directory must not hide the installed metadata.
    """
    global _loaded_plugins
    if _loaded_plugins:
        return
    modules = {
        entry_point.module
        for dist in distributions()
        for entry_point in dist.entry_points
        if entry_point.group == ENTRY_POINT_GROUP
    }
    for module in sorted(modules):
        importlib.import_module(module)
    _loaded_plugins = True


def list_methods(pattern: str = "*") -> list[str]:
    """Names of the registered methods matching a shell-style `pattern`, sorted."""
    _load_plugins()
    return sorted(name for name in _METHODS if fnmatch.fnmatch(name, pattern))


def get_method_class(name: str) -> type[Method]:
    """The class registered as `name`.

    Raises:
        UnknownMethodError: no method of that name is registered.
    """
    _load_plugins()
    if name not in _METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


# Upper bounds of size options, far above any published setting, so that a typo (k=100000000)
# is a one-line error rather than an allocation failure.
SIZE_LIMITS = {"k": 64, "embed_dim": 16384, "hidden_dim": 16384, "word_dim": 16384}


def make_config(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The method's default config with `overrides` applied.

    Raises:
        UnknownMethodError: unknown method.
        MRWError: an override names a field the method's config does not have, or a size
            beyond `SIZE_LIMITS`.
    """
    cls = get_method_class(name)
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise MRWError(f"method {name!r} has no option(s) {', '.join(unknown)}")
    too_large = [
        f"{field} must be <= {limit}, got {overrides[field]}"
        for field, limit in SIZE_LIMITS.items()
        if isinstance(overrides.get(field), int) and overrides[field] > limit
    ]
    if too_large:  # before any memory is allocated or any run folder made
        raise MRWError(f"{name}: " + "; ".join(too_large))
    return cls.config_class(**overrides)


def create_method(
    name: str, context: MethodContext, overrides: Mapping[str, Any] | None = None
) -> Method:
    """An untrained instance of method `name` with its config (defaults + `overrides`)."""
    cls = get_method_class(name)
    return cls(make_config(name, overrides), context)
