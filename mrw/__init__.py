"""MRW toolkit: the MRW dataset, PVSE and baselines under one harness, and a leaderboard scorer."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_dataset(*args: Any, **kwargs: Any) -> Any:
    """Load MRW/TGIF/toy or a dataset folder with decoded frames; see `mrw.dataset.load_dataset`."""
    from mrw.dataset import load_dataset as _load

    return _load(*args, **kwargs)


__all__ = ["__version__", "load_dataset"]
