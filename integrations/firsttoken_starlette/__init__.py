"""firsttoken for Starlette and FastAPI.

    app = Starlette(routes=..., middleware=[Middleware(FirstTokenMiddleware, settings={...})])

    async def chat(request):
        return await request.state.firsttoken.stream_response(messages=[...], profile="chat")

FastAPI's dependencies live in `firsttoken_starlette.fastapi`, so Starlette users need no FastAPI.
"""

from ._missing import StarletteNotInstalled
from .handle import FirstToken, firsttoken_of
from .middleware import FirstTokenMiddleware
from .responses import RelayResponse, error_response

__all__ = [
    "FirstToken",
    "FirstTokenMiddleware",
    "RelayResponse",
    "StarletteNotInstalled",
    "error_response",
    "firsttoken_of",
]
