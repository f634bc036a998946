"""Settings: validated once, a wrong value names its key, the API key is never echoed."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pytest

from firsttoken import DEFAULT_PROFILES, Profile, Settings, SettingsError


def test_defaults_follow_the_performance_tuning_guide() -> None:
    s = Settings()
    assert s.timeout == 120.0
    assert s.default_profile == "chat"
    assert set(s.profiles) == {"fast", "chat", "deep"}
    assert "haiku" in s.profile("fast").model
    assert "sonnet" in s.profile("chat").model
    assert "opus" in s.profile("deep").model
    assert s.profile("fast").max_tokens < s.profile("chat").max_tokens


def test_profile_models_are_ones_the_sdk_knows() -> None:
    from typing import get_args

    from anthropic.types import ModelParam

    known = set(get_args(get_args(ModelParam)[0]))
    for profile in DEFAULT_PROFILES.values():
        assert profile.model in known


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"timeout": 0}, "FIRSTTOKEN_TIMEOUT", "positive number"),
        ({"timeout": "soon"}, "FIRSTTOKEN_TIMEOUT", "positive number"),
        ({"max_retries": -1}, "FIRSTTOKEN_MAX_RETRIES", "non-negative integer"),
        ({"max_retries": 1.5}, "FIRSTTOKEN_MAX_RETRIES", "integer"),
        ({"emulator": "sometimes"}, "FIRSTTOKEN_EMULATOR", "auto, off, always"),
        ({"aisdk_protocol": "4"}, "FIRSTTOKEN_AISDK_PROTOCOL", "one of 5, 6, 7"),
        ({"aisdk_protocol": 7}, "FIRSTTOKEN_AISDK_PROTOCOL", "one of 5, 6, 7"),
        ({"base_url": "ftp://x"}, "FIRSTTOKEN_BASE_URL", "http"),
        ({"default_profile": "huge"}, "FIRSTTOKEN_DEFAULT_PROFILE", "names no profile"),
        ({"advisor": "yes"}, "FIRSTTOKEN_ADVISOR", "true or false"),
        ({"colour": "blue"}, "FIRSTTOKEN_COLOUR", "unknown setting"),
        (
            {"profiles": {"chat": {"max_tokens": 0}}},
            "FIRSTTOKEN_PROFILES['chat']['max_tokens']",
            "positive integer",
        ),
        ({"profiles": {"chat": {"temperature": 3}}}, "FIRSTTOKEN_PROFILES['chat']['temperature']", "0 to 1"),
        ({"profiles": {"chat": {"speed": "ludicrous"}}}, "FIRSTTOKEN_PROFILES['chat']['speed']", "standard"),
        ({"profiles": {"chat": {"size": 1}}}, "FIRSTTOKEN_PROFILES['chat']['size']", "unknown profile field"),
        (
            {"profiles": {"new": {"model": "claude-haiku-5-5"}}},
            "FIRSTTOKEN_PROFILES['new']['max_tokens']",
            "required",
        ),
        ({"profiles": ["chat"]}, "FIRSTTOKEN_PROFILES", "must map"),
    ],
)
def test_a_bad_value_names_the_key(data: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_mapping(data, key_name=lambda k: f"FIRSTTOKEN_{k.upper()}")
    assert caught.value.key == key


def test_profiles_merge_over_the_defaults() -> None:
    s = Settings.from_mapping(
        {"profiles": {"chat": {"max_tokens": 300}, "tiny": {"model": "claude-haiku-5-5", "max_tokens": 5}}}
    )
    assert s.profile("chat").max_tokens == 300
    assert s.profile("chat").model == DEFAULT_PROFILES["chat"].model
    assert s.profile("tiny") == Profile(model="claude-haiku-5-5", max_tokens=5)
    assert "fast" in s.profiles


def test_from_env_reads_anthropic_and_firsttoken_variables() -> None:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "FIRSTTOKEN_TIMEOUT": "30",
        "FIRSTTOKEN_MAX_RETRIES": "5",
        "FIRSTTOKEN_ADVISOR": "off",
        "FIRSTTOKEN_PROFILES": '{"fast": {"max_tokens": 64}}',
    }
    s = Settings.from_env(env)
    assert (s.api_key, s.base_url, s.timeout, s.max_retries, s.advisor) == (
        "sk-ant-x",
        "http://127.0.0.1:9",
        30.0,
        5,
        False,
    )
    assert s.profile("fast").max_tokens == 64


def test_from_env_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FIRSTTOKEN_TIMEOUT": "soon"})
    assert caught.value.key == "FIRSTTOKEN_TIMEOUT"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FIRSTTOKEN_GATHER_CONCURRENCY": "0"})
    assert caught.value.key == "FIRSTTOKEN_GATHER_CONCURRENCY"


def test_the_key_is_never_in_repr_or_errors() -> None:
    secret = "sk-ant-very-secret"
    assert secret not in repr(Settings(api_key=secret))
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({"api_key": secret, "timeout": -1})
    assert secret not in str(caught.value)


def test_emulator_off_without_a_key_fails_at_start() -> None:
    from firsttoken import Engine

    with pytest.raises(SettingsError, match="ANTHROPIC_API_KEY"):
        Engine(Settings(emulator="off"))


def test_unknown_profile_at_call_time(emulator: object) -> None:
    from firsttoken import Engine

    with (
        Engine(Settings(base_url="http://127.0.0.1:9")) as engine,
        pytest.raises(KeyError, match="unknown profile 'nope'"),
    ):
        engine.stream(messages=[{"role": "user", "content": "x"}], profile="nope")


def test_from_env_names_override_keys_the_adapters_way() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}, key_name=lambda k: f'FIRSTTOKEN["{k.upper()}"]', timeout=-1)
    assert caught.value.key == 'FIRSTTOKEN["TIMEOUT"]'
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FIRSTTOKEN_TIMEOUT": "-1"}, key_name=lambda k: f"X_{k}", max_retries=1)
    assert caught.value.key == "FIRSTTOKEN_TIMEOUT"


def test_environment_and_override_profiles_merge_field_by_field() -> None:
    profiles = {
        "chat": {"model": "claude-sonnet-4-6"},
        "tiny": {"model": "claude-haiku-5-5", "max_tokens": 5},
    }
    env = {"FIRSTTOKEN_PROFILES": json.dumps(profiles)}
    s = Settings.from_env(env, profiles={"chat": {"max_tokens": 300}})
    assert s.profile("chat").model == "claude-sonnet-4-6"
    assert s.profile("chat").max_tokens == 300
    assert s.profile("tiny").max_tokens == 5


# One setting of each kind of annotation: int, float, bool, a Literal, a mapping.
@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("FIRSTTOKEN_MAX_RETRIES", "two", "cannot be parsed: 'two'"),
        ("FIRSTTOKEN_MAX_RETRIES", "1.5", "cannot be parsed"),
        ("FIRSTTOKEN_TIMEOUT", "soon", "cannot be parsed"),
        ("FIRSTTOKEN_TIMEOUT", "-1", "positive number"),
        ("FIRSTTOKEN_ADVISOR", "maybe", "cannot be parsed"),
        ("FIRSTTOKEN_RESUMABLE", "sometimes", "cannot be parsed"),
        ("FIRSTTOKEN_EMULATOR", "sometimes", "auto, off, always"),
        ("FIRSTTOKEN_PRICING", "{sonnet: 3}", "cannot be parsed"),
        ("FIRSTTOKEN_CACHE_MIN_TOKENS", '{"sonnet": "many"}', "FIRSTTOKEN_CACHE_MIN_TOKENS"),
        ("FIRSTTOKEN_COALESCE_WINDOW", "never", "cannot be parsed"),
    ],
)
def test_a_bad_variable_fails_naming_it(variable: str, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env({variable: text})
    assert caught.value.key.startswith(variable)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_retries": "2"}, "non-negative integer"),
        ({"timeout": True}, "positive number"),
        ({"advisor": 1}, "true or false"),
        ({"warm_ahead": "yes"}, "true or false"),
        ({"resumable": "on"}, "true, false or None"),
        ({"emulator": "sometimes"}, "auto, off, always"),
        ({"pricing": ["sonnet", 3]}, "must map model families"),
    ],
)
def test_a_bad_config_value_fails_naming_its_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_mapping(data, key_name=lambda k: f"FIRSTTOKEN[{k.upper()!r}]")
    assert caught.value.key == f"FIRSTTOKEN[{next(iter(data)).upper()!r}]"


def _as_variable(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping | tuple | list):
        return json.dumps(value if isinstance(value, Mapping) else list(value))
    return str(value)


# A value of each setting (its default where that is not None), as its variable's text: a new
# setting whose annotation the environment parser does not know fails here.
SAMPLES = {
    "api_key": "sk-ant-x",
    "base_url": "http://127.0.0.1:9",
    "coalesce_window": 0.02,
    "warm_lock_dir": "/tmp/locks",
    "redis_url": "redis://127.0.0.1:6379/0",
    "tenant": "acme",
    "browser_profiles": ("fast", "chat"),
    "client_requests_per_minute": 60,
    "client_tokens_per_minute": 0,
    "resumable": False,
    "warm_requests_per_minute": 5,
    "cache_min_tokens": {"sonnet": 2048},
    "pricing": {"sonnet": 3.5},
}


@pytest.mark.parametrize(
    "f", [f for f in dataclasses.fields(Settings) if f.name != "profiles"], ids=lambda f: f.name
)
def test_every_setting_reads_from_its_variable(f: dataclasses.Field[object]) -> None:
    value = SAMPLES.get(f.name, getattr(Settings(), f.name))
    assert value is not None, f"{f.name}: give it a value in SAMPLES"
    variable = {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}.get(
        f.name, f"FIRSTTOKEN_{f.name.upper()}"
    )
    assert getattr(Settings.from_env({variable: _as_variable(value)}), f.name) == value


@pytest.mark.parametrize(
    ("variable", "text", "value"),
    [
        ("FIRSTTOKEN_COALESCE_WINDOW", "off", None),
        ("FIRSTTOKEN_COALESCE_WINDOW", "None", None),
        ("FIRSTTOKEN_CLIENT_REQUESTS_PER_MINUTE", "none", None),
        ("FIRSTTOKEN_RESUMABLE", "none", None),
        ("FIRSTTOKEN_RESUMABLE", "off", False),
        ("FIRSTTOKEN_TENANT", "none", "none"),
        ("FIRSTTOKEN_BROWSER_PROFILES", "fast, chat", ("fast", "chat")),
        ("FIRSTTOKEN_WARM_UP", " Yes ", True),
    ],
)
def test_variables_spell_none_and_lists(variable: str, text: str, value: object) -> None:
    key = variable.removeprefix("FIRSTTOKEN_").lower()
    env = {variable: text, "FIRSTTOKEN_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert getattr(Settings.from_env(env), key) == value
