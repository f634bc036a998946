"""A `Relay` as a Flask response: the error JSON before the first token, else the streamed bytes."""

from __future__ import annotations

try:
    from flask import Response, stream_with_context
except ImportError:  # pragma: no cover - exercised only without Flask
    from .errors import FlaskNotInstalled

    raise FlaskNotInstalled() from None

from firsttoken import Relay

__all__ = ["relay_response"]


def relay_response(relay: Relay) -> Response:
    """Open the relay now, so an upstream refusal still gets its own HTTP status, then stream.

    The WSGI server closes the response iterable when the client has gone (a write failed) or the
    stream ended; both close the relay, which closes the upstream stream so generation stops.
    """
    start = relay.open()
    if start.body is not None:
        return Response(start.body, status=start.status, headers=start.headers)
    response = Response(stream_with_context(iter(relay)), status=start.status, headers=start.headers)
    # stream_with_context only closes the relay once iteration began; a response that is never
    # iterated (an after_request hook raised, a HEAD request) must not leave the upstream open.
    response.call_on_close(relay.close)
    return response
