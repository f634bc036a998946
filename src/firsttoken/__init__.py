"""firsttoken: fast Claude-powered web endpoints.

The core engine is framework-free; `firsttoken_django`, `firsttoken_flask` and
`firsttoken_starlette` adapt it to each framework.
"""

from ._caching.manager import WarmResult
from ._engine import Engine
from ._errors import BadRequest, EngineClosedError, FirstTokenError, SettingsError, UpstreamFailure
from ._metrics import CallRecord, Metrics
from ._profiles import DEFAULT_PROFILES, Profile
from ._relay import ChatRequest, Relay, RelayStart, parse_chat_request
from ._routing import Classification
from ._settings import Settings
from ._timings import Timings
from ._upstream.governor import RateLimited
from ._upstream.resolve import Upstream
from ._upstream.stream import AsyncTextStream, TextStream
from ._version import __version__

__all__ = [
    "DEFAULT_PROFILES",
    "AsyncTextStream",
    "BadRequest",
    "CallRecord",
    "ChatRequest",
    "Classification",
    "Engine",
    "EngineClosedError",
    "FirstTokenError",
    "Metrics",
    "Profile",
    "RateLimited",
    "Relay",
    "RelayStart",
    "Settings",
    "SettingsError",
    "TextStream",
    "Timings",
    "Upstream",
    "UpstreamFailure",
    "WarmResult",
    "__version__",
    "parse_chat_request",
]
