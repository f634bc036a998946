"""The streaming response: the relay's bytes, and one listener for the disconnect and idle heartbeats.

Whichever of the two ends first cancels the other, and the upstream stream is closed at once,
so a browser that goes away stops the model generating within one event-loop turn. When a beat is
due is the core's `Heartbeat` timer, the same one WSGI and Django answers use; only the writing is
here, in the listener this response keeps for the disconnect anyway (no task per chunk).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from starlette.responses import Response, StreamingResponse

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from firsttoken import Relay, RelayStart, ResumedStream

__all__ = ["RelayResponse", "start_response"]


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def start_response(start: RelayStart) -> Response:
    """A start that is not a stream: the core's JSON answer (a refusal, an upstream error) with its
    status and headers, or a 204 (which carries no length)."""
    response = Response(start.body or b"", status_code=start.status)
    # The core already chose every header; Response's own content-type guess would duplicate it.
    response.raw_headers = _raw(start.headers)
    if start.body is not None:
        response.raw_headers.append((b"content-length", str(len(start.body)).encode()))
    return response


class RelayResponse(StreamingResponse):
    """A `StreamingResponse` whose body is an opened `Relay` (`await relay.aopen()` returned 200),
    or a resumed answer (`FirstToken.resume`)."""

    def __init__(
        self, relay: Relay | ResumedStream, start: RelayStart, *, heartbeat_interval: float | None = None
    ) -> None:
        self.relay = relay
        # None: the engine's `heartbeat_interval`, as every adapter uses.
        self.heartbeat_interval = heartbeat_interval
        self.status_code = start.status
        self.background = None
        self.body_iterator = relay.__aiter__()
        self.raw_headers = _raw(start.headers)
        # Set when the browser went away before the answer ended (for tests and logs).
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self.body_iterator
        # The timer only measures intervals: the monotonic clock every event loop's own derives
        # from, read without asking anyio which loop runs (a lookup per token otherwise).
        timer = self.relay.heartbeat()
        if self.heartbeat_interval is not None:
            timer.interval = self.heartbeat_interval
        beat = timer.beat if timer.enabled else b""
        # Heartbeats and tokens share one connection. A beat may go out while a token's send
        # waits for the socket to drain (both are whole events; a beat is a comment), but never
        # after the final (more_body=False) message, which the server would reject: the final
        # send waits for a beat in flight, and no beat starts once `finished` is set. Flags, not
        # a lock: a lock's acquire and release cost each token more than its whole write.
        finished = False
        beating: anyio.Event | None = None

        async def produce() -> None:
            nonlocal finished
            try:
                await send(
                    {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
                )
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    timer.sent()
                finished = True
                in_flight = beating
                if in_flight is not None:
                    await in_flight.wait()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                # ASGI 2.4 servers raise on a send to a closed connection instead of saying so on
                # receive(); either way the browser is gone.
                self.disconnected = True

        async def listen() -> None:
            nonlocal beating
            # The disconnect listener keeps the heartbeat too, so a stream costs one extra task.
            # It never sleeps: it waits on the connection until a beat is due, and once the
            # answer is sent the server wakes it with `http.disconnect`. Ending by being woken
            # rather than cancelled matters: a cancelled task leaves a CancelledError whose
            # traceback ties frames into a cycle only the garbage collector frees, and those
            # collections were the slowest requests of a busy worker (BENCHMARKS.md, Starlette).
            while True:
                message = None
                if beat:
                    with anyio.move_on_after(timer.due_in()):
                        message = await receive()
                else:
                    message = await receive()
                if message is None:
                    if timer.due_in() <= 0:
                        if finished:
                            return
                        beating = in_flight = anyio.Event()
                        try:
                            await send({"type": "http.response.body", "body": beat, "more_body": True})
                            timer.sent()
                        finally:
                            beating = None
                            in_flight.set()
                    continue
                if message["type"] == "http.disconnect":
                    self.disconnected = not finished
                    # Closed here, shielded, before the producer is cancelled: a close that
                    # cancellation interrupts inside the relay would leave the upstream open.
                    with anyio.CancelScope(shield=True):
                        await self.relay.aclose()
                    return

        try:
            async with anyio.create_task_group() as group:

                async def first_to_end(job: Callable[[], Awaitable[None]]) -> None:
                    await job()
                    group.cancel_scope.cancel()

                group.start_soon(first_to_end, listen)
                await first_to_end(produce)
        except BaseExceptionGroup as group_error:
            # One failing job is the common case; raise it as itself so error middleware and
            # logs see the real exception, not a group wrapping it.
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
                await self.relay.aclose()
