"""What each `Settings` and `Profile` field is for, in a user's words, and the tables made from it.

The one source of the settings reference: the docs site's page (`docs/reference/settings.md`, filled
in by `docs/_hooks.py` at build time) and the README's table (`make readme`) are both rendered here
from these descriptions and the dataclasses' own fields (names, types, defaults). A field without a
description, or a description without a field, fails `tests/docs/test_settings_reference.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._profiles import DEFAULT_PROFILES, Profile
from ._settings import Settings

__all__ = [
    "PROFILE_FIELDS",
    "SETTINGS_FIELDS",
    "default_profiles_table",
    "profile_table",
    "readme_table",
    "settings_table",
]

SETTINGS_FIELDS: Mapping[str, str] = {
    "api_key": "The Anthropic API key. Never logged, never in a `repr`, an error or a metric.",
    "base_url": "Any Messages-API endpoint instead of Anthropic's, such as a `firsttoken emulate` server.",
    "emulator": "`auto`: with no key and no base URL the embedded emulator answers, in development "
    "only (elsewhere the engine refuses to start); `off`: always refuse; `always`: the emulator even "
    "with a key.",
    "development": "Development asked for: lets `emulator: auto` answer with no key, turns off the "
    "per-client budgets and adds `Server-Timing` rows. Django's `DEBUG`, Flask's debug mode and a "
    "pytest run set it too.",
    "emulator_time_scale": "The embedded emulator's delays: 1 reproduces the real models' latency, "
    "0 answers at once.",
    "timeout": "Seconds for a whole call (the guide's advice for long generations); a profile can "
    "set its own.",
    "connect_timeout": "Seconds to open a connection to the API.",
    "max_retries": "How many times the SDK retries a 429, 529 or 5xx itself, with backoff, before "
    "a fallback model is tried.",
    "max_connections": "The shared connection pool's size, per process.",
    "max_keepalive_connections": "Idle connections kept open in the pool.",
    "profiles": "Named call profiles (model, output budget, caching, fallbacks, thinking...), each "
    "a mapping of profile fields merged over the default profile of the same name.",
    "default_profile": "The profile of a call that names none.",
    "heartbeat_interval": "Seconds of silence on a browser stream before a `: ping` heartbeat, so "
    "proxies and load balancers keep it open.",
    "gather_concurrency": "Calls `engine.gather()` runs at once.",
    "metrics_window": "Calls remembered per model and profile for the rolling percentiles.",
    "advisor": "Log the guide's error-table advice (slow uncached prompts, Opus for tiny answers, "
    "timeouts, repeated 529s) on the `firsttoken.advisor` logger, each cause once.",
    "breaker_failures": "Overloads of a model within `breaker_window` that put it in cooldown.",
    "breaker_window": "Seconds over which `breaker_failures` are counted.",
    "breaker_cooldown": "Seconds a model in cooldown is skipped for its fallbacks.",
    "classify_cache_ttl": "Seconds `engine.classify()` answers a repeated input from its cache.",
    "classify_cache_size": "Inputs `engine.classify()` keeps in its cache.",
    "cache_min_tokens": "Per model family, the minimum cacheable prompt length, overriding the "
    'built-in table (`{"sonnet": 1024}`).',
    "pricing": "Per model family, the input price in $ per million tokens used for the cost "
    "estimates of prompt caching, overriding the built-in table.",
    "cache_debug": "Ask the API why a continuing conversation missed the prompt cache, and log it.",
    "warm_lock_dir": "Where the one-warmer-per-machine lock files live; none is `<tempdir>/firsttoken-warm`.",
    "redis_url": "Share state across workers and machines through Redis (`redis://`, `rediss://`, "
    "`unix://`, `redis+sentinel://`, `redis+cluster://`); none keeps it in process memory. Never "
    "printed.",
    "redis_prefix": "The namespace of every key firsttoken writes to Redis.",
    "redis_timeout": "Seconds each Redis step may take before the process carries on with its local state.",
    "response_cache": "Answer a repeated temperature-0 `create()` from the store.",
    "tenant": "Keeps one tenant's cached responses from another's; a call's `tenant=` overrides it.",
    "browser_profiles": "The profiles a browser may name; none means those of `fast`, `chat` and "
    "`agent` that exist (so `deep` stays server-only).",
    "max_body_bytes": "The largest chat body read from a browser (413 past it; no more is read).",
    "max_messages": "Messages per browser request (413 past it).",
    "max_input_tokens": "Estimated input tokens per browser request (413 past it), unless the "
    "profile sets its own.",
    "client_requests_per_minute": "Requests per client per minute (429 with `Retry-After`); 0 is off; "
    "none is 30 in production and off in development.",
    "client_tokens_per_minute": "Estimated input tokens per client per minute (429 with "
    "`Retry-After`); 0 is off; none is 300,000 in production and off in development.",
    "coalesce_window": "Text deltas that arrived while a write was pending always go out as one event; a "
    "window (seconds, at most 0.1) also holds later deltas that long after each write. 0: nothing "
    "held; `None`: one event per upstream delta. The first token is never held.",
    "tool_threads": "Threads that run agent turns' sync tools, shared by the process's turns.",
    "resumable": "Write each answer to a Redis Stream as it is sent, so a dropped connection resumes "
    "from any worker. `None`: on exactly when `redis_url` is set.",
    "resume_grace": "Seconds an answer goes on with nobody reading it before its upstream call is "
    "cancelled (a phone in a tunnel comes back; a user who left is not billed for long).",
    "resume_ttl": "Seconds a stream stays resumable, and its Redis keys live, after its last event.",
    "warm_up": "When a server starts serving, run the SDK's paths once and open the upstream "
    "connection with a free `GET /v1/models`; a failure is logged, never raised.",
    "warm_up_timeout": "The longest the start-up warm-up may take, in seconds.",
    "stay_warm": "Seconds after its last call that a worker keeps one upstream connection open "
    "(0: off); past it the next call connects again.",
    "stay_warm_interval": "While staying warm, a free `GET /v1/models` whenever the connection has "
    "been idle this many seconds.",
    "warm_ahead": "Serve `POST /api/warm`: a `max_tokens: 0` pre-warm of the conversation so far "
    "while the user types.",
    "warm_requests_per_minute": "Warms per client per minute (their tokens count on the client's "
    "token budget). `None`: 10 in production, off in development.",
}

PROFILE_FIELDS: Mapping[str, str] = {
    "model": "The model id (`claude-sonnet-5-5`...); required for a new profile.",
    "max_tokens": "The output budget: fewer output tokens is the cheapest speed-up there is.",
    "temperature": "0 to 1; none sends the API's default.",
    "speed": "`standard` or `fast` (the API's `speed`), where the model offers it.",
    "timeout": "Seconds for the whole call; none takes the settings' `timeout`.",
    "concise": "Text appended to the system prompt; none sends the system prompt untouched.",
    "fallbacks": "Models tried in order when this one stays overloaded or times out.",
    "continue_on_fallback": "Once text reached the caller, a fallback continues the partial answer "
    "(as a prefill, which Claude 4.6 and newer refuse) instead of failing.",
    "on_rate_limit": "When the rate-limit budget is spent: `queue` (wait up to `queue_timeout`), "
    "`fallback` (the next model) or `fail` (429 at once).",
    "queue_timeout": "Seconds a call waits for the rate-limit budget under `queue`.",
    "caching": "`auto`: cache the static prefix and the growing conversation; `explicit`: the "
    "prefix only; `off`: nothing (your own breakpoints stay).",
    "cache_ttl": "`5m` or `1h`: how long a cached prefix lives.",
    "prefix_system": "A static system prompt sent first on every call of the profile, shared by all "
    "users and warmed by `engine.warm()`.",
    "prefix_tools": "Tool definitions sent first on every call, cached with `prefix_system`.",
    "warm": "Warm the profile's prefix at start-up.",
    "keep_warm": "Re-warm the prefix before it lapses when that costs less than a miss; none is on "
    "for `5m` and off for `1h`.",
    "max_input_tokens": "Estimated input tokens a browser request on this profile may send; none "
    "takes the settings' `max_input_tokens`.",
    "thinking": "`off`, `adaptive` or an effort (`low` ... `max`) on Claude 4.6 and newer, or a "
    "token budget (an int, at least 1024) on older models.",
    "thinking_display": "None (the model's default, `omitted` on the newest) or `summarized` to "
    "stream the thinking.",
    "tools": "Tools the server runs: callables, `firsttoken.tool(...)`s or import paths "
    "(`myapp.tools:clock`); with any, a call is an agent turn of up to `max_steps` model calls.",
    "max_steps": "The most model calls an agent turn makes; past it the turn ends and says so "
    "(`max_steps_reached`).",
    "tool_timeout": "Seconds one tool call may run (a tool's own `timeout` wins); past it, it is "
    "cancelled and the model is told so.",
}

# Settings whose environment variable is not FIRSTTOKEN_<NAME> (that one works too).
_ENV_NAMES = {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}


def _default(f: dataclasses.Field[Any], instance: object) -> str:
    value = getattr(instance, f.name)
    if f.name == "profiles":
        return ", ".join(f"`{name}`" for name in value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Mapping | tuple) and not value:
        return "empty"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"`{value:,}`"
    return f"`{value}`"


def _type(f: dataclasses.Field[Any]) -> str:
    text = str(f.type)
    # The Literal aliases read better as the values they allow; "or" rather than "|", which would
    # need escaping inside a table cell, differently in GitHub's Markdown and in MkDocs'.
    aliases = r"\b(EmulatorMode|Speed|RateLimitPolicy|CachingMode|CacheTtl|ThinkingDisplay)\b"
    return re.sub(aliases, "str", text).replace(" | ", " or ")


def _rows(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = list(row)
        if any("|" in cell for cell in cells):
            raise ValueError(f"a table cell with a pipe, which would split it: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _described(cls: type, docs: Mapping[str, str]) -> list[tuple[dataclasses.Field[Any], str]]:
    fields = dataclasses.fields(cls)
    missing = [f.name for f in fields if f.name not in docs]
    extra = sorted(set(docs) - {f.name for f in fields})
    if missing or extra:
        raise LookupError(
            f"{cls.__name__} fields without a description in firsttoken/_reference.py: {missing}; "
            f"descriptions of no field: {extra}"
        )
    return [(f, docs[f.name]) for f in fields]


def settings_table() -> str:
    """Every `Settings` field: its environment variable, type, default and purpose."""
    defaults = Settings()
    rows = []
    for f, doc in _described(Settings, SETTINGS_FIELDS):
        env = _ENV_NAMES.get(f.name, f"FIRSTTOKEN_{f.name.upper()}")
        rows.append((f"`{f.name}`", f"`{env}`", f"`{_type(f)}`", _default(f, defaults), doc))
    return _rows(("setting", "environment", "type", "default", "what it does"), rows)


def profile_table() -> str:
    """Every `Profile` field: its type, default and purpose (`model` and `max_tokens` have none)."""
    base = DEFAULT_PROFILES["chat"]
    rows = []
    for f, doc in _described(Profile, PROFILE_FIELDS):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = "per profile" if required else _default(f, base)
        rows.append((f"`{f.name}`", f"`{_type(f)}`", default, doc))
    return _rows(("profile field", "type", "default", "what it does"), rows)


def default_profiles_table() -> str:
    """The built-in profiles' models and output budgets."""
    rows = [
        (f"`{name}`", f"`{p.model}`", f"`{p.max_tokens}`", "yes" if p.concise else "no")
        for name, p in DEFAULT_PROFILES.items()
    ]
    return _rows(("profile", "model", "max_tokens", "concise"), rows)


def readme_table() -> str:
    """The README's shorter table: setting, default and purpose."""
    defaults = Settings()
    rows = [(f"`{f.name}`", _default(f, defaults), doc) for f, doc in _described(Settings, SETTINGS_FIELDS)]
    return _rows(("setting", "default", "what it does"), rows)
