"""One typed, validated settings object that every adapter builds from its framework's own config."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ._errors import SettingsError
from ._pricing import validate_family_table
from ._profiles import DEFAULT_PROFILES, Profile
from ._redact import shown

__all__ = ["EmulatorMode", "Settings"]

EmulatorMode = Literal["auto", "off", "always"]

KeyNamer = Callable[[str], str]

# What redis-py connects to from a URL, plus the two forms it has classes but no URL scheme for.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")


# What a browser may name by default, those of them that exist (the contract's list: `agent`
# arrives with its own issue): `deep` (Opus, 4,096 output tokens) is for server code.
DEFAULT_BROWSER_PROFILES = ("fast", "chat", "agent")
# The per-client budgets of a production server (see `Settings.client_requests_per_minute`).
DEFAULT_CLIENT_REQUESTS = 30
DEFAULT_CLIENT_TOKENS = 300_000
# A typing burst every six seconds: more than a person starts, fewer than a script would send.
DEFAULT_WARM_REQUESTS = 10


def _plain(name: str) -> str:
    return name


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything an `Engine` needs. Build it directly, `from_mapping()` or `from_env()`."""

    # Never printed: `repr=False`, and errors name the key, never the value.
    api_key: str | None = field(default=None, repr=False)
    # Out of repr too: a proxy's URL can carry credentials (`http://user:pass@host`).
    base_url: str | None = field(default=None, repr=False)
    # "auto": with neither a key nor a base URL, the embedded emulator answers where development
    # was asked for (`development`, or a test run) and the engine refuses to start anywhere else,
    # naming ANTHROPIC_API_KEY: a production server with a typo in its key variable must not serve
    # simulated answers with status 200. "off": always refuse; "always": the emulator even with a key.
    emulator: EmulatorMode = "auto"
    # Development asked for: a framework's debug mode (each adapter sets it), `make demo`, or
    # FIRSTTOKEN_DEVELOPMENT=1. Only what "auto" above does depends on it.
    development: bool = False
    # The embedded emulator's delays; 1 reproduces the guide's latency table, 0 is for throughput runs.
    emulator_time_scale: float = 1.0
    # The guide's error table: long generations time out under a 60 s default; 120 s is its advice.
    timeout: float = 120.0
    connect_timeout: float = 5.0
    # The SDK retries 429/529/5xx with backoff itself; this is only its count.
    max_retries: int = 2
    # One pool per process (guide step 4); sized for many concurrent streams per worker.
    max_connections: int = 1000
    max_keepalive_connections: int = 100
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    default_profile: str = "chat"
    # A comment line on an idle stream keeps proxies and load balancers from cutting it.
    heartbeat_interval: float = 15.0
    # Text deltas that arrived together (while the server was writing, or busy with other streams)
    # always go out as one event; a window (seconds) also holds later deltas back for up to that
    # long after each write, so they share the next one. 0: nothing is held, no delay is added.
    # None: one event per upstream delta. The first token is never held; at most 0.1 s, so the
    # added gap between tokens stays below what a reader notices.
    coalesce_window: float | None = 0.0
    # Parallel calls (guide step 5) at once per gather, so a long list cannot flood the rate limit.
    gather_concurrency: int = 8
    # Threads that run agent turns' sync tools (_agent/), shared by the process's turns: 16 lets a
    # few turns run their tools at once without a slow tool taking the server's threads.
    tool_threads: int = 16
    # Calls remembered per model and profile for the rolling percentiles.
    metrics_window: int = 1024
    # Log the guide's error-table advice (each cause once).
    advisor: bool = True
    # Cooldown (see _upstream/breaker.py): this many overloads of a model within the window skip
    # it for the cooldown. Five in 30 s is past a blip; 30 s is about how long a capacity dip lasts.
    breaker_failures: int = 5
    breaker_window: float = 30.0
    breaker_cooldown: float = 30.0
    # engine.classify() answers repeated inputs from memory for this long (seconds), this many kept.
    classify_cache_ttl: float = 300.0
    classify_cache_size: int = 1024
    # Prompt caching (_caching/): per-family overrides of the minimum cacheable length
    # (documented values change between models) and of the approximate $/MTok input prices.
    cache_min_tokens: Mapping[str, int] = field(default_factory=dict)
    pricing: Mapping[str, float] = field(default_factory=dict)
    # Ask the API why a continuing conversation missed the cache, and log it (one more field per call).
    cache_debug: bool = False
    # Where the one-warmer-per-machine lock files live; None is <tempdir>/firsttoken-warm.
    warm_lock_dir: str | None = None
    # Shared state for many workers and machines (_state/): None keeps it in process memory.
    # The URL may hold a password, so it is never printed.
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "firsttoken:"
    # Per Redis operation; past it the call goes on with process-local state. 50 ms is far above a
    # loopback or same-zone round trip and far below what a user notices.
    redis_timeout: float = 0.05
    # Replay temperature-0 create() answers from a cache keyed by API key, base URL, tenant and request.
    response_cache: bool = False
    # The organisation or tenant this deployment answers for; a call's tenant= overrides it.
    tenant: str | None = None
    # -- limits on what a browser may send (_limits.py); each refusal is answered before anything
    # goes upstream. The profiles a browser may name: `deep` (Opus, 4,096 tokens) stays server-only.
    # None: those of `fast`, `chat` and `agent` that `profiles` has. A list names them all, each
    # must exist.
    browser_profiles: tuple[str, ...] | None = None
    # 256 KiB: about 64k tokens of text by the 4-characters rule, far more than a chat turn needs,
    # and the server reads no further (413).
    max_body_bytes: int = 256 * 1024
    # Messages per request (413): a long conversation is a few dozen turns.
    max_messages: int = 100
    # Estimated input tokens per request (413), unless the profile sets its own `max_input_tokens`.
    max_input_tokens: int = 32_000
    # Per client (what the app says identifies one: an IP, a user id), per minute, shared across
    # workers through Redis when it is set (429 with Retry-After); 0 turns either budget off.
    # None: 30 requests (one every two seconds) and 300k tokens (ten turns of a long conversation)
    # in production, off in development, where one developer (or a test suite) is every client.
    client_requests_per_minute: int | None = None
    client_tokens_per_minute: int | None = None
    # -- resumable streams (_relay/resume.py): each answer written to a Redis Stream as it is sent,
    # so a dropped connection resumes from any worker. None: on exactly when `redis_url` is set
    # (without Redis there is nowhere shared to resume from).
    resumable: bool | None = None
    # How long an answer goes on with nobody reading it before its upstream call is cancelled: a
    # phone in a tunnel reconnects within seconds; a user who left should not be billed for long.
    resume_grace: float = 5.0
    # How long a stream stays resumable (and its keys live) after its last event: long enough for a
    # reconnect after a deploy, short enough that Redis holds little.
    resume_ttl: float = 600.0
    # -- warming (_upstream/warmup.py, _caching/ahead.py; docs/warming.md). When a server starts
    # serving, run the SDK's paths once and open the upstream connection with a free request
    # (`GET /v1/models`), waiting at most `warm_up_timeout` seconds; a failure is logged, never raised.
    warm_up: bool = True
    warm_up_timeout: float = 3.0
    # Seconds after its last call that a worker keeps one upstream connection open, with a free
    # `GET /v1/models` whenever it has been idle `stay_warm_interval` seconds (0: off). Past it
    # the worker goes quiet and its next call connects again.
    stay_warm: float = 600.0
    stay_warm_interval: float = 20.0
    # `POST /api/warm`: a `max_tokens: 0` pre-warm of the conversation so far while the user types.
    warm_ahead: bool = True
    # Warms per client per minute (on their own bucket; their tokens count on the client's token
    # budget's rate). None: 10 in production, off in development.
    warm_requests_per_minute: int | None = None

    def __post_init__(self) -> None:
        self._validate(_plain)

    def _validate(self, name: KeyNamer) -> None:
        def positive(key: str, value: object, *, integer: bool = False, zero: bool = False) -> None:
            kinds = (int,) if integer else (int, float)
            ok = isinstance(value, kinds) and not isinstance(value, bool)
            if not ok or (value < 0 if zero else value <= 0):  # type: ignore[operator]
                what = "integer" if integer else "number"
                raise SettingsError(
                    name(key),
                    f"must be a {'non-negative' if zero else 'positive'} {what}, not {shown(value)}",
                )

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
        positive("emulator_time_scale", self.emulator_time_scale, zero=True)
        positive("timeout", self.timeout)
        positive("connect_timeout", self.connect_timeout)
        positive("max_retries", self.max_retries, integer=True, zero=True)
        positive("max_connections", self.max_connections, integer=True)
        positive("max_keepalive_connections", self.max_keepalive_connections, integer=True, zero=True)
        positive("heartbeat_interval", self.heartbeat_interval)
        _validate_coalescing(self.coalesce_window, name)
        positive("gather_concurrency", self.gather_concurrency, integer=True)
        positive("tool_threads", self.tool_threads, integer=True)
        positive("metrics_window", self.metrics_window, integer=True)
        positive("breaker_failures", self.breaker_failures, integer=True)
        positive("breaker_window", self.breaker_window)
        positive("breaker_cooldown", self.breaker_cooldown, zero=True)
        positive("classify_cache_ttl", self.classify_cache_ttl, zero=True)
        positive("classify_cache_size", self.classify_cache_size, integer=True, zero=True)
        _validate_caching(self, name)
        _validate_state(self, name)
        _validate_limits(self, name, positive)
        positive("resume_grace", self.resume_grace)
        positive("resume_ttl", self.resume_ttl)
        if self.resumable is not None and not isinstance(self.resumable, bool):
            raise SettingsError(
                name("resumable"), f"must be true, false or None, not {shown(self.resumable)}"
            )
        if self.resumable and self.redis_url is None:
            raise SettingsError(name("resumable"), "needs redis_url: a stream is resumed from Redis")
        _validate_warming(self, name, positive)
        if not isinstance(self.advisor, bool):
            raise SettingsError(name("advisor"), f"must be true or false, not {shown(self.advisor)}")
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
        """The profiles a browser may name: `browser_profiles`, or by default `fast`, `chat` and
        `agent`, those of them that exist."""
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
                data[f.name] = _parse_env(var, f.name, env[var])
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
    if not isinstance(s.cache_debug, bool):
        raise SettingsError(name("cache_debug"), f"must be true or false, not {shown(s.cache_debug)}")
    if s.warm_lock_dir is not None and (not isinstance(s.warm_lock_dir, str) or not s.warm_lock_dir):
        raise SettingsError(name("warm_lock_dir"), "must be a directory path or None")


def _validate_limits(s: Settings, name: KeyNamer, positive: Callable[..., None]) -> None:
    if not isinstance(s.development, bool):
        raise SettingsError(name("development"), f"must be true or false, not {shown(s.development)}")
    browser = s.browser_profiles
    if isinstance(browser, list):
        object.__setattr__(s, "browser_profiles", browser := tuple(browser))
    if browser is not None and (
        not isinstance(browser, tuple) or not all(isinstance(p, str) and p for p in browser)
    ):
        raise SettingsError(name("browser_profiles"), "must be a list of profile names")
    positive("max_body_bytes", s.max_body_bytes, integer=True)
    positive("max_messages", s.max_messages, integer=True)
    positive("max_input_tokens", s.max_input_tokens, integer=True)
    for key in ("client_requests_per_minute", "client_tokens_per_minute"):
        if getattr(s, key) is not None:
            positive(key, getattr(s, key), integer=True, zero=True)
    for pname, profile in s.profiles.items() if isinstance(s.profiles, Mapping) else ():
        limit = getattr(profile, "max_input_tokens", None)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise SettingsError(
                f"{name('profiles')}[{pname!r}]['max_input_tokens']",
                f"must be a positive integer or None, not {shown(limit)}",
            )


def _validate_warming(s: Settings, name: KeyNamer, positive: Callable[..., None]) -> None:
    for key in ("warm_up", "warm_ahead"):
        if not isinstance(getattr(s, key), bool):
            raise SettingsError(name(key), f"must be true or false, not {shown(getattr(s, key))}")
    positive("warm_up_timeout", s.warm_up_timeout)
    positive("stay_warm", s.stay_warm, zero=True)
    positive("stay_warm_interval", s.stay_warm_interval)
    if s.warm_requests_per_minute is not None:
        positive("warm_requests_per_minute", s.warm_requests_per_minute, integer=True, zero=True)


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
    if not isinstance(s.response_cache, bool):
        raise SettingsError(name("response_cache"), f"must be true or false, not {shown(s.response_cache)}")
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


_INTS = {
    "max_retries",
    "max_connections",
    "max_keepalive_connections",
    "gather_concurrency",
    "metrics_window",
}
_FLOATS = {"emulator_time_scale", "timeout", "connect_timeout", "heartbeat_interval"}
_INTS |= {"breaker_failures", "classify_cache_size", "max_body_bytes", "max_messages", "max_input_tokens"}
_INTS |= {"client_requests_per_minute", "client_tokens_per_minute", "tool_threads"}
_INTS |= {"client_requests_per_minute", "client_tokens_per_minute", "warm_requests_per_minute"}
_FLOATS |= {"warm_up_timeout", "stay_warm", "stay_warm_interval"}
_FLOATS |= {"breaker_window", "breaker_cooldown", "classify_cache_ttl", "redis_timeout"}
_FLOATS |= {"resume_grace", "resume_ttl"}


def _parse_env(var: str, name: str, raw: str) -> Any:
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
        if name == "browser_profiles":
            # A comma-separated list (`fast,chat`) or a JSON one.
            parsed = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
            return (
                [p.strip() if isinstance(p, str) else p for p in parsed]
                if isinstance(parsed, list)
                else parsed
            )
        if name in (
            "advisor",
            "cache_debug",
            "response_cache",
            "development",
            "resumable",
            "warm_up",
            "warm_ahead",
        ):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        if name == "coalesce_window":
            return None if raw.strip().lower() in ("off", "none") else float(raw)
        if name in ("profiles", "cache_min_tokens", "pricing"):
            return json.loads(raw)
    except ValueError:
        raise SettingsError(var, f"cannot be parsed: {shown(raw)}") from None
    return raw


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
