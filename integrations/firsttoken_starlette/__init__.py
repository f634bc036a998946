"""firsttoken for Starlette and FastAPI.

    app = Starlette(routes=..., middleware=[Middleware(FirstTokenMiddleware, settings={...})])

    async def chat(request):
        return await request.state.firsttoken.chat()  # the browser's body, checked, then streamed

`get_engine()` is the app's engine inside a request or the lifespan.

FastAPI's dependencies live in `firsttoken_starlette.fastapi`, so Starlette users need no FastAPI.
Importing this package without Starlette raises `firsttoken.FrameworkNotInstalled`
(`StarletteNotInstalled` is the same class).
"""

from firsttoken import FrameworkNotInstalled

try:
    import anyio  # noqa: F401  (the guard: every module of the package is imported after this one)
    import starlette  # noqa: F401
except ImportError as exc:
    raise FrameworkNotInstalled("firsttoken_starlette", "starlette") from exc

from .console import console
from .handle import FirstToken, firsttoken_of, get_engine
from .middleware import FirstTokenMiddleware
from .responses import RelayResponse, start_response

# The adapter's former name for the shared error, kept for code that catches it.
StarletteNotInstalled = FrameworkNotInstalled

__all__ = [
    "FirstToken",
    "FirstTokenMiddleware",
    "RelayResponse",
    "StarletteNotInstalled",
    "console",
    "firsttoken_of",
    "get_engine",
    "start_response",
]
