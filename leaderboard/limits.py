"""Size limits on submitted files, in a module light enough for argument parsers to import."""

from __future__ import annotations

DEFAULT_MAX_BYTES = 2 * 1024**3
"""Largest run file accepted, in bytes, uncompressed; checked while streaming (gzip bombs)."""
