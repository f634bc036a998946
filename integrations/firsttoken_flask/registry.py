"""Where an app keeps its engine: `app.extensions["firsttoken"]`, found with `get_engine()`."""

from __future__ import annotations

from flask import current_app, has_app_context

from firsttoken import Engine

__all__ = ["EXTENSION_KEY", "get_engine"]

EXTENSION_KEY = "firsttoken"


def get_engine() -> Engine:
    """The engine `init_app` registered on the current app: inside a view, a CLI command, or
    `with app.app_context():` (as flask-sqlalchemy's `db.engine`)."""
    if not has_app_context():
        raise RuntimeError(
            "firsttoken's engine needs an application context: use it inside a view or a CLI "
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
