"""The three adapters look alike: one handle shape, one missing-framework error, public imports only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import firsttoken

pytest.importorskip("django")
pytest.importorskip("flask")
pytest.importorskip("starlette")

import firsttoken_django
import firsttoken_flask
import firsttoken_starlette

ADAPTERS = (firsttoken_django, firsttoken_flask, firsttoken_starlette)
HANDLE_MEMBERS = (
    "engine",
    "settings",
    "client",
    "async_client",
    "metrics_snapshot",
    "stream_response",
    "chat_response",
    "astream_response",
    "achat_response",
)
ROOT = Path(__file__).resolve().parents[2] / "integrations"


def _signature(handle: type, name: str) -> object:
    """Parameters as a caller sees them; return types are each framework's own response class."""
    member = inspect.getattr_static(handle, name)
    if not callable(member):
        return "attribute"  # a property or a slot
    params = [(p.name, p.kind, p.default) for p in inspect.signature(member).parameters.values()]
    # The a-forms are coroutines everywhere; Starlette's plain forms are too, having no sync views.
    return params, inspect.iscoroutinefunction(member) or not name.startswith("a")


def test_one_handle_shape_in_every_framework() -> None:
    shapes = {
        adapter.__name__: {name: _signature(adapter.FirstToken, name) for name in HANDLE_MEMBERS}
        for adapter in ADAPTERS
    }
    django, flask, starlette = shapes.values()
    assert django == flask == starlette, shapes


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
                if m.split(".")[0] == "firsttoken" and m not in ("firsttoken",)
            ]
    assert private == []
