"""`REDIS_CACHE_ALIAS` points firsttoken's shared state at a Redis cache from `CACHES`."""

from __future__ import annotations

import pytest
from django.test import override_settings

from firsttoken import SettingsError
from firsttoken_django.conf import load_settings

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": ["redis://10.0.0.5:6379/3", "redis://10.0.0.6:6379/3"],
    },
}


@override_settings(CACHES=CACHES)
def test_the_alias_becomes_redis_url() -> None:
    settings = load_settings({"BASE_URL": "http://127.0.0.1:9", "REDIS_CACHE_ALIAS": "shared"})
    # The first LOCATION is the primary, the one that takes writes.
    assert settings.redis_url == "redis://10.0.0.5:6379/3"


@override_settings(CACHES=CACHES)
@pytest.mark.parametrize("alias", ["default", "missing"])
def test_an_alias_that_is_not_a_redis_cache_fails_naming_the_key(alias: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"BASE_URL": "http://127.0.0.1:9", "REDIS_CACHE_ALIAS": alias})
    assert caught.value.key == 'FIRSTTOKEN["REDIS_CACHE_ALIAS"]'
