"""Named call profiles: which model, how many output tokens, how concise (the Anthropic Performance
Tuning guide's steps 3 and 6: Haiku for speed-critical calls, short outputs).

Over 400 lines on purpose: a profile is one frozen value whose 28 fields each carry their one
description (about 100 lines, rendered into the settings reference) and whose checks (about 200
lines) read several fields together (thinking against the model and `max_tokens`, `output` against
every model of the chain), so the fields and their checks stay in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import SettingsError
from ._structured import as_output
from ._tools import as_tools

__all__ = ["DEFAULT_PROFILES", "EFFORTS", "Profile", "hedge_percentile", "model_version", "refuses_prefill"]

Speed = Literal["standard", "fast"]
RateLimitPolicy = Literal["queue", "fallback", "fail"]
CachingMode = Literal["auto", "off", "explicit"]
CacheTtl = Literal["5m", "1h"]
ThinkingDisplay = Literal["omitted", "summarized"]
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# The API's floor for a thinking budget (`ThinkingConfigEnabledParam.budget_tokens`).
MIN_THINKING_BUDGET = 1024
# Claude 4.6 is where adaptive thinking arrived and assistant prefill went (a 400).
ADAPTIVE_SINCE = (4, 6)
# Claude 4.5 is where structured outputs (`output_config.format`, strict tools) arrived.
STRUCTURED_SINCE = (4, 5)

# The newest model of each family that the installed SDK's `ModelParam` lists; aliases (no date)
# so a pinned firsttoken keeps following Anthropic's point releases.
FAST_MODEL = "claude-haiku-5-5"
CHAT_MODEL = "claude-sonnet-5-5"
DEEP_MODEL = "claude-opus-5-5"

# The betas of what `threads` and `compact` turn on (`Profile.context_params`, `_call.py`).
THREADS_BETA = "message-threads-2026-08-12"
COMPACT_BETA = "compact-2026-01-12"
CONTEXT_BETA = "context-management-2025-06-27"
# The API's floor for a compaction trigger (`compact_20260112`'s `trigger.value`).
MIN_COMPACT_TRIGGER = 50_000

CONCISE = "Be concise: answer in as few words as the question needs; use short bullet points, not paragraphs."


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What one kind of call sends; every field can be overridden per call.

    Each field's docstring is its one description, rendered into the settings reference
    (`firsttoken._reference`); a comment above a field says why its default is what it is.
    """

    model: str
    """The model id (`claude-sonnet-5-5`...); required for a new profile."""
    max_tokens: int
    """The output budget: fewer output tokens is the cheapest speed-up there is (the Anthropic
    Performance Tuning guide's step 6, short outputs)."""
    temperature: float | None = None
    """0 to 1; none sends the API's default."""
    speed: Speed | None = None
    """`standard` or `fast` (the API's `speed`), where the model offers it."""
    timeout: float | None = None
    """Seconds for the whole call; none takes the settings' `timeout`."""
    concise: str | None = None
    """Text appended to the system prompt; none sends the system prompt untouched."""
    fallbacks: tuple[str, ...] = ()
    """Models tried in order when this one stays overloaded or times out (the Anthropic
    Performance Tuning guide's error table: 529, add a fallback model)."""
    # Off: once text reached the caller, a failure is the caller's error (a half answer from two
    # models can read oddly).
    continue_on_fallback: bool = False
    """Once text reached the caller, a fallback continues the partial answer (as a prefill, which
    Claude 4.6 and newer refuse) instead of failing."""
    on_rate_limit: RateLimitPolicy = "queue"
    """When the rate-limit budget is spent: `queue` (wait up to `queue_timeout`), `fallback` (the
    next model) or `fail` (429 at once)."""
    # Two seconds: longer than a budget's refill gap under normal load, shorter than a user's patience.
    queue_timeout: float = 2.0
    """Seconds a call waits for the rate-limit budget under `queue`."""
    caching: CachingMode = "auto"
    """`auto`: cache the static prefix and the growing conversation; `explicit`: the prefix only;
    `off`: nothing (your own breakpoints stay)."""
    # 5 minutes: writes cost 1.25x, not 2x; "1h" suits prefixes used less than every 5 minutes.
    cache_ttl: CacheTtl = "5m"
    """`5m` or `1h`: how long a cached prefix lives."""
    prefix_system: str | None = None
    """A static system prompt sent first on every call of the profile, shared by all users and
    warmed by `engine.warm()`."""
    prefix_tools: tuple[Mapping[str, Any], ...] = ()
    """Tool definitions sent first on every call, cached with `prefix_system`."""
    warm: bool = True
    """Warm the profile's prefix at start-up."""
    # A 1h entry rarely lapses.
    keep_warm: bool | None = None
    """Re-warm the prefix before it lapses when that costs less than a miss; none is on for `5m`
    and off for `1h`."""
    # Validated with the settings (`_settings._validate_limits`).
    max_input_tokens: int | None = None
    """Estimated input tokens a browser request on this profile may send (413 past it); none takes
    the settings' `max_input_tokens`."""
    # Off by default: thinking delays the first text token, the one number this library exists to lower.
    thinking: str | int = "off"
    """`off`, `adaptive` or an effort (`low` ... `max`) on Claude 4.6 and newer, or a token budget
    (an int, at least 1024) on older models."""
    # Ignored while thinking is off, so a call can turn thinking off without clearing it.
    thinking_display: ThinkingDisplay | None = None
    """None (the model's default, `omitted` on the newest: an empty block, faster first text) or
    `summarized` to stream the thinking so a page can show it."""
    tools: tuple[Any, ...] = ()
    """Tools the server runs: callables, `firsttoken.tool(...)`s or import paths
    (`myapp.tools:clock`); with any, a call is an agent turn of up to `max_steps` model calls."""
    # 8: a few rounds of tool calls.
    max_steps: int = 8
    """The most model calls an agent turn makes; past it the turn ends and says so
    (`max_steps_reached`)."""
    # 30 s: long for a lookup, short enough that the page does not hang.
    tool_timeout: float = 30.0
    """Seconds one tool call may run (a tool's own `timeout` wins); past it, it is cancelled and the
    model is told so."""
    output: Any = None
    """The answer's shape: a Pydantic model, a dataclass, a JSON schema dict or an import path to one
    (`myapp.schemas:Card`). The API answers JSON that matches it (structured outputs); a stream's
    `partial_objects()` yields it as it fills and `parsed` is the checked object."""
    # Off: the API's threads are a beta, and a browser's chat id already spares it the history.
    threads: bool = False
    """For a browser chat that names a `chat_id`, let the API hold the conversation (the message
    threads beta): each turn sends only its new messages. Off, firsttoken holds it and sends it whole."""
    # Off: a summary loses detail, which a short chat never needs to.
    compact: int | None = None
    """Input tokens (at least 50,000) past which the API summarises the earlier turns (compaction)
    and, on an agent turn, first clears old tool results; none leaves the context as it is."""
    # Off: a hedge is a second request, billed; turning it on is a cost decision (docs/hedging.md).
    hedge_after: float | str | None = None
    """Hedged first tokens: when no token came after this many milliseconds (a number) or this
    percentile of the model's recent TTFT (`"p90"`), send the same request again and keep whichever
    answers first; none: off."""
    # A tenth: past the p90 about a tenth of calls wait, and a hedge never doubles the load.
    hedge_share: float = 0.1
    """The most hedges a profile sends, as a share of its calls (0 to 1)."""
    mcp_servers: tuple[Mapping[str, Any], ...] = ()
    """MCP servers the API calls for this profile (the MCP connector), each `{"type": "url",
    "url": "https://...", "name": ...}` (and its `authorization_token`); the calls send them with
    an `mcp_toolset` each and the `mcp-client-2025-11-20` beta."""

    def __post_init__(self) -> None:
        if isinstance(self.fallbacks, list):
            object.__setattr__(self, "fallbacks", tuple(self.fallbacks))
        _validate(self)
        _validate_resilience(self)
        _validate_caching(self)
        _validate_thinking(self)
        _validate_agent(self)
        _validate_output(self)
        _validate_hedging(self)
        _validate_mcp(self)

    def thinking_params(self) -> dict[str, Any]:
        """The Messages API arguments this profile's thinking fields send (none when it is off)."""
        if self.thinking == "off":
            return {}
        config: dict[str, Any]
        params: dict[str, Any] = {}
        if isinstance(self.thinking, int):
            config = {"type": "enabled", "budget_tokens": self.thinking}
        else:
            config = {"type": "adaptive"}
            if self.thinking != "adaptive":
                params["output_config"] = {"effort": self.thinking}
        if self.thinking_display is not None:
            config["display"] = self.thinking_display
        params["thinking"] = config
        return params

    def context_params(self) -> dict[str, Any]:
        """The `context_management` and `betas` this profile's `compact` sends (none when it is
        off): the API's compaction past `compact` input tokens, and on an agent turn the clearing
        of old tool results past the same size, which runs first and may spare a summary."""
        if self.compact is None:
            return {}
        trigger = {"type": "input_tokens", "value": self.compact}
        edits: list[dict[str, Any]] = []
        betas = [COMPACT_BETA]
        if self.tools:
            edits.append({"type": "clear_tool_uses_20250919", "trigger": trigger})
            betas.append(CONTEXT_BETA)
        edits.append({"type": "compact_20260112", "trigger": trigger})
        return {"context_management": {"edits": edits}, "betas": betas}

    def replace(self, **changes: Any) -> Profile:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: Profile | None, key: str) -> Profile:
        """Build a profile from user config; `key` names it in errors (for example `PROFILES["chat"]`)."""
        if not isinstance(data, Mapping):
            raise SettingsError(key, f"must be a mapping of profile fields, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SettingsError(
                f"{key}[{unknown[0]!r}]", f"unknown profile field; known: {', '.join(sorted(names))}"
            )
        merged = {**(dataclasses.asdict(base) if base else {}), **data}
        missing = sorted(n for n in ("model", "max_tokens") if n not in merged)
        if missing:
            raise SettingsError(f"{key}[{missing[0]!r}]", "is required for a new profile")
        try:
            return cls(**merged)
        except SettingsError as exc:
            raise SettingsError(f"{key}[{exc.key!r}]", exc.message) from None


def _validate(p: Profile) -> None:
    if not isinstance(p.model, str) or not p.model.strip():
        raise SettingsError("model", "must be a non-empty model id such as 'claude-sonnet-5-5'")
    if isinstance(p.max_tokens, bool) or not isinstance(p.max_tokens, int) or p.max_tokens < 1:
        raise SettingsError("max_tokens", f"must be a positive integer, not {p.max_tokens!r}")
    if p.temperature is not None and (
        isinstance(p.temperature, bool)
        or not isinstance(p.temperature, int | float)
        or not 0.0 <= p.temperature <= 1.0
    ):
        raise SettingsError("temperature", f"must be a number from 0 to 1, not {p.temperature!r}")
    if p.speed not in (None, "standard", "fast"):
        raise SettingsError("speed", f"must be 'standard' or 'fast', not {p.speed!r}")
    if p.timeout is not None and (
        isinstance(p.timeout, bool) or not isinstance(p.timeout, int | float) or p.timeout <= 0
    ):
        raise SettingsError("timeout", f"must be a positive number of seconds, not {p.timeout!r}")
    if p.concise is not None and not isinstance(p.concise, str):
        raise SettingsError("concise", f"must be an instruction string or None, not {p.concise!r}")


def _validate_resilience(p: Profile) -> None:
    if not isinstance(p.fallbacks, tuple) or not all(isinstance(m, str) and m.strip() for m in p.fallbacks):
        raise SettingsError("fallbacks", f"must be a list of model ids, not {p.fallbacks!r}")
    if not isinstance(p.continue_on_fallback, bool):
        raise SettingsError("continue_on_fallback", f"must be true or false, not {p.continue_on_fallback!r}")
    if p.on_rate_limit not in ("queue", "fallback", "fail"):
        raise SettingsError(
            "on_rate_limit", f"must be 'queue', 'fallback' or 'fail', not {p.on_rate_limit!r}"
        )
    if (
        isinstance(p.queue_timeout, bool)
        or not isinstance(p.queue_timeout, int | float)
        or p.queue_timeout < 0
    ):
        raise SettingsError(
            "queue_timeout", f"must be a non-negative number of seconds, not {p.queue_timeout!r}"
        )


def _validate_caching(p: Profile) -> None:
    if isinstance(p.prefix_tools, list):
        object.__setattr__(p, "prefix_tools", tuple(p.prefix_tools))
    if p.caching not in ("auto", "off", "explicit"):
        raise SettingsError("caching", f"must be 'auto', 'off' or 'explicit', not {p.caching!r}")
    if p.cache_ttl not in ("5m", "1h"):
        raise SettingsError("cache_ttl", f"must be '5m' or '1h', not {p.cache_ttl!r}")
    if p.prefix_system is not None and (not isinstance(p.prefix_system, str) or not p.prefix_system):
        raise SettingsError("prefix_system", "must be a non-empty system prompt string or None")
    if not isinstance(p.prefix_tools, tuple) or not all(
        isinstance(t, Mapping) and isinstance(t.get("name"), str) and t["name"] for t in p.prefix_tools
    ):
        raise SettingsError("prefix_tools", "must be a list of tool definitions, each with a 'name'")
    if any("cache_control" in t for t in p.prefix_tools):
        raise SettingsError("prefix_tools", "must not carry cache_control; firsttoken marks the prefix's end")
    if not isinstance(p.warm, bool):
        raise SettingsError("warm", f"must be true or false, not {p.warm!r}")
    if p.keep_warm is not None and not isinstance(p.keep_warm, bool):
        raise SettingsError("keep_warm", f"must be true, false or None, not {p.keep_warm!r}")


def _validate_agent(p: Profile) -> None:
    if isinstance(p.tools, str) or not isinstance(p.tools, list | tuple):
        raise SettingsError("tools", f"must be a list of callables or import paths, not {p.tools!r}")
    try:
        object.__setattr__(p, "tools", as_tools(p.tools))
    except (TypeError, ValueError) as exc:
        raise SettingsError("tools", str(exc)) from None
    if isinstance(p.max_steps, bool) or not isinstance(p.max_steps, int) or p.max_steps < 1:
        raise SettingsError("max_steps", f"must be a positive integer, not {p.max_steps!r}")
    if isinstance(p.tool_timeout, bool) or not isinstance(p.tool_timeout, int | float) or p.tool_timeout <= 0:
        raise SettingsError("tool_timeout", f"must be a positive number of seconds, not {p.tool_timeout!r}")
    if not isinstance(p.threads, bool):
        raise SettingsError("threads", f"must be true or false, not {p.threads!r}")
    if p.compact is not None and (
        isinstance(p.compact, bool) or not isinstance(p.compact, int) or p.compact < MIN_COMPACT_TRIGGER
    ):
        raise SettingsError(
            "compact",
            f"must be a number of input tokens, at least {MIN_COMPACT_TRIGGER}, or None; not {p.compact!r}",
        )


def _validate_output(p: Profile) -> None:
    try:
        object.__setattr__(p, "output", as_output(p.output))
    except (TypeError, ValueError) as exc:
        raise SettingsError("output", str(exc)) from None
    # The API answers older models' structured outputs with a 400: refused here, at start-up.
    older = [
        m for m in (p.model, *p.fallbacks) if (v := model_version(m)) is not None and v < STRUCTURED_SINCE
    ]
    if p.output is not None and older:
        raise SettingsError(
            "output", f"{older[0]} has no structured outputs (Claude 4.5 and newer); pick a newer model"
        )


def hedge_percentile(after: float | str | None) -> float | None:
    """The percentile a `hedge_after` of the `"p90"` form names (90.0), None for milliseconds or off."""
    if not isinstance(after, str):
        return None
    return float(after[1:])


def _validate_hedging(p: Profile) -> None:
    after = p.hedge_after
    if isinstance(after, str):
        try:
            ok = after.startswith("p") and 0 < float(after[1:]) < 100
        except ValueError:
            ok = False
        if not ok:
            raise SettingsError(
                "hedge_after",
                f"must be milliseconds or a percentile such as 'p90' (above p0, below p100), not {after!r}",
            )
    elif after is not None and (isinstance(after, bool) or not isinstance(after, int | float) or after <= 0):
        raise SettingsError(
            "hedge_after",
            f"must be a positive number of milliseconds, a percentile such as 'p90' or None, not {after!r}",
        )
    share = p.hedge_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise SettingsError("hedge_share", f"must be a share of calls above 0 and at most 1, not {share!r}")


def _validate_mcp(p: Profile) -> None:
    if isinstance(p.mcp_servers, list):
        object.__setattr__(p, "mcp_servers", tuple(p.mcp_servers))
    if not isinstance(p.mcp_servers, tuple):
        raise SettingsError("mcp_servers", f"must be a list of MCP servers, not {p.mcp_servers!r}")
    names: list[str] = []
    for i, server in enumerate(p.mcp_servers):
        key = f"mcp_servers[{i}]"
        if not isinstance(server, Mapping) or server.get("type") != "url":
            raise SettingsError(
                key, f"must be an MCP server {{'type': 'url', 'url', 'name'}}, not {server!r}"
            )
        name, url = server.get("name"), server.get("url")
        if not isinstance(name, str) or not name or name in names:
            raise SettingsError(key, f"needs a 'name' no other server of the profile has, not {name!r}")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise SettingsError(key, "needs a 'url' starting with https://")
        names.append(name)


def model_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Claude model id, any naming generation; None for an id we cannot read.

    `claude-sonnet-4-5-20250929` is (4, 5), `claude-opus-4-6` (4, 6), `claude-sonnet-4-20250514`
    (4, 0): a date is not a minor version. `claude-3-5-haiku-latest` is (3, 5).
    """
    numbers = [int(part) for part in model.split("-") if part.isdigit() and len(part) < 8]
    if not model.startswith("claude-") or not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def refuses_prefill(model: str) -> bool:
    """Whether the API answers an assistant-message prefill to `model` with a 400 (4.6 and newer)."""
    version = model_version(model)
    return version is not None and version >= ADAPTIVE_SINCE


def _validate_thinking(p: Profile) -> None:
    thinking, newer = p.thinking, refuses_prefill(p.model)
    if isinstance(thinking, bool) or not isinstance(thinking, str | int):
        raise SettingsError(
            "thinking", f"must be 'off', 'adaptive', an effort or a token budget, not {thinking!r}"
        )
    if isinstance(thinking, int):
        if newer:
            raise SettingsError(
                "thinking",
                f"{p.model} takes adaptive thinking ('adaptive' or an effort: {', '.join(EFFORTS)}); "
                "budgeted thinking is deprecated on Claude 4.6 and newer",
            )
        if thinking < MIN_THINKING_BUDGET or thinking >= p.max_tokens:
            raise SettingsError(
                "thinking",
                f"a thinking budget must be at least {MIN_THINKING_BUDGET} tokens and less than "
                f"max_tokens ({p.max_tokens}), not {thinking}",
            )
    elif thinking not in ("off", "adaptive", *EFFORTS):
        raise SettingsError(
            "thinking",
            f"must be 'off', 'adaptive', one of {', '.join(EFFORTS)} or a token budget, not {thinking!r}",
        )
    elif thinking != "off" and model_version(p.model) is not None and not newer:
        raise SettingsError(
            "thinking",
            f"{p.model} has no adaptive thinking (Claude 4.6 and newer); give a token budget instead",
        )
    if p.thinking_display not in (None, "omitted", "summarized"):
        raise SettingsError(
            "thinking_display", f"must be 'omitted' or 'summarized', not {p.thinking_display!r}"
        )
    # A continuation is an assistant prefill, which these models refuse with a 400: the switch
    # would fail exactly when it is needed. Asking them to "continue" in a user turn instead gives
    # no guarantee the words join up (they may restart or recap), so the setting is refused.
    refusing = [m for m in p.fallbacks if refuses_prefill(m)]
    if p.continue_on_fallback and refusing:
        raise SettingsError(
            "continue_on_fallback",
            f"cannot continue an answer on {refusing[0]}: Claude 4.6 and newer refuse assistant "
            "prefill, which a continuation needs; use older fallbacks or leave it off",
        )


DEFAULT_PROFILES: Mapping[str, Profile] = {
    # Classification, extraction, routing: the Anthropic Performance Tuning guide's step 3, Haiku, with a
    # budget to match.
    "fast": Profile(model=FAST_MODEL, max_tokens=256, concise=CONCISE),
    "chat": Profile(model=CHAT_MODEL, max_tokens=1024),
    "deep": Profile(model=DEEP_MODEL, max_tokens=4096),
}
