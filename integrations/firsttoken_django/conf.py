"""`settings.FIRSTTOKEN` (upper-case keys) mapped onto the core's `Settings`, over the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings

from firsttoken import Profile, Settings

__all__ = ["KNOWN_KEYS", "SETTING", "key_name", "load_settings", "raw_config", "to_core_mapping"]

SETTING = "FIRSTTOKEN"
KNOWN_KEYS = tuple(f.name.upper() for f in dataclasses.fields(Settings))
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
        data[name] = value
    return data


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
    return Settings.from_env(key_name=key_name, **data)
