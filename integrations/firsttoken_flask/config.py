"""Flask config keys to one `Settings`: `app.config` first, then the environment, then the defaults."""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from firsttoken import Settings, SettingsError

__all__ = ["CONFIG_KEYS", "PREFIX", "config_key", "settings_from_config"]

PREFIX = "FIRSTTOKEN_"
# The two settings every Anthropic tool reads under these names; they stay out of `setdefault` so
# the key is never copied into `app.config`, where debug pages and config dumps would show it.
_SHARED_NAMES = {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}


def config_key(field: str) -> str:
    """The Flask config key of a `Settings` field (`timeout` -> `FIRSTTOKEN_TIMEOUT`)."""
    return _SHARED_NAMES.get(field) or f"{PREFIX}{field.upper()}"


CONFIG_KEYS: tuple[str, ...] = tuple(config_key(f.name) for f in dataclasses.fields(Settings))


def settings_from_config(
    config: MutableMapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate the app's firsttoken keys into `Settings`; a bad value raises `SettingsError` naming its key.

    Missing `FIRSTTOKEN_*` keys are filled in with `setdefault`, from the environment variable of
    the same name or the default, so `app.config` shows what the engine runs with.
    """
    env = os.environ if environ is None else environ
    unknown = sorted(k for k in config if k.startswith(PREFIX) and k not in CONFIG_KEYS)
    if unknown:
        known = [k for k in CONFIG_KEYS if k.startswith(PREFIX)]
        close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SettingsError(unknown[0], f"unknown setting; {hint}known keys: {', '.join(known)}")
    # Only variables the config does not override are parsed, so a stale variable cannot fail an
    # app that sets the key itself; the env and config names are the same, so errors name either.
    from_env = Settings.from_env({k: v for k, v in env.items() if k not in config})
    data: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        key = config_key(f.name)
        if f.name in _SHARED_NAMES:
            value = config.get(key) or getattr(from_env, f.name)
            if value is not None:
                data[f.name] = value
        else:
            data[f.name] = config.setdefault(key, getattr(from_env, f.name))
    return Settings.from_mapping(data, key_name=config_key)
