"""One typed, validated settings object that every adapter builds from its framework's own config.

Longer than this package's other modules on purpose: each of the 55 fields carries its one
description (about 200 lines), and a field's type, description, check and parsing from the
environment are read together here.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.util
import json
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ._errors import SettingsError
from ._pricing import validate_family_table
from ._profiles import DEFAULT_PROFILES, Profile
from ._redact import shown

__all__ = ["AsyncHttpClient", "EmulatorMode", "Settings"]

EmulatorMode = Literal["auto", "off", "always"]
AsyncHttpClient = Literal["httpx", "aiohttp"]

KeyNamer = Callable[[str], str]

# The AI SDK majors whose client `_wire.AISDKFormat` speaks to: their UI message stream is
# protocol v1 alike, but 6 added the tool approval parts and 7 `reset-step`, and a client refuses
# a part it does not know.
AISDK_PROTOCOLS = ("5", "6", "7")

# What redis-py connects to from a URL, plus the two forms it has classes but no URL scheme for.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")


# What a browser may name by default (the contract's list), those of them that exist: `deep`
# (Opus, 4,096 output tokens) is for server code.
DEFAULT_BROWSER_PROFILES = ("fast", "chat", "agent", "extract")
# The per-client budgets of a production server: a request every two seconds, and ten turns of a
# long conversation. Off in development, where one developer (or a test suite) is every client.
DEFAULT_CLIENT_REQUESTS = 30
DEFAULT_CLIENT_TOKENS = 300_000
# A typing burst every six seconds: more than a person starts, fewer than a script would send.
DEFAULT_WARM_REQUESTS = 10


def _plain(name: str) -> str:
    return name


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # a parent package that fails to import, or an import hook that refuses
        return False


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything an `Engine` needs. Build it directly, `from_mapping()` or `from_env()`.

    Each field's docstring is its one description: the settings reference page and the README's
    table are rendered from them (`firsttoken._reference`); a field without one fails
    `tests/docs/test_settings_reference.py`. A comment above a field says why its default is what
    it is, where the docstring does not.
    """

    # Out of repr (and errors name the key, never the value).
    api_key: str | None = field(default=None, repr=False)
    """The Anthropic API key. Never logged, never in a `repr`, an error or a metric."""
    # Out of repr too: a proxy's URL can carry credentials (`http://user:pass@host`).
    base_url: str | None = field(default=None, repr=False)
    """Any Messages-API endpoint instead of Anthropic's, such as a `firsttoken emulate` server."""
    # "auto" refuses outside development: a production server with a typo in its key variable must
    # not serve simulated answers with status 200.
    emulator: EmulatorMode = "auto"
    """`auto`: with no key and no base URL the embedded emulator answers, in development only
    (elsewhere the engine refuses to start, naming `ANTHROPIC_API_KEY`); `off`: always refuse;
    `always`: the emulator even with a key."""
    development: bool = False
    """Development asked for: lets `emulator: auto` answer with no key, turns off the per-client
    budgets and adds `Server-Timing` rows. Django's `DEBUG`, Flask's debug mode, `make demo` and a
    pytest run set it too."""
    emulator_time_scale: float = 1.0
    """The embedded emulator's delays: 1 reproduces the latency table of the Anthropic Performance
    Tuning guide, 0 answers at once (for throughput runs)."""
    # The SDK's default of 60 s times long generations out (the Anthropic Performance Tuning guide's
    # error table, "Timeouts").
    timeout: float = 120.0
    """Seconds for a whole call (the Anthropic Performance Tuning guide's advice for long
    generations); a profile can set its own."""
    connect_timeout: float = 5.0
    """Seconds to open a connection to the API."""
    max_retries: int = 2
    """How many times the SDK retries a 429, 529 or 5xx itself, with backoff, before a fallback
    model is tried."""
    # Sized for many concurrent streams per worker.
    max_connections: int = 1000
    """The shared connection pool's size, per process (one pool per process: the Anthropic
    Performance Tuning guide's step 4, one shared client)."""
    max_keepalive_connections: int = 100
    """Idle connections kept open in the pool."""
    # httpx: the SDK's default, and every test runs on it; aiohttp is the SDK's own option.
    async_http_client: AsyncHttpClient = "httpx"
    """The async clients' HTTP transport: `httpx` (the SDK's default) or `aiohttp` (the SDK's
    `DefaultAioHttpClient`, with the extra `pip install 'firsttoken[aiohttp]'`; see the deployment
    page for what it changes). Sync code always uses httpx."""
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    """Named call profiles (model, output budget, caching, fallbacks, thinking...), each a mapping
    of profile fields merged over the default profile of the same name."""
    default_profile: str = "chat"
    """The profile of a call that names none."""
    heartbeat_interval: float = 15.0
    """Seconds of silence on a browser stream before a `: ping` heartbeat, so proxies and load
    balancers keep it open."""
    # At most 0.1 s, so the added gap between tokens stays below what a reader notices.
    coalesce_window: float | None = field(default=0.0, metadata={"none_words": ("none", "off")})
    """Text deltas that arrived while a write was pending always go out as one event; a window
    (seconds, at most 0.1) also holds later deltas that long after each write. 0: nothing held;
    `None` (`off` in the environment): one event per upstream delta. The first token is never
    held."""
    # The newest: its client takes every part; an app on an older `ai` names its major.
    aisdk_protocol: str = "7"
    """The major version of the Vercel AI SDK client (`ai` on npm) that `?protocol=ai-sdk` speaks
    to: `5`, `6` or `7`. 6 and 7 get tool approvals as `tool-approval-request`, 7 an answer that
    restarts on a fallback model as `reset-step`; 5 gets both as `data-*` parts."""
    # So a long list cannot flood the rate limit.
    gather_concurrency: int = 8
    """Calls `engine.gather()` runs at once (the Anthropic Performance Tuning guide's step 5,
    parallel calls)."""
    # 16 lets a few turns run their tools at once without a slow tool taking the server's threads.
    tool_threads: int = 16
    """Threads that run agent turns' sync tools, shared by the process's turns."""
    metrics_window: int = 1024
    """Calls remembered per model and profile for the rolling percentiles."""
    advisor: bool = True
    """Log the advice of the Anthropic Performance Tuning guide's error table (slow uncached
    prompts, Opus for tiny answers, timeouts, repeated 529s) on the `firsttoken.advisor` logger,
    each cause once."""
    # Five in 30 s is past a blip; 30 s is about how long a capacity dip lasts.
    breaker_failures: int = 5
    """Overloads of a model within `breaker_window` that put it in cooldown."""
    breaker_window: float = 30.0
    """Seconds over which `breaker_failures` are counted."""
    breaker_cooldown: float = 30.0
    """Seconds a model in cooldown is skipped for its fallbacks."""
    classify_cache_ttl: float = 300.0
    """Seconds `engine.classify()` answers a repeated input from its cache."""
    classify_cache_size: int = 1024
    """Inputs `engine.classify()` keeps in its cache."""
    # Documented minimums and prices change between models, hence overrides.
    cache_min_tokens: Mapping[str, int] = field(default_factory=dict)
    """Per model family, the minimum cacheable prompt length, overriding the built-in table
    (`{"sonnet": 1024}`)."""
    pricing: Mapping[str, float] = field(default_factory=dict)
    """Per model family, the input price in $ per million tokens used for the cost estimates
    (prompt caching's, each answer's `cost_usd`), overriding the built-in table."""
    # Off: it adds a field to every call.
    cache_debug: bool = False
    """Ask the API why a continuing conversation missed the prompt cache, and log it."""
    warm_lock_dir: str | None = None
    """Where the one-warmer-per-machine lock files live; none is `<tempdir>/firsttoken-warm`."""
    # The URL may hold a password: out of repr, and errors never echo it.
    redis_url: str | None = field(default=None, repr=False)
    """Share state across workers and machines through Redis (`redis://`, `rediss://`, `unix://`,
    `redis+sentinel://`, `redis+cluster://`); none keeps it in process memory. Never printed."""
    redis_prefix: str = "firsttoken:"
    """The namespace of every key firsttoken writes to Redis."""
    # 50 ms is far above a loopback or same-zone round trip and far below what a user notices.
    redis_timeout: float = 0.05
    """Seconds each Redis step may take before the process carries on with its local state."""
    response_cache: bool = False
    """Answer a repeated temperature-0 `create()` from the store (keyed by API key, base URL,
    tenant and request)."""
    tenant: str | None = None
    """Keeps one tenant's cached responses from another's; a call's `tenant=` overrides it."""
    # The limits on what a browser may send (_limits.py): each refusal is answered before anything
    # goes upstream.
    browser_profiles: tuple[str, ...] | None = None
    """The profiles a browser may name; none means those of `fast`, `chat`, `agent` and `extract` that exist
    (so `deep`, Opus with 4,096 output tokens, stays server-only). A list names them all, each must
    exist."""
    # 256 KiB: about 64k tokens of text by the 4-characters rule, far more than a chat turn needs.
    max_body_bytes: int = 256 * 1024
    """The largest chat body read from a browser (413 past it; no more is read)."""
    # A long conversation is a few dozen turns.
    max_messages: int = 100
    """Messages per browser request (413 past it)."""
    max_input_tokens: int = 32_000
    """Estimated input tokens per browser request (413 past it), unless the profile sets its
    own."""
    # Attachments (_attachments.py): a conversation resends its earlier files, so the per-request
    # figures hold the whole conversation's. 5 MiB is the API's own limit for one image.
    max_attachments: int = 10
    """Images and PDFs per browser request, earlier turns' included (413 past it); 0 refuses every
    attachment."""
    max_attachment_bytes: int = 5 * 1024 * 1024
    """The largest image or PDF a browser may attach, in bytes as decoded (413 past it)."""
    # 10 MiB of files is 13.3 MiB of base64: what the adapters read past `max_body_bytes` at most.
    max_request_attachment_bytes: int = 10 * 1024 * 1024
    """All the files of one browser request together, in bytes as decoded (413 past it). The body
    read may be this much larger than `max_body_bytes` (as base64) when attachments are on."""
    # Off: it keeps users' files in the operator's Anthropic organisation for a day (_uploads.py).
    upload_attachments: bool = False
    """Upload each attached file once through the Files API (beta `files-api-2025-04-14`) after the
    turn that sends it, and send it by `file_id` on later turns instead of its bytes; the mapping
    lives in the state backend (Redis across workers). Files expire after a day."""
    client_requests_per_minute: int | None = None
    """Requests per client (an IP, a user id: what the app says identifies one) per minute, shared
    across workers through Redis when it is set (429 with `Retry-After`); 0 is off; none is 30 in
    production and off in development."""
    client_tokens_per_minute: int | None = None
    """Estimated input tokens per client per minute (429 with `Retry-After`); 0 is off; none is
    300,000 in production and off in development."""
    # Without Redis there is nowhere shared to resume from.
    resumable: bool | None = None
    """Write each answer to a Redis Stream as it is sent, so a dropped connection resumes from any
    worker. `None`: on exactly when `redis_url` is set."""
    resume_grace: float = 5.0
    """Seconds an answer goes on with nobody reading it before its upstream call is cancelled (a
    phone in a tunnel comes back within seconds; a user who left is not billed for long)."""
    # Long enough for a reconnect after a deploy, short enough that Redis holds little.
    resume_ttl: float = 600.0
    """Seconds a stream stays resumable, and its Redis keys live, after its last event."""
    # A day: the conversation a user left for lunch or a meeting is there when they come back.
    chat_ttl: float = 86_400.0
    """Seconds a held chat (a body's `chat_id`) lives after its last turn, in this process's
    memory or in Redis; after that the same `chat_id` starts a new conversation."""
    # Warming: _upstream/warmup.py and _caching/ahead.py; docs/warming.md.
    warm_up: bool = True
    """When a server starts serving, run the SDK's paths once and open the upstream connection
    with a free `GET /v1/models`; a failure is logged, never raised."""
    warm_up_timeout: float = 3.0
    """The longest the start-up warm-up may take, in seconds."""
    gc_freeze: bool = True
    """After warm-up, leave what the process has loaded out of the garbage collector's full passes
    (`gc.freeze()`), which otherwise stop every stream of the process for about 100 ms."""
    stay_warm: float = 600.0
    """Seconds after its last call that a worker keeps one upstream connection open (0: off); past
    it the next call connects again."""
    stay_warm_interval: float = 20.0
    """While staying warm, a free `GET /v1/models` whenever the connection has been idle this many
    seconds."""
    warm_ahead: bool = True
    """Serve `POST /api/warm`: a `max_tokens: 0` pre-warm of the conversation so far while the user
    types."""
    warm_requests_per_minute: int | None = None
    """Warms per client per minute (on their own bucket; their tokens count on the client's token
    budget). `None`: 10 in production, off in development."""

    def __post_init__(self) -> None:
        self._validate(_plain)

    def _validate(self, name: KeyNamer) -> None:
        def positive(key: str, value: object, *, zero: bool = False) -> None:
            integer = _bare(_field_types()[key]) is int
            kinds = (int,) if integer else (int, float)
            ok = isinstance(value, kinds) and not isinstance(value, bool)
            if not ok or (value < 0 if zero else value <= 0):  # type: ignore[operator]
                what = "integer" if integer else "number"
                raise SettingsError(
                    name(key),
                    f"must be a {'non-negative' if zero else 'positive'} {what}, not {shown(value)}",
                )

        for key, hint in _field_types().items():
            value = getattr(self, key)
            if _bare(hint) is bool and not (isinstance(value, bool) or (value is None and hint is not bool)):
                allowed = "true or false" if hint is bool else "true, false or None"
                raise SettingsError(name(key), f"must be {allowed}, not {shown(value)}")
        for key in ("api_key", "base_url"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                # The value itself is never echoed: it may be a secret.
                raise SettingsError(name(key), "must be a non-empty string or None")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(
                name("base_url"), f"must start with http:// or https://, not {shown(self.base_url)}"
            )
        if self.emulator not in get_args(EmulatorMode):
            raise SettingsError(
                name("emulator"), f"must be one of auto, off, always, not {shown(self.emulator)}"
            )
        if self.async_http_client not in get_args(AsyncHttpClient):
            raise SettingsError(
                name("async_http_client"), f"must be httpx or aiohttp, not {shown(self.async_http_client)}"
            )
        if self.async_http_client == "aiohttp" and not _installed("aiohttp"):
            raise SettingsError(
                name("async_http_client"), "needs the aiohttp package: pip install 'firsttoken[aiohttp]'"
            )
        positive("emulator_time_scale", self.emulator_time_scale, zero=True)
        positive("timeout", self.timeout)
        positive("connect_timeout", self.connect_timeout)
        positive("max_retries", self.max_retries, zero=True)
        positive("max_connections", self.max_connections)
        positive("max_keepalive_connections", self.max_keepalive_connections, zero=True)
        positive("heartbeat_interval", self.heartbeat_interval)
        _validate_coalescing(self.coalesce_window, name)
        if self.aisdk_protocol not in AISDK_PROTOCOLS:
            raise SettingsError(
                name("aisdk_protocol"),
                f"must be one of {', '.join(AISDK_PROTOCOLS)} (the `ai` package's major version), "
                f"not {shown(self.aisdk_protocol)}",
            )
        positive("gather_concurrency", self.gather_concurrency)
        positive("tool_threads", self.tool_threads)
        positive("metrics_window", self.metrics_window)
        positive("breaker_failures", self.breaker_failures)
        positive("breaker_window", self.breaker_window)
        positive("breaker_cooldown", self.breaker_cooldown, zero=True)
        positive("classify_cache_ttl", self.classify_cache_ttl, zero=True)
        positive("classify_cache_size", self.classify_cache_size, zero=True)
        _validate_caching(self, name)
        _validate_state(self, name)
        _validate_limits(self, name, positive)
        positive("resume_grace", self.resume_grace)
        positive("resume_ttl", self.resume_ttl)
        positive("chat_ttl", self.chat_ttl)
        if self.resumable and self.redis_url is None:
            raise SettingsError(name("resumable"), "needs redis_url: a stream is resumed from Redis")
        _validate_warming(self, name, positive)
        if not isinstance(self.profiles, Mapping) or not all(
            isinstance(p, Profile) for p in self.profiles.values()
        ):
            raise SettingsError(name("profiles"), "must map profile names to Profile objects")
        for browser in self.browser_profiles or ():
            if browser not in self.profiles:
                raise SettingsError(
                    name("browser_profiles"),
                    f"names no profile: {shown(browser)}; profiles are {', '.join(sorted(self.profiles))}",
                )
        if self.default_profile not in self.profiles:
            raise SettingsError(
                name("default_profile"),
                f"names no profile: {shown(self.default_profile)}; "
                f"profiles are {', '.join(sorted(self.profiles))}",
            )

    @property
    def resumes(self) -> bool:
        """Whether answers are resumable: `resumable`, or by default whenever Redis is set."""
        return self.redis_url is not None if self.resumable is None else self.resumable

    @property
    def in_development(self) -> bool:
        """Development was asked for: `development`, or a test run (pytest 8.2+ sets PYTEST_VERSION
        for its session, and the servers a test starts inherit it)."""
        return self.development or bool(os.environ.get("PYTEST_VERSION"))

    def browser_profile_names(self) -> tuple[str, ...]:
        """The profiles a browser may name: `browser_profiles`, or by default `fast`, `chat`,
        `agent` and `extract`, those of them that exist."""
        if self.browser_profiles is not None:
            return self.browser_profiles
        return tuple(name for name in DEFAULT_BROWSER_PROFILES if name in self.profiles)

    def client_budget(self) -> tuple[int, int]:
        """Requests and tokens per minute per client, the None defaults resolved (0 is off)."""
        rpm, tpm = self.client_requests_per_minute, self.client_tokens_per_minute
        if rpm is None:
            rpm = 0 if self.in_development else DEFAULT_CLIENT_REQUESTS
        if tpm is None:
            tpm = 0 if self.in_development else DEFAULT_CLIENT_TOKENS
        return rpm, tpm

    def warm_budget(self) -> tuple[int, int]:
        """Warms and their tokens per minute per client, the None default resolved (0 is off)."""
        rpm = self.warm_requests_per_minute
        if rpm is None:
            rpm = 0 if self.in_development else DEFAULT_WARM_REQUESTS
        return rpm, self.client_budget()[1]

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise KeyError(
                f"unknown profile {name!r}; profiles are {', '.join(sorted(self.profiles))}"
            ) from None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, key_name: KeyNamer = _plain) -> Settings:
        """Build settings from plain config (lower-case keys); `key_name` spells a key as the user wrote it.

        `profiles` maps names to dicts of profile fields, merged over the default profile of the same
        name, so `{"chat": {"max_tokens": 300}}` keeps the default chat model.
        """
        if not isinstance(data, Mapping):
            raise SettingsError(key_name(""), f"must be a mapping, not {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise SettingsError(
                key_name(unknown[0]), f"unknown setting; known settings: {', '.join(sorted(known))}"
            )
        values = dict(data)
        if "profiles" in values:
            values["profiles"] = _profiles_from_mapping(values["profiles"], key_name("profiles"))
        settings = cls.__new__(cls)
        defaults = cls()
        for f in dataclasses.fields(cls):
            object.__setattr__(settings, f.name, values.get(f.name, getattr(defaults, f.name)))
        settings._validate(key_name)
        return settings

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, key_name: KeyNamer | None = None, **overrides: Any
    ) -> Settings:
        """`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `FIRSTTOKEN_<SETTING>` (profiles as JSON),
        with keyword `overrides` (an adapter's own config) on top.

        `key_name` spells an override's key in errors the way its user wrote it; a key that came
        from the environment is named by its variable. Profiles merge field by field: an override
        of `{"chat": {"max_tokens": 300}}` keeps the model `FIRSTTOKEN_PROFILES` gave `chat`.
        """
        env = os.environ if environ is None else environ
        _check_variable_names(env, cls)
        data: dict[str, Any] = {}
        if env.get("ANTHROPIC_API_KEY"):
            data["api_key"] = env["ANTHROPIC_API_KEY"]
        if env.get("ANTHROPIC_BASE_URL"):
            data["base_url"] = env["ANTHROPIC_BASE_URL"]
        for f in dataclasses.fields(cls):
            var = f"FIRSTTOKEN_{f.name.upper()}"
            if var in env:
                data[f.name] = _parse_env(var, f, env[var])
        profiles = _merge_profiles(data.get("profiles"), overrides.get("profiles"))
        data.update(overrides)
        if profiles is not None:
            data["profiles"] = profiles

        def spell(key: str) -> str:
            if key in overrides:
                return key_name(key) if key_name is not None else key
            return {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}.get(
                key
            ) or f"FIRSTTOKEN_{key.upper()}"

        return cls.from_mapping(data, key_name=spell)


# `FIRSTTOKEN_*` variables that are not settings: the test suite's own (where the browser tests
# save their screenshots).
NOT_SETTINGS = frozenset({"FIRSTTOKEN_SCREENSHOT_DIR"})


def _check_variable_names(env: Mapping[str, str], cls: type[Settings]) -> None:
    """An unknown `FIRSTTOKEN_*` variable is a typo until shown otherwise: a misspelt off switch
    (`FIRSTTOKEN_EMULATR=off`) silently ignored is how a deployment fails open."""
    known = [f"FIRSTTOKEN_{f.name.upper()}" for f in dataclasses.fields(cls)]
    for var in sorted(env):
        if var.startswith("FIRSTTOKEN_") and var not in known and var not in NOT_SETTINGS:
            close = difflib.get_close_matches(var, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"known variables: {', '.join(known)}"
            raise SettingsError(var, f"unknown firsttoken variable; {hint}")


def _validate_caching(s: Settings, name: KeyNamer) -> None:
    validate_family_table(name("cache_min_tokens"), s.cache_min_tokens, integer=True)
    validate_family_table(name("pricing"), s.pricing, integer=False)
    if s.warm_lock_dir is not None and (not isinstance(s.warm_lock_dir, str) or not s.warm_lock_dir):
        raise SettingsError(name("warm_lock_dir"), "must be a directory path or None")


def _validate_limits(s: Settings, name: KeyNamer, positive: Callable[..., None]) -> None:
    browser = s.browser_profiles
    if isinstance(browser, list):
        object.__setattr__(s, "browser_profiles", browser := tuple(browser))
    if browser is not None and (
        not isinstance(browser, tuple) or not all(isinstance(p, str) and p for p in browser)
    ):
        raise SettingsError(name("browser_profiles"), "must be a list of profile names")
    positive("max_body_bytes", s.max_body_bytes)
    positive("max_messages", s.max_messages)
    positive("max_input_tokens", s.max_input_tokens)
    positive("max_attachments", s.max_attachments, zero=True)
    positive("max_attachment_bytes", s.max_attachment_bytes)
    positive("max_request_attachment_bytes", s.max_request_attachment_bytes)
    for key in ("client_requests_per_minute", "client_tokens_per_minute"):
        if getattr(s, key) is not None:
            positive(key, getattr(s, key), zero=True)
    for pname, profile in s.profiles.items() if isinstance(s.profiles, Mapping) else ():
        limit = getattr(profile, "max_input_tokens", None)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise SettingsError(
                f"{name('profiles')}[{pname!r}]['max_input_tokens']",
                f"must be a positive integer or None, not {shown(limit)}",
            )


def _validate_warming(s: Settings, name: KeyNamer, positive: Callable[..., None]) -> None:
    positive("warm_up_timeout", s.warm_up_timeout)
    positive("stay_warm", s.stay_warm, zero=True)
    positive("stay_warm_interval", s.stay_warm_interval)
    if s.warm_requests_per_minute is not None:
        positive("warm_requests_per_minute", s.warm_requests_per_minute, zero=True)


def _validate_state(s: Settings, name: KeyNamer) -> None:
    url = s.redis_url
    # The URL itself is never echoed: it may carry a password.
    if url is not None and (not isinstance(url, str) or not url.startswith(REDIS_SCHEMES)):
        raise SettingsError(
            name("redis_url"), f"must be a URL starting with one of {', '.join(REDIS_SCHEMES)}"
        )
    prefix = s.redis_prefix
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        raise SettingsError(
            name("redis_prefix"), f"must be a non-empty string without spaces, not {shown(prefix)}"
        )
    timeout = s.redis_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 10:
        raise SettingsError(
            name("redis_timeout"), f"must be a number of seconds above 0 and at most 10, not {shown(timeout)}"
        )
    tenant = s.tenant
    if tenant is not None and (not isinstance(tenant, str) or not tenant.strip()):
        raise SettingsError(name("tenant"), "must be a non-empty string or None")


def _merge_profiles(below: Any, above: Any) -> Any:
    """Profile dicts from two layers merged per profile and per field; None when neither has any."""
    if below is None or above is None:
        return above if below is None else below
    if not isinstance(below, Mapping) or not isinstance(above, Mapping):
        return above  # the wrong type is reported by from_mapping, naming the layer it came from
    merged = dict(below)
    for name, fields in above.items():
        under = merged.get(name)
        if isinstance(under, Mapping) and isinstance(fields, Mapping):
            merged[name] = {**under, **fields}
        else:
            merged[name] = fields
    return merged


# The most a coalescing window may add between two tokens: a few frames of a page repainting.
MAX_COALESCE_WINDOW = 0.1


def _validate_coalescing(window: object, name: KeyNamer) -> None:
    if window is None:
        return
    ok = isinstance(window, int | float) and not isinstance(window, bool)
    if not ok or not 0 <= window <= MAX_COALESCE_WINDOW:  # type: ignore[operator]
        raise SettingsError(
            name("coalesce_window"),
            f"must be None (off) or a number of seconds from 0 to {MAX_COALESCE_WINDOW:g}, "
            f"not {shown(window)}",
        )


# What an environment variable may say for true and for false.
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@functools.cache
def _field_types() -> dict[str, Any]:
    """Each setting's annotation, evaluated (this module's annotations are strings)."""
    return typing.get_type_hints(Settings)


def _bare(hint: Any) -> Any:
    """`X` of an `X | None` annotation; any other annotation as it is."""
    args = typing.get_args(hint)
    if type(None) in args:
        (hint,) = (arg for arg in args if arg is not type(None))
    return hint


def _parse_env(var: str, f: dataclasses.Field[Any], raw: str) -> Any:
    """`raw`, a variable's text, as the value of the field's annotated type (validated after)."""
    hint = _field_types()[f.name]
    optional, hint = type(None) in typing.get_args(hint), _bare(hint)
    # None spelt as a word, unless the value is text (a tenant may be called "none").
    if optional and hint is not str and raw.strip().lower() in f.metadata.get("none_words", ("none",)):
        return None
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if raw.strip().lower() not in _TRUE + _FALSE:
                raise ValueError(raw)
            return raw.strip().lower() in _TRUE
        if hint is int or hint is float:
            return hint(raw)
        if hint is str or origin is Literal:
            return raw  # a Literal's values are checked by validation, which lists them
        if origin is tuple:
            # A comma-separated list (`fast,chat`) or a JSON one.
            parsed = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
            return (
                [p.strip() if isinstance(p, str) else p for p in parsed]
                if isinstance(parsed, list)
                else parsed
            )
        if origin is Mapping:
            return json.loads(raw)
    except ValueError:
        raise SettingsError(var, f"cannot be parsed: {shown(raw)}") from None
    raise TypeError(f"Settings.{f.name}: no environment parsing for {hint}")


def _profiles_from_mapping(data: Any, key: str) -> dict[str, Profile]:
    if not isinstance(data, Mapping):
        raise SettingsError(key, f"must map profile names to profile fields, not {type(data).__name__}")
    profiles = dict(DEFAULT_PROFILES)
    for pname, fields in data.items():
        if isinstance(fields, Profile):
            profiles[pname] = fields
            continue
        profiles[pname] = Profile.from_mapping(
            fields, base=DEFAULT_PROFILES.get(pname), key=f"{key}[{pname!r}]"
        )
    return profiles
