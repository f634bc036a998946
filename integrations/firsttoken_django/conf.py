"""`settings.FIRSTTOKEN` (upper-case keys) mapped onto the core's `Settings`, over the environment."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings

from firsttoken import Profile, Settings, SettingsError

__all__ = ["KNOWN_KEYS", "SETTING", "key_name", "load_settings", "raw_config", "to_core_mapping"]

SETTING = "FIRSTTOKEN"
# REDIS_CACHE_ALIAS is ours, not the core's: it names a CACHES entry whose Redis becomes redis_url.
KNOWN_KEYS = (*(f.name.upper() for f in dataclasses.fields(Settings)), "REDIS_CACHE_ALIAS")
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
PROFILE_FIELDS = frozenset(f.name for f in dataclasses.fields(Profile))
_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings))


def key_name(key: str) -> str:
    """How the user wrote a key, for error messages: `FIRSTTOKEN["TIMEOUT"]`."""
    return f'{SETTING}["{key.upper()}"]' if key else SETTING


def raw_config() -> Any:
    """`settings.FIRSTTOKEN` as written (absent means {}); not validated."""
    return getattr(django_settings, SETTING, None) or {}


def _profile_fields(fields: Any) -> Any:
    # Django settings spell nested keys either way (DATABASES uses upper case); profile fields are
    # lower-case in the core, so upper-case spellings of them are folded, anything else passes
    # through untouched for the core to reject by name.
    if not isinstance(fields, Mapping):
        return fields
    return {
        k.lower() if isinstance(k, str) and k.lower() in PROFILE_FIELDS else k: v for k, v in fields.items()
    }


def to_core_mapping(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Upper-case Django keys to the core's lower-case field names (unknown keys kept, for the error)."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.lower() if isinstance(key, str) else key
        if name == "profiles" and isinstance(value, Mapping):
            value = {pname: _profile_fields(fields) for pname, fields in value.items()}
        if name == "redis_cache_alias":
            name, value = "redis_url", redis_url_of_cache(value)
        data[name] = value
    return data


def redis_url_of_cache(alias: Any) -> str:
    """The Redis URL of `CACHES[alias]`, which must use Django's own RedisCache backend."""
    caches = getattr(django_settings, "CACHES", {})
    config = caches.get(alias) if isinstance(alias, str) else None
    if not isinstance(config, Mapping) or config.get("BACKEND") != REDIS_CACHE:
        raise SettingsError(
            key_name("REDIS_CACHE_ALIAS"), f"must name a CACHES entry whose BACKEND is {REDIS_CACHE}"
        )
    location = config.get("LOCATION")
    # Django accepts a list (or comma-separated string) of servers, the first being the primary.
    first = location[0] if isinstance(location, list | tuple) and location else location
    if not isinstance(first, str) or not first:
        raise SettingsError(key_name("REDIS_CACHE_ALIAS"), f"CACHES[{alias!r}] has no LOCATION")
    return first.split(",")[0].strip()


def load_settings(raw: Any = None) -> Settings:
    """`FIRSTTOKEN` merged over the environment and the defaults; raises `SettingsError` naming the key.

    Profiles merge field by field, so `FIRSTTOKEN_PROFILES` in the environment and `PROFILES`
    here can each set part of one profile.
    """
    raw = raw_config() if raw is None else raw
    if not isinstance(raw, Mapping):
        return Settings.from_mapping(raw, key_name=key_name)  # raises, naming FIRSTTOKEN
    data = to_core_mapping(raw)
    if any(name not in _FIELDS for name in data):
        # from_mapping names the unknown key; as keyword arguments it could collide with from_env's own.
        return Settings.from_mapping(data, key_name=key_name)
    if "development" not in data and "FIRSTTOKEN_DEVELOPMENT" not in os.environ:
        # DEBUG is development: with no key, the embedded emulator answers; elsewhere no key
        # refuses to start (see FirstTokenMiddleware), naming ANTHROPIC_API_KEY.
        data["development"] = bool(getattr(django_settings, "DEBUG", False))
    return Settings.from_env(key_name=key_name, **data)
