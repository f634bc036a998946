"""Closing what belongs to an event loop when that loop shuts down.

Async clients (the SDK's, redis-py's) hold connections that only their own loop can close. A loop
made for one call (Flask async views, Django's `async_to_sync` under WSGI, `asyncio.run` in a
script) would otherwise leave those sockets open after it closed. Below storage and the upstream
alike: both layers' async clients close this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = ["close_with_loop"]


def close_with_loop(
    loop: asyncio.AbstractEventLoop, aclose: Callable[[], Awaitable[object]]
) -> AsyncGenerator[None, None]:
    """Await `aclose()` when `loop` shuts down, as `asyncio.run()` and asgiref's loops do.

    `loop.shutdown_asyncgens()` finalizes every started async generator, so one that awaits
    `aclose()` in its `finally` is a shutdown hook. Keep the returned generator alive (with the
    client it closes); only the loop's shutdown ends it. Call from code running on `loop`.
    """

    async def guard() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await aclose()

    agen = guard()
    loop.create_task(agen.__anext__())
    return agen
