"""System checks: every problem in `settings.FIRSTTOKEN` at once, each with its own id and a hint.

The core validates a whole `Settings` and stops at the first bad key; here each key is validated
on its own through the same core code, so `manage.py check` lists all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register

from firsttoken import Settings, SettingsError, review_settings

from .conf import KNOWN_KEYS, SETTING, key_name, load_settings, raw_config, to_core_mapping
from .server import gunicorn_config

__all__ = ["TAG", "check_settings"]

TAG = "firsttoken"
MIDDLEWARE_PATH = "firsttoken_django.middleware.FirstTokenMiddleware"


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = raw_config()
    if not isinstance(raw, Mapping):
        return [
            Error(
                f"{SETTING} must be a dict, not {type(raw).__name__}.",
                hint=f'Write {SETTING} = {{"PROFILES": {{"chat": {{"max_tokens": 300}}}}}}.',
                id="firsttoken.E002",
            )
        ]
    messages = _key_errors(raw)
    if messages:
        return messages
    try:
        settings = load_settings(raw)
    except SettingsError as exc:
        return [_bad_value(exc)]
    # What the settings mean for calls is the core's review; only the ids' namespace is Django's.
    findings: list[CheckMessage] = [
        (Error if f.is_error else Warning)(f.message, hint=f.hint, id=f"firsttoken.{f.id}")
        for f in review_settings(settings, key_name=key_name)
    ]
    return [*findings, *_middleware_messages(), *_server_messages(settings)]


def _server_messages(settings: Settings) -> list[CheckMessage]:
    """gunicorn settings a stream does not survive, where they can be read (`server.py`)."""
    config = gunicorn_config()
    if config is None:
        return []
    if not config.streams_safely:
        return [
            Warning(
                f"gunicorn runs the sync worker class ({config.source}), which cannot stream safely: "
                "one client that never reads blocks a worker until gunicorn's timeout kills it, and "
                f"every answer longer than that timeout ({config.timeout:g}s) is cut.",
                hint="Serve streams with threads: gunicorn -k gthread --threads 32 (or an ASGI server, "
                "uvicorn, for async views). See docs/deployment.md.",
                id="firsttoken.W018",
            )
        ]
    if config.graceful_timeout < settings.timeout:
        return [
            Warning(
                f"gunicorn's graceful_timeout ({config.graceful_timeout:g}s, {config.source}) is shorter "
                f"than firsttoken's timeout ({settings.timeout:g}s): a restart or deploy cuts the streams "
                "still answering after graceful_timeout.",
                hint=f"Give gunicorn --graceful-timeout {settings.timeout:g} (or more), so answers in "
                "flight finish before a worker is stopped.",
                id="firsttoken.W020",
            )
        ]
    return []


def _bad_value(exc: SettingsError) -> Error:
    environment = exc.key.startswith(("ANTHROPIC_", "FIRSTTOKEN_"))
    where = "the environment variable" if environment else "the setting"
    return Error(
        f"{exc.key}: {exc.message}",
        hint=f"Fix {where} {exc.key}; its value is never shown because it may be a secret.",
        id="firsttoken.E002",
    )


def _key_errors(raw: Mapping[str, Any]) -> list[CheckMessage]:
    """E001 for unknown keys, E002 for each key whose value the core rejects on its own."""
    messages: list[CheckMessage] = []
    try:
        data = to_core_mapping(raw)
    except SettingsError as exc:  # REDIS_CACHE_ALIAS naming no Redis cache
        return [_bad_value(exc)]
    for key in raw:
        if not isinstance(key, str) or key.upper() not in KNOWN_KEYS:
            messages.append(
                Error(
                    f"{SETTING} has an unknown key {key!r}.",
                    hint=f"Known keys: {', '.join(KNOWN_KEYS)}.",
                    id="firsttoken.E001",
                )
            )
        elif key != key.upper():
            messages.append(
                Error(
                    f"{SETTING} key {key!r} must be written in upper case, like every Django setting.",
                    hint=f"Write {key.upper()!r}.",
                    id="firsttoken.E001",
                )
            )
    single = [k for k in data if isinstance(k, str) and k.upper() in KNOWN_KEYS and k != "default_profile"]
    for name in single:
        if name == "profiles" and isinstance(data[name], Mapping):
            chunks: list[dict[str, Any]] = [{"profiles": {p: f}} for p, f in data[name].items()]
        else:
            chunks = [{name: data[name]}]
        for chunk in chunks:
            try:
                Settings.from_mapping(chunk, key_name=key_name)
            except SettingsError as exc:
                messages.append(_bad_value(exc))
    if not messages and "default_profile" in data:
        try:
            Settings.from_mapping(
                {k: data[k] for k in ("profiles", "default_profile") if k in data}, key_name=key_name
            )
        except SettingsError as exc:
            messages.append(_bad_value(exc))
    if not messages:
        try:
            Settings.from_env()
        except SettingsError as exc:
            messages.append(_bad_value(exc))
    return messages


def _middleware_messages() -> list[CheckMessage]:
    if MIDDLEWARE_PATH in (getattr(django_settings, "MIDDLEWARE", None) or ()):
        return []
    return [
        Warning(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE, so views have no request.firsttoken.",
            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, or use firsttoken_django.get_engine() directly.",
            id="firsttoken.W005",
        )
    ]
