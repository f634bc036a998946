"""The three adapters look alike: one handle shape, one missing-framework error, public imports only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import firsttoken

pytest.importorskip("django")
pytest.importorskip("flask")
pytest.importorskip("starlette")

import firsttoken_django
import firsttoken_flask
import firsttoken_starlette

ADAPTERS = (firsttoken_django, firsttoken_flask, firsttoken_starlette)
# Flask's handle is its extension object (as flask-sqlalchemy's `db` is both the registration and
# `db.session`), so it also has the registration Flask's pattern requires; nothing else differs.
REGISTRATION = {"firsttoken_flask": {"init_app"}}
ROOT = Path(__file__).resolve().parents[2] / "integrations"


def _signature(member: object, name: str) -> object:
    """Parameters as a caller sees them; return types are each framework's own response class."""
    if not callable(member):
        return "attribute"  # a property or a slot
    params = [(p.name, p.kind, p.default) for p in inspect.signature(member).parameters.values()]
    # The a-forms are coroutines everywhere; Starlette's plain forms are too, having no sync views.
    return params, inspect.iscoroutinefunction(member) or not name.startswith("a")


def _shape(adapter: ModuleType) -> dict[str, object]:
    """Every public member of the adapter's handle, and its `get_engine`."""
    handle = adapter.FirstToken
    names = {n for n in dir(handle) if not n.startswith("_")} - REGISTRATION.get(adapter.__name__, set())
    shape = {name: _signature(inspect.getattr_static(handle, name), name) for name in sorted(names)}
    shape["get_engine()"] = _signature(adapter.get_engine, "get_engine")
    return shape


def test_one_handle_shape_in_every_framework() -> None:
    shapes = {adapter.__name__: _shape(adapter) for adapter in ADAPTERS}
    django, flask, starlette = shapes.values()
    assert django == flask == starlette, shapes
    # The views' whole surface, so a member that leaves every adapter at once is seen too.
    assert set(django) >= {
        "request", "engine", "read_chat", "chat", "warm", "resume", "stop", "stream_response",
        "chat_response", "metrics_response", "get_engine()",
    }  # fmt: skip


def test_a_member_of_one_adapter_alone_is_a_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shape is read from the classes, not from a list: a member added to one handle shows.
    before = _shape(firsttoken_flask)
    monkeypatch.setattr(firsttoken_flask.FirstToken, "summary", lambda self: None, raising=False)
    assert _shape(firsttoken_flask) != before
    assert _shape(firsttoken_flask) != _shape(firsttoken_django)


def test_get_engine_is_exported_by_every_adapter() -> None:
    assert all("get_engine" in adapter.__all__ for adapter in ADAPTERS)


def test_one_console_mount_in_every_framework() -> None:
    # The page and the dashboard: a Starlette mount, a Flask blueprint, Django URL patterns.
    signatures = {str(inspect.signature(adapter.console)).split(" ->")[0] for adapter in ADAPTERS}
    assert signatures == {"(*, allow: 'Allow | None' = None, api: 'bool' = True)"}, signatures


def test_one_missing_framework_error() -> None:
    errors = {firsttoken_django.DjangoNotInstalled, firsttoken_flask.FlaskNotInstalled}
    errors.add(firsttoken_starlette.StarletteNotInstalled)
    assert errors == {firsttoken.FrameworkNotInstalled}


def test_adapters_import_only_public_names() -> None:
    private = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                names = [alias.name for alias in node.names]
                if node.module == "firsttoken":
                    modules += [f"firsttoken.{n}" for n in names if n not in firsttoken.__all__]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            private += [
                f"{path.relative_to(ROOT)}: {m}"
                for m in modules
                # `firsttoken.console` is public: the package data every adapter serves.
                if m.split(".")[0] == "firsttoken" and m not in ("firsttoken", "firsttoken.console")
            ]
    assert private == []
