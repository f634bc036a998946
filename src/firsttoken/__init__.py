"""firsttoken: fast Claude-powered web endpoints.

The core engine is framework-free; `firsttoken_django`, `firsttoken_flask` and
`firsttoken_starlette` adapt it to each framework, using only the names below.
"""

from ._agent import AgentStream, AsyncAgentStream
from ._bench import BENCH_DEFAULTS, BenchReport, BenchRow, run_latency_bench
from ._caching.ahead import AheadResult
from ._caching.manager import WarmResult
from ._chat import ChatRequest, accept_chat, parse_chat_request
from ._engine import Engine
from ._errors import (
    BadRequest,
    EngineClosedError,
    FirstTokenError,
    Refused,
    SettingsError,
    UpstreamFailure,
)
from ._events import (
    ApprovalRequest,
    Citation,
    Compaction,
    Finished,
    Reset,
    StepFinish,
    StepStart,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
    ToolOutput,
    ToolResult,
)
from ._framework import FrameworkNotInstalled
from ._limits import Limits
from ._metrics import CallRecord, Metrics
from ._profiles import DEFAULT_PROFILES, Profile
from ._relay import EngineHandle, Relay, ResumedStream
from ._review import Finding, review_settings
from ._routing import Classification
from ._settings import Settings
from ._statuses import RelayStart, refusal
from ._structured import OutputInvalid
from ._telemetry import collect_calls, server_timing
from ._timings import Timings
from ._tools import Approval, Tool, ToolContext, tool
from ._upstream._async.calls import AsyncTextStream
from ._upstream._sync.calls import TextStream
from ._upstream.governor import RateLimited
from ._upstream.resolve import Upstream
from ._upstream.warmup import WarmUpReport
from ._version import __version__

__all__ = [
    "BENCH_DEFAULTS",
    "DEFAULT_PROFILES",
    "AgentStream",
    "AheadResult",
    "Approval",
    "ApprovalRequest",
    "AsyncAgentStream",
    "AsyncTextStream",
    "BadRequest",
    "BenchReport",
    "BenchRow",
    "CallRecord",
    "ChatRequest",
    "Citation",
    "Classification",
    "Compaction",
    "Engine",
    "EngineClosedError",
    "EngineHandle",
    "Finding",
    "Finished",
    "FirstTokenError",
    "FrameworkNotInstalled",
    "Limits",
    "Metrics",
    "OutputInvalid",
    "Profile",
    "RateLimited",
    "Refused",
    "Relay",
    "RelayStart",
    "Reset",
    "ResumedStream",
    "Settings",
    "SettingsError",
    "StepFinish",
    "StepStart",
    "StreamEvent",
    "TextDelta",
    "TextStream",
    "ThinkingDelta",
    "ThinkingEnd",
    "ThinkingStart",
    "Timings",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolInputDelta",
    "ToolInputStart",
    "ToolOutput",
    "ToolResult",
    "Upstream",
    "UpstreamFailure",
    "WarmResult",
    "WarmUpReport",
    "__version__",
    "accept_chat",
    "collect_calls",
    "parse_chat_request",
    "refusal",
    "review_settings",
    "run_latency_bench",
    "server_timing",
    "tool",
]
