"""MRW toolkit: the MRW dataset, PVSE and baselines under one harness, and a leaderboard scorer.

The public surface is `__all__`: loading a dataset, the dataset catalogue, and the method
registry. Importing `mrw` is cheap; the method names load PyTorch on first use.

>>> import mrw
>>> "toy" in mrw.list_datasets()
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mrw.catalog import DatasetRecord, get_dataset, list_datasets, register_dataset
from mrw.core.version import __version__

if TYPE_CHECKING:
    from mrw.methods.base import Method
    from mrw.methods.registry import create_method, list_methods, register_method

# name -> module, imported on first access (PEP 562): they import torch.
_LAZY = {
    "Method": "mrw.methods.base",
    "create_method": "mrw.methods.registry",
    "list_methods": "mrw.methods.registry",
    "register_method": "mrw.methods.registry",
}


def load_dataset(*args: Any, **kwargs: Any) -> Any:
    """Load MRW/TGIF/toy or a dataset folder with decoded frames; see `mrw.dataset.load_dataset`."""
    from mrw.dataset import load_dataset as _load

    return _load(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mrw' has no attribute {name!r}")


__all__ = [
    "DatasetRecord",
    "Method",
    "__version__",
    "create_method",
    "get_dataset",
    "list_datasets",
    "list_methods",
    "load_dataset",
    "register_dataset",
    "register_method",
]
