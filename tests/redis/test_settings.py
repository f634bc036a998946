"""The shared-state settings: from the environment, validated once, secrets never echoed."""

from __future__ import annotations

import pytest

from firsttoken import Engine, Settings, SettingsError
from firsttoken.testing.emulator import Emulator

pytestmark = pytest.mark.redis


def test_redis_url_and_friends_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "FIRSTTOKEN_REDIS_URL": "redis://:pw@127.0.0.1:6390/2",
            "FIRSTTOKEN_REDIS_PREFIX": "shop:",
            "FIRSTTOKEN_REDIS_TIMEOUT": "0.2",
            "FIRSTTOKEN_RESPONSE_CACHE": "true",
            "FIRSTTOKEN_TENANT": "acme",
        }
    )
    assert settings.redis_url == "redis://:pw@127.0.0.1:6390/2"
    assert (settings.redis_prefix, settings.redis_timeout, settings.response_cache, settings.tenant) == (
        "shop:",
        0.2,
        True,
        "acme",
    )
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"FIRSTTOKEN_REDIS_URL": "http://:secret@host"}, "FIRSTTOKEN_REDIS_URL"),
        ({"FIRSTTOKEN_REDIS_TIMEOUT": "0"}, "FIRSTTOKEN_REDIS_TIMEOUT"),
        ({"FIRSTTOKEN_REDIS_PREFIX": "has space"}, "FIRSTTOKEN_REDIS_PREFIX"),
        ({"FIRSTTOKEN_RESPONSE_CACHE": "maybe"}, "FIRSTTOKEN_RESPONSE_CACHE"),
    ],
)
def test_bad_values_fail_naming_the_key_and_not_the_secret(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.key == key
    assert "secret" not in str(caught.value)


def test_memory_is_the_default_and_reports_nothing_new(emulator: Emulator) -> None:
    with Engine(Settings(base_url=emulator.base_url)) as engine:
        assert engine.shared.kind == "memory"
        assert "state" not in engine.metrics_snapshot()
