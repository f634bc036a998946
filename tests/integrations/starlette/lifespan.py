"""Drive an ASGI app's lifespan by hand, as a server does (httpx2's ASGI transport does not)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import ASGIApp, Message


@asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[list[Message]]:
    """Startup on enter, shutdown on exit; yields the messages the app sent (to check failures)."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []
    answered = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        answered.set()

    scope: dict[str, Any] = {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        "state": {},
    }
    task = asyncio.create_task(app(scope, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await asyncio.wait([task, asyncio.create_task(answered.wait())], return_when=asyncio.FIRST_COMPLETED)
    try:
        yield sent
    finally:
        if not task.done():
            answered.clear()
            await inbox.put({"type": "lifespan.shutdown"})
            await asyncio.wait_for(task, timeout=10)
        elif not task.cancelled() and task.exception() is not None:
            sent.append({"type": "raised", "exception": task.exception()})
