"""A `Relay` as a Flask response: the error JSON before the first token, else the streamed bytes."""

from __future__ import annotations

from flask import Response, stream_with_context

from firsttoken import Relay, RelayStart

__all__ = ["relay_response", "start_response"]


def start_response(start: RelayStart) -> Response:
    """A start that is not a stream: a JSON answer, or a 204."""
    return Response(start.body, status=start.status, headers=start.headers)


def relay_response(relay: Relay, start: RelayStart | None = None) -> Response:
    """Open the relay now (unless `start` says it was), so an upstream refusal gets its own status.

    The WSGI server closes the response iterable when the client has gone (a write failed) or the
    stream ended; both stop the relay, which closes the upstream stream so generation stops.
    """
    start = start or relay.open()
    if start.body is not None:
        return start_response(start)
    response = Response(stream_with_context(relay.body()), status=start.status, headers=start.headers)
    # stream_with_context only closes the relay once iteration began; a response that is never
    # iterated (an after_request hook raised, a HEAD request) must not leave the upstream open.
    response.call_on_close(relay.close)
    return response
