"""Methods by name (timm/open_clip style): `list_methods()`, `create_method(name, ...)`."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from mrw.bench.method import Method, MethodContext
from mrw.errors import MRWError

M = TypeVar("M", bound=type[Method])

_METHODS: dict[str, type[Method]] = {}
# Modules whose import registers the built-in methods.
_BUILTIN_MODULES = (
    "pvse.method",
    "baselines.devise",
    "baselines.vsepp",
    "baselines.order",
    "baselines.corr_ae",
    "baselines.dual_path",
)


class UnknownMethodError(MRWError):
    pass


def register_method(cls: M) -> M:
    """Class decorator: make a `Method` subclass available under `cls.name`."""
    if cls.name in _METHODS and _METHODS[cls.name] is not cls:
        raise ValueError(f"method {cls.name!r} is registered twice")
    _METHODS[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module
                raise


def list_methods() -> list[str]:
    _load_builtins()
    return sorted(_METHODS)


def get_method_class(name: str) -> type[Method]:
    _load_builtins()
    if name not in _METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def make_config(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The method's default config with `overrides` applied (unknown keys are an error)."""
    cls = get_method_class(name)
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise MRWError(f"method {name!r} has no option(s) {', '.join(unknown)}")
    return cls.config_class(**overrides)


def create_method(
    name: str, context: MethodContext, overrides: Mapping[str, Any] | None = None
) -> Method:
    cls = get_method_class(name)
    return cls(make_config(name, overrides), context)
