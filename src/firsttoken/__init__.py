"""firsttoken: fast Claude-powered web endpoints.

The core engine is framework-free; `firsttoken_django`, `firsttoken_flask` and
`firsttoken_starlette` adapt it to each framework.
"""

from ._version import __version__
from .caching.manager import WarmResult
from .engine import Engine
from .errors import BadRequest, EngineClosedError, FirstTokenError, SettingsError, UpstreamFailure
from .metrics import CallRecord, Metrics
from .profiles import DEFAULT_PROFILES, Profile
from .resilience.governor import RateLimited
from .routing import Classification
from .settings import Settings
from .streams import AsyncTextStream, TextStream
from .timings import Timings
from .upstream import Upstream
from .web import ChatRequest, Relay, RelayStart, parse_chat_request

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
