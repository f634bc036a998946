"""Settings: validated once, a wrong value names its key, the API key is never echoed."""

from __future__ import annotations

import json

import pytest

from firsttoken import DEFAULT_PROFILES, Profile, Settings, SettingsError


def test_defaults_follow_the_guide() -> None:
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
