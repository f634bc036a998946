"""System checks: every problem in `settings.FIRSTTOKEN` at once, each with its own id and a hint.

The core validates a whole `Settings` and stops at the first bad key; here each key is validated
on its own through the same core code, so `manage.py check` lists all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register

from firsttoken import FirstTokenError, Settings, SettingsError
from firsttoken._advisor import TINY_OUTPUT
from firsttoken._latency import expected_seconds, family_of

from .conf import KNOWN_KEYS, SETTING, key_name, load_settings, raw_config, to_core_mapping

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
    return [*_profile_messages(settings), *_upstream_messages(settings), *_middleware_messages()]


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


def _profile_messages(settings: Settings) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, profile in sorted(settings.profiles.items()):
        where = f"{key_name('profiles')}[{name!r}]"
        if not profile.model.startswith("claude-"):
            messages.append(
                Error(
                    f"{where} names the model {profile.model!r}, which is not a Claude model id.",
                    hint="Use a model id that starts with 'claude-', such as 'claude-haiku-5-5'.",
                    id="firsttoken.E003",
                )
            )
            continue
        timeout = profile.timeout or settings.timeout
        expected = expected_seconds(profile.model, profile.max_tokens)
        if expected > timeout:
            messages.append(
                Warning(
                    f"{where}: max_tokens={profile.max_tokens} on {profile.model} can take about "
                    f"{expected:.0f}s, "
                    f"longer than its {timeout:g}s timeout; a non-streaming call would time out.",
                    hint="Stream long answers (stream_response), lower max_tokens, or raise the profile's "
                    "timeout.",
                    id="firsttoken.W001",
                )
            )
        if family_of(profile.model) == "opus" and profile.max_tokens <= TINY_OUTPUT:
            messages.append(
                Warning(
                    f"{where} uses {profile.model} for answers of at most {profile.max_tokens} tokens.",
                    hint="Short answers (classification, routing) come several times faster from a Haiku "
                    "model.",
                    id="firsttoken.W002",
                )
            )
    if settings.max_retries == 0:
        messages.append(
            Warning(
                f"{key_name('max_retries')} is 0: a 529 overloaded or 429 reaches the user without a retry.",
                hint="Leave MAX_RETRIES at its default (2) so the SDK retries with backoff.",
                id="firsttoken.W003",
            )
        )
    return messages


def _upstream_messages(settings: Settings) -> list[CheckMessage]:
    if settings.base_url or (settings.api_key and settings.emulator != "always"):
        return []
    if settings.emulator == "off":
        return [
            Error(
                "No API key and no base URL, and the embedded emulator is off: no call can be made.",
                hint='Set ANTHROPIC_API_KEY (or FIRSTTOKEN["API_KEY"]), or ANTHROPIC_BASE_URL, '
                'or allow the emulator with FIRSTTOKEN["EMULATOR"] = "auto".',
                id="firsttoken.E004",
            )
        ]
    return [
        Warning(
            "Answers come from the embedded emulator, not from Claude"
            + (
                " (EMULATOR is 'always')."
                if settings.emulator == "always"
                else ": no API key or base URL is set."
            ),
            hint="Set ANTHROPIC_API_KEY for real answers; silence firsttoken.W004 where simulated "
            "answers are meant.",
            id="firsttoken.W004",
        )
    ]


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


def build_error() -> FirstTokenError | None:
    """The error that building the engine would raise now (for `firsttoken_check`)."""
    try:
        load_settings()
    except FirstTokenError as exc:
        return exc
    return None
