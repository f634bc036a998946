"""`FirstTokenMiddleware`: attaches `request.firsttoken` without forcing a sync/async switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .handle import FirstToken
from .state import refuse_to_serve, warm_up

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["FirstTokenMiddleware"]

GetResponse = Callable[["HttpRequest"], Any]


class FirstTokenMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        # Django builds middleware when a server loads the app (runserver, gunicorn, uvicorn), not
        # for `check`, `migrate` or `collectstatic`: the place to refuse to serve without a key,
        # so a production server with no ANTHROPIC_API_KEY does not start (fail closed).
        refuse_to_serve()
        self.get_response = get_response
        # Django hands us the kind of get_response that matches the chain; answering in kind means
        # no thread hop (sync) or event loop (async) is added on any request.
        self._async = iscoroutinefunction(get_response)
        if not self._async:
            # ...and under WSGI the place to warm up: the SDK's first call and the upstream's
            # handshakes are paid here, not by the first user. Under ASGI the server's loop is
            # not running yet: `firsttoken_django.asgi`'s lifespan warms up on it.
            warm_up()
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        request.firsttoken = FirstToken(request)  # type: ignore[attr-defined]
        # Async chain: this returns the coroutine of the next layer, awaited by Django as ours.
        return self.get_response(request)
