"""FirstToken as a Flask extension: registration, config keys, lifecycle, contexts, async views."""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest
from flask import Flask

from firsttoken import Engine, Settings, SettingsError
from firsttoken.testing.emulator import Emulator
from firsttoken_flask import CONFIG_KEYS, EXTENSION_KEY, FirstToken, FlaskNotInstalled, get_engine

from . import streaming_app


def make_app(emulator: Emulator, **config: object) -> Flask:
    app = Flask("firsttoken-test")
    app.config.update({"ANTHROPIC_BASE_URL": emulator.base_url, "FIRSTTOKEN_MAX_RETRIES": 0, **config})
    return app


@pytest.fixture
def ext() -> FirstToken:
    return FirstToken()


@pytest.fixture
def app(emulator: Emulator, ext: FirstToken) -> Iterator[Flask]:
    app = make_app(emulator)
    ext.init_app(app)
    yield app
    app.extensions[EXTENSION_KEY].close()


def test_init_app_registers_one_engine(app: Flask, ext: FirstToken) -> None:
    engine = app.extensions[EXTENSION_KEY]
    assert isinstance(engine, Engine)
    assert engine.upstream.kind == "base_url"
    with app.app_context():
        assert ext.engine is engine
        assert ext.client is engine.client
    with pytest.raises(RuntimeError, match="already registered"):
        ext.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        FirstToken(app)


def test_app_passed_to_the_constructor(emulator: Emulator) -> None:
    app = make_app(emulator)
    ext = FirstToken(app)
    with app.app_context():
        assert ext.engine is get_engine() is app.extensions[EXTENSION_KEY]
        get_engine().close()
        assert get_engine().closed


def test_several_apps_in_one_process_each_get_their_own_engine(emulator: Emulator, ext: FirstToken) -> None:
    short = make_app(emulator, FIRSTTOKEN_PROFILES={"chat": {"max_tokens": 7}})
    long = make_app(emulator, FIRSTTOKEN_PROFILES={"chat": {"max_tokens": 700}})
    ext.init_app(short)
    ext.init_app(long)
    try:
        with short.app_context():
            short_engine = ext.engine
            assert ext.engine.profile("chat").max_tokens == 7
        with long.app_context():
            assert ext.engine is not short_engine
            assert ext.engine.profile("chat").max_tokens == 700
            assert ext.client is not short_engine.client
    finally:
        short.extensions[EXTENSION_KEY].close()
        long.extensions[EXTENSION_KEY].close()
    assert short_engine.closed


def test_config_defaults_are_filled_in_and_documented(app: Flask) -> None:
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        if field.name in ("api_key", "base_url", "profiles", "max_retries"):
            continue
        assert app.config[f"FIRSTTOKEN_{field.name.upper()}"] == getattr(defaults, field.name)
    assert set(app.config["FIRSTTOKEN_PROFILES"]) == {"fast", "chat", "deep"}
    # The keys are named by their rule and described on the settings reference page, not listed.
    shared = {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}
    keys = tuple(shared.get(f.name, f"FIRSTTOKEN_{f.name.upper()}") for f in dataclasses.fields(Settings))
    assert keys == CONFIG_KEYS
    docstring = FirstToken.init_app.__doc__ or ""
    assert "`FIRSTTOKEN_<SETTING>`" in docstring
    assert "(settings.md)" in docstring


def test_api_key_is_read_but_never_copied_into_config(emulator: Emulator, ext: FirstToken) -> None:
    app = make_app(emulator)
    del app.config["ANTHROPIC_BASE_URL"]
    app.config["ANTHROPIC_API_KEY"] = "sk-ant-secret-from-config"
    ext.init_app(app)
    try:
        engine = app.extensions[EXTENSION_KEY]
        assert engine.upstream.kind == "anthropic"
        assert engine.settings.api_key == "sk-ant-secret-from-config"
        assert "sk-ant-secret" not in repr(engine) + repr(engine.settings) + repr(engine.upstream)
        assert not [k for k in app.config if k.startswith("FIRSTTOKEN_") and "secret" in str(app.config[k])]
    finally:
        app.extensions[EXTENSION_KEY].close()


def test_environment_fills_in_what_config_leaves_out(
    emulator: Emulator, ext: FirstToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRSTTOKEN_TIMEOUT", "33")
    monkeypatch.setenv("FIRSTTOKEN_HEARTBEAT_INTERVAL", "not a number")  # overridden below: never parsed
    app = make_app(emulator, FIRSTTOKEN_HEARTBEAT_INTERVAL=4.0)
    ext.init_app(app)
    try:
        assert app.config["FIRSTTOKEN_TIMEOUT"] == 33.0
        assert app.extensions[EXTENSION_KEY].settings.timeout == 33.0
        assert app.extensions[EXTENSION_KEY].settings.heartbeat_interval == 4.0
    finally:
        app.extensions[EXTENSION_KEY].close()


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"FIRSTTOKEN_TIMEOUT": -1}, "FIRSTTOKEN_TIMEOUT"),
        ({"FIRSTTOKEN_MAX_CONNECTIONS": "many"}, "FIRSTTOKEN_MAX_CONNECTIONS"),
        ({"FIRSTTOKEN_EMULATOR": "sometimes"}, "FIRSTTOKEN_EMULATOR"),
        ({"FIRSTTOKEN_DEFAULT_PROFILE": "nope"}, "FIRSTTOKEN_DEFAULT_PROFILE"),
        ({"FIRSTTOKEN_PROFILES": {"chat": {"max_tokens": 0}}}, "FIRSTTOKEN_PROFILES['chat']['max_tokens']"),
        ({"FIRSTTOKEN_TIMOUT": 30}, "FIRSTTOKEN_TIMOUT"),
        ({"ANTHROPIC_BASE_URL": "localhost:1234"}, "ANTHROPIC_BASE_URL"),
    ],
)
def test_bad_config_fails_in_init_app_naming_the_key(
    emulator: Emulator, ext: FirstToken, config: dict[str, object], key: str
) -> None:
    app = make_app(emulator, **config)
    with pytest.raises(SettingsError) as caught:
        ext.init_app(app)
    assert caught.value.key == key
    assert EXTENSION_KEY not in app.extensions


def test_no_app_context_and_no_init_app_are_explained(ext: FirstToken) -> None:
    with pytest.raises(RuntimeError, match="needs an application context"):
        ext.engine  # noqa: B018
    with pytest.raises(RuntimeError, match="needs an application context"):
        get_engine()
    bare = Flask("bare")
    with (
        bare.app_context(),
        pytest.raises(RuntimeError, match=r"did you forget to call firsttoken\.init_app"),
    ):
        ext.engine  # noqa: B018


def test_engine_closes_when_its_app_is_collected(emulator: Emulator, ext: FirstToken) -> None:
    app = make_app(emulator)
    ext.init_app(app)
    engine = app.extensions[EXTENSION_KEY]
    with app.app_context():
        assert ext.client is not None  # opens the pool
    del app
    gc.collect()
    assert engine.closed


def test_closed_engine_refuses_calls(app: Flask, ext: FirstToken) -> None:
    app.extensions[EXTENSION_KEY].close()
    app.extensions[EXTENSION_KEY].close()  # idempotent
    with app.app_context(), pytest.raises(RuntimeError, match="closed"):
        ext.client  # noqa: B018


def test_async_view_awaits_twice_on_fresh_loops(emulator: Emulator) -> None:
    pytest.importorskip("asgiref")
    app = streaming_app.create_app({"ANTHROPIC_BASE_URL": emulator.base_url, "FIRSTTOKEN_MAX_RETRIES": 0})
    try:
        client = app.test_client()
        first = client.get("/async-create")
        second = client.get("/async-create")
        assert first.status_code == second.status_code == 200, first.text
        assert len(first.json["texts"]) == 2
        assert all(first.json["texts"])
    finally:
        app.extensions[EXTENSION_KEY].close()


def test_import_without_flask_names_what_to_install() -> None:
    code = (
        "import sys; sys.modules['flask'] = None\n"
        "try:\n    import firsttoken_flask\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert (
        out.strip()
        == f"{FlaskNotInstalled.__name__} firsttoken_flask needs Flask: pip install 'firsttoken[flask]'"
    )
