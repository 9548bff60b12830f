"""Test-wide settings: never touch the network, keep CPU threads modest on a 2-core machine."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MRW_TEST", "1")
