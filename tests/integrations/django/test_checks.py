"""Each system check id, triggered and then silenced through SILENCED_SYSTEM_CHECKS."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

OK = {"BASE_URL": "http://127.0.0.1:9"}
MIDDLEWARE = [
    "django.middleware.gzip.GZipMiddleware",
    "firsttoken_django.middleware.FirstTokenMiddleware",
]

CASES = [
    ("firsttoken.E001", {**OK, "TIMEOUTS": 5}, {}),
    ("firsttoken.E001", {**OK, "timeout": 5}, {}),
    ("firsttoken.E002", {**OK, "TIMEOUT": "soon"}, {}),
    ("firsttoken.E002", {**OK, "PROFILES": {"chat": {"max_tokens": 0}}}, {}),
    ("firsttoken.E002", ["not", "a", "dict"], {}),
    ("firsttoken.E003", {**OK, "PROFILES": {"chat": {"model": "gpt-4o"}}}, {}),
    ("firsttoken.E004", {"EMULATOR": "off"}, {}),
    ("firsttoken.E005", {"DEVELOPMENT": False}, {}),
    ("firsttoken.W001", {**OK, "PROFILES": {"deep": {"max_tokens": 32000}}}, {}),
    ("firsttoken.W002", {**OK, "PROFILES": {"fast": {"model": "claude-opus-5-5", "max_tokens": 20}}}, {}),
    ("firsttoken.W003", {**OK, "MAX_RETRIES": 0}, {}),
    ("firsttoken.W004", {"EMULATOR": "always"}, {}),
    ("firsttoken.W005", OK, {"MIDDLEWARE": ["django.middleware.gzip.GZipMiddleware"]}),
]


def _check(**overrides: object) -> str:
    out, err = io.StringIO(), io.StringIO()
    with override_settings(**overrides):
        try:
            call_command("check", tags=["firsttoken"], stdout=out, stderr=err)
        except SystemCheckError as exc:
            return f"{exc}"
    return out.getvalue() + err.getvalue()


@pytest.fixture(autouse=True)
def _no_upstream_env(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # As under `manage.py check`: pytest's own variable makes every run a development one.
    monkeypatch.delenv("PYTEST_VERSION", raising=False)


@pytest.mark.parametrize(
    ("check_id", "config", "extra"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_check_fires_with_a_hint_and_can_be_silenced(check_id, config, extra):
    extra = {"MIDDLEWARE": MIDDLEWARE, **extra}
    report = _check(FIRSTTOKEN=config, SILENCED_SYSTEM_CHECKS=[], **extra)
    assert check_id in report
    assert "HINT:" in report
    silenced = _check(FIRSTTOKEN=config, SILENCED_SYSTEM_CHECKS=[check_id], **extra)
    assert check_id not in silenced


def test_a_sound_configuration_passes():
    assert "firsttoken." not in _check(FIRSTTOKEN=OK, MIDDLEWARE=MIDDLEWARE)


def test_every_bad_key_is_reported_at_once():
    report = _check(
        FIRSTTOKEN={**OK, "TIMEOUT": -1, "HEARTBEAT_INTERVAL": "x", "NOPE": 1}, MIDDLEWARE=MIDDLEWARE
    )
    assert report.count("firsttoken.E002") == 2
    assert 'FIRSTTOKEN["TIMEOUT"]' in report
    assert 'FIRSTTOKEN["HEARTBEAT_INTERVAL"]' in report
    assert "firsttoken.E001" in report


def test_a_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("FIRSTTOKEN_TIMEOUT", "later")
    report = _check(FIRSTTOKEN=OK, MIDDLEWARE=MIDDLEWARE)
    assert "FIRSTTOKEN_TIMEOUT" in report
    assert "firsttoken.E002" in report


def test_the_api_key_is_never_printed():
    secret = "sk-ant-do-not-print-me"
    report = _check(FIRSTTOKEN={"API_KEY": secret, "EMULATOR": "bogus"}, MIDDLEWARE=MIDDLEWARE)
    assert "firsttoken.E002" in report
    assert secret not in report


def test_environment_and_setting_profiles_merge_field_by_field(monkeypatch):
    from firsttoken_django.conf import load_settings

    monkeypatch.setenv("FIRSTTOKEN_PROFILES", '{"chat": {"model": "claude-sonnet-4-6"}}')
    settings = load_settings({**OK, "PROFILES": {"chat": {"MAX_TOKENS": 300}}})
    assert settings.profile("chat").model == "claude-sonnet-4-6"
    assert settings.profile("chat").max_tokens == 300


def test_a_short_timeout_warns_only_about_the_profiles_the_user_wrote():
    """The Django quickstart's `"TIMEOUT": 60` made W001 name the built-in `deep` profile, which the
    user never touched; a profile they wrote (or changed) is still checked against it."""
    quickstart = {**OK, "PROFILES": {"chat": {"max_tokens": 300}}, "TIMEOUT": 60}
    assert "firsttoken." not in _check(FIRSTTOKEN=quickstart, MIDDLEWARE=MIDDLEWARE)
    changed = {**quickstart, "PROFILES": {"deep": {"max_tokens": 8192}}}
    report = _check(FIRSTTOKEN=changed, MIDDLEWARE=MIDDLEWARE)
    assert "firsttoken.W001" in report
    assert "FIRSTTOKEN[\"PROFILES\"]['deep']" in report


def test_development_without_a_key_is_not_a_warning():
    """Every runserver of a fresh quickstart project printed W004: the emulator answering in
    development with no key is the default, which the start-up line already announces."""
    assert "firsttoken." not in _check(FIRSTTOKEN={"DEVELOPMENT": True}, MIDDLEWARE=MIDDLEWARE)
