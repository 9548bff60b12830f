"""What `huggingface_hub` (and `datasets` through it) raises when the Hub or the network fails.

huggingface_hub >= 1.0 talks HTTP with httpx, whose errors (a refused connection is
`ConnectError`) are not `OSError`s, so `except OSError` no longer catches an absent network;
before 1.0 it used requests, whose errors are. `huggingface_hub.errors` imports the client's
base error as `HTTPError` in both cases, which is what is caught here.
"""

from __future__ import annotations


def hub_errors() -> tuple[type[Exception], ...]:
    """Exception types of a failed Hub call: `HfHubHTTPError`, the HTTP client's base error,
    and `OSError`. Catch them around every Hub call and report one line."""
    from huggingface_hub import errors

    client = getattr(errors, "HTTPError", OSError)
    return (errors.HfHubHTTPError, client, OSError)
