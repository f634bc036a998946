"""Checks of the shared-state settings, run once when `Settings` is built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._errors import SettingsError

__all__ = ["REDIS_SCHEMES", "validate_state_settings"]

# What redis-py connects to from a URL, plus the two forms it has classes but no URL scheme for.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")


def validate_state_settings(settings: Any, name: Callable[[str], str]) -> None:
    url = settings.redis_url
    # The URL itself is never echoed: it may carry a password.
    if url is not None and (not isinstance(url, str) or not url.startswith(REDIS_SCHEMES)):
        raise SettingsError(
            name("redis_url"), f"must be a URL starting with one of {', '.join(REDIS_SCHEMES)}"
        )
    prefix = settings.redis_prefix
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        raise SettingsError(
            name("redis_prefix"), f"must be a non-empty string without spaces, not {prefix!r}"
        )
    timeout = settings.redis_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 10:
        raise SettingsError(
            name("redis_timeout"), f"must be a number of seconds above 0 and at most 10, not {timeout!r}"
        )
    if not isinstance(settings.response_cache, bool):
        raise SettingsError(name("response_cache"), f"must be true or false, not {settings.response_cache!r}")
    tenant = settings.tenant
    if tenant is not None and (not isinstance(tenant, str) or not tenant.strip()):
        raise SettingsError(name("tenant"), "must be a non-empty string or None")
