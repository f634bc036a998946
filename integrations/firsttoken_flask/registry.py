"""Where an app keeps its engine: `app.extensions["firsttoken"]`, found with `get_engine()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, has_app_context

from firsttoken import Engine

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["EXTENSION_KEY", "engine_of", "get_engine"]

EXTENSION_KEY = "firsttoken"


def get_engine(app: Flask | None = None) -> Engine:
    """The engine `init_app` registered on `app` (default: the current app, as in a view or command)."""
    if app is None:
        if not has_app_context():
            raise RuntimeError(
                "firsttoken.engine needs an application context: use it inside a view or a CLI "
                "command, or wrap the code in `with app.app_context():`"
            )
        app = current_app
    engine = app.extensions.get(EXTENSION_KEY)
    if not isinstance(engine, Engine):
        raise RuntimeError(
            f"firsttoken is not registered on the app {app.name!r}; did you forget to call "
            "firsttoken.init_app(app)?"
        )
    return engine


# The name this adapter used before `get_engine`, kept working.
engine_of = get_engine
