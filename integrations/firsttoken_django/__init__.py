"""firsttoken for Django: add `"firsttoken_django"` to INSTALLED_APPS and
`"firsttoken_django.middleware.FirstTokenMiddleware"` to MIDDLEWARE, configure `FIRSTTOKEN = {...}`,
and return `request.firsttoken.stream_response(messages=..., profile=...)` from a view
(`await request.firsttoken.astream_response(...)` from an async one).
"""

from ._require import DjangoNotInstalled
from .handle import FirstToken
from .responses import astream_response, stream_response
from .state import get_engine

__all__ = ["DjangoNotInstalled", "FirstToken", "astream_response", "get_engine", "stream_response"]
