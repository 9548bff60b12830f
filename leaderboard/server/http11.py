"""The HTTP/1.1 protocol `mrw-leaderboard serve` gives uvicorn: its h11 protocol, with a request
that turns malformed while the app is answering it ended at once.

When the bytes after a request's head break HTTP (say, a chunked body that is not chunked),
uvicorn answers 400 itself and closes the connection, but it marks the request disconnected
only in `connection_lost`, which the event loop runs a turn later. An app whose work for that
request finishes in the same turn (a thread-pool call returning) then sends its response into
an h11 connection that has already answered: `LocalProtocolError`, logged as "Exception in
ASGI application" with a traceback. It is a race, so it shows under load. Here the request is
marked disconnected when the 400 goes out, as `connection_lost` would do: the app's `receive`
returns `http.disconnect` and whatever it sends is dropped.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol


class PromptH11Protocol(H11Protocol):
    """uvicorn's `H11Protocol`, ending the request in progress when the client breaks HTTP."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 and close (uvicorn's), first marking the request in progress (if any)
        disconnected; once its response has begun, only close: a second status line cannot
        follow."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            super().send_400_response(msg)
            return
        cycle.disconnected = True
        cycle.message_event.set()  # wakes an app waiting in `receive`
        if cycle.response_started:
            self.transport.close()
        else:
            super().send_400_response(msg)
