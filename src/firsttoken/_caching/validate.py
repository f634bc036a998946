"""Validation of the caching fields of a Profile (kept here so profiles.py stays a thin hook)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .._errors import SettingsError
from .pricing import validate_family_table

if TYPE_CHECKING:
    from .._profiles import Profile
    from .._settings import Settings

__all__ = ["validate_cache_settings", "validate_profile_caching"]


def validate_profile_caching(p: Profile) -> None:
    if p.caching not in ("auto", "off", "explicit"):
        raise SettingsError("caching", f"must be 'auto', 'off' or 'explicit', not {p.caching!r}")
    if p.cache_ttl not in ("5m", "1h"):
        raise SettingsError("cache_ttl", f"must be '5m' or '1h', not {p.cache_ttl!r}")
    if p.prefix_system is not None and (not isinstance(p.prefix_system, str) or not p.prefix_system):
        raise SettingsError("prefix_system", "must be a non-empty system prompt string or None")
    if not isinstance(p.prefix_tools, tuple) or not all(
        isinstance(t, Mapping) and isinstance(t.get("name"), str) and t["name"] for t in p.prefix_tools
    ):
        raise SettingsError("prefix_tools", "must be a list of tool definitions, each with a 'name'")
    if any("cache_control" in t for t in p.prefix_tools):
        raise SettingsError("prefix_tools", "must not carry cache_control; firsttoken marks the prefix's end")
    if not isinstance(p.warm, bool):
        raise SettingsError("warm", f"must be true or false, not {p.warm!r}")
    if p.keep_warm is not None and not isinstance(p.keep_warm, bool):
        raise SettingsError("keep_warm", f"must be true, false or None, not {p.keep_warm!r}")


def validate_cache_settings(s: Settings, name: Callable[[str], str]) -> None:
    validate_family_table(name("cache_min_tokens"), s.cache_min_tokens, integer=True)
    validate_family_table(name("pricing"), s.pricing, integer=False)
    if not isinstance(s.cache_debug, bool):
        raise SettingsError(name("cache_debug"), f"must be true or false, not {s.cache_debug!r}")
    if s.warm_lock_dir is not None and (not isinstance(s.warm_lock_dir, str) or not s.warm_lock_dir):
        raise SettingsError(name("warm_lock_dir"), "must be a directory path or None")
