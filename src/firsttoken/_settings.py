"""One typed, validated settings object that every adapter builds from its framework's own config."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ._errors import SettingsError
from ._pricing import validate_family_table
from ._profiles import DEFAULT_PROFILES, Profile

__all__ = ["EmulatorMode", "Settings"]

EmulatorMode = Literal["auto", "off", "always"]

KeyNamer = Callable[[str], str]

# What redis-py connects to from a URL, plus the two forms it has classes but no URL scheme for.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")


def _plain(name: str) -> str:
    return name


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything an `Engine` needs. Build it directly, `from_mapping()` or `from_env()`."""

    # Never printed: `repr=False`, and errors name the key, never the value.
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    # "auto": with neither a key nor a base URL, start the embedded emulator (and say so loudly);
    # "off": refuse to start without a key; "always": the emulator even when a key is set.
    emulator: EmulatorMode = "auto"
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
    # Parallel calls (guide step 5) at once per gather, so a long list cannot flood the rate limit.
    gather_concurrency: int = 8
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

    def __post_init__(self) -> None:
        self._validate(_plain)

    def _validate(self, name: KeyNamer) -> None:
        def positive(key: str, value: object, *, integer: bool = False, zero: bool = False) -> None:
            kinds = (int,) if integer else (int, float)
            ok = isinstance(value, kinds) and not isinstance(value, bool)
            if not ok or (value < 0 if zero else value <= 0):  # type: ignore[operator]
                what = "integer" if integer else "number"
                raise SettingsError(
                    name(key), f"must be a {'non-negative' if zero else 'positive'} {what}, not {value!r}"
                )

        for key in ("api_key", "base_url"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                # The value itself is never echoed: it may be a secret.
                raise SettingsError(name(key), "must be a non-empty string or None")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(
                name("base_url"), f"must start with http:// or https://, not {self.base_url!r}"
            )
        if self.emulator not in get_args(EmulatorMode):
            raise SettingsError(name("emulator"), f"must be one of auto, off, always, not {self.emulator!r}")
        positive("emulator_time_scale", self.emulator_time_scale, zero=True)
        positive("timeout", self.timeout)
        positive("connect_timeout", self.connect_timeout)
        positive("max_retries", self.max_retries, integer=True, zero=True)
        positive("max_connections", self.max_connections, integer=True)
        positive("max_keepalive_connections", self.max_keepalive_connections, integer=True, zero=True)
        positive("heartbeat_interval", self.heartbeat_interval)
        positive("gather_concurrency", self.gather_concurrency, integer=True)
        positive("metrics_window", self.metrics_window, integer=True)
        positive("breaker_failures", self.breaker_failures, integer=True)
        positive("breaker_window", self.breaker_window)
        positive("breaker_cooldown", self.breaker_cooldown, zero=True)
        positive("classify_cache_ttl", self.classify_cache_ttl, zero=True)
        positive("classify_cache_size", self.classify_cache_size, integer=True, zero=True)
        _validate_caching(self, name)
        _validate_state(self, name)
        if not isinstance(self.advisor, bool):
            raise SettingsError(name("advisor"), f"must be true or false, not {self.advisor!r}")
        if not isinstance(self.profiles, Mapping) or not all(
            isinstance(p, Profile) for p in self.profiles.values()
        ):
            raise SettingsError(name("profiles"), "must map profile names to Profile objects")
        if self.default_profile not in self.profiles:
            raise SettingsError(
                name("default_profile"),
                f"names no profile: {self.default_profile!r}; "
                f"profiles are {', '.join(sorted(self.profiles))}",
            )

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


def _validate_caching(s: Settings, name: KeyNamer) -> None:
    validate_family_table(name("cache_min_tokens"), s.cache_min_tokens, integer=True)
    validate_family_table(name("pricing"), s.pricing, integer=False)
    if not isinstance(s.cache_debug, bool):
        raise SettingsError(name("cache_debug"), f"must be true or false, not {s.cache_debug!r}")
    if s.warm_lock_dir is not None and (not isinstance(s.warm_lock_dir, str) or not s.warm_lock_dir):
        raise SettingsError(name("warm_lock_dir"), "must be a directory path or None")


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
            name("redis_prefix"), f"must be a non-empty string without spaces, not {prefix!r}"
        )
    timeout = s.redis_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 10:
        raise SettingsError(
            name("redis_timeout"), f"must be a number of seconds above 0 and at most 10, not {timeout!r}"
        )
    if not isinstance(s.response_cache, bool):
        raise SettingsError(name("response_cache"), f"must be true or false, not {s.response_cache!r}")
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


_INTS = {
    "max_retries",
    "max_connections",
    "max_keepalive_connections",
    "gather_concurrency",
    "metrics_window",
}
_FLOATS = {"emulator_time_scale", "timeout", "connect_timeout", "heartbeat_interval"}
_INTS |= {"breaker_failures", "classify_cache_size"}
_FLOATS |= {"breaker_window", "breaker_cooldown", "classify_cache_ttl", "redis_timeout"}


def _parse_env(var: str, name: str, raw: str) -> Any:
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
        if name in ("advisor", "cache_debug", "response_cache"):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        if name in ("profiles", "cache_min_tokens", "pricing"):
            return json.loads(raw)
    except ValueError:
        raise SettingsError(var, f"cannot be parsed: {raw!r}") from None
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
