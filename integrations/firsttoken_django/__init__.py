"""firsttoken for Django: add `"firsttoken_django"` to INSTALLED_APPS and
`"firsttoken_django.middleware.FirstTokenMiddleware"` to MIDDLEWARE, configure `FIRSTTOKEN = {...}`,
and return `request.firsttoken.stream_response(messages=..., profile=...)` from a view
(`await request.firsttoken.astream_response(...)` from an async one).

Importing this package without Django 4.2 or newer raises `firsttoken.FrameworkNotInstalled`
(`DjangoNotInstalled` is the same class).
"""

from firsttoken import FrameworkNotInstalled

try:
    import django
except ImportError as exc:
    raise FrameworkNotInstalled("firsttoken_django", "Django 4.2 or newer", extra="django") from exc
if django.VERSION < (4, 2):  # pragma: no cover
    raise FrameworkNotInstalled(
        "firsttoken_django", f"Django 4.2 or newer (this is {django.get_version()})", extra="django"
    )

from .console import console, staff_only
from .handle import FirstToken
from .responses import astream_response, start_response, stream_response
from .state import get_engine

# The adapter's former name for the shared error, kept for code that catches it.
DjangoNotInstalled = FrameworkNotInstalled

__all__ = [
    "DjangoNotInstalled",
    "FirstToken",
    "astream_response",
    "console",
    "get_engine",
    "staff_only",
    "start_response",
    "stream_response",
]
