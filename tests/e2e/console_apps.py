"""One production app per framework mounting firsttoken's console twice, for the browser tests:
`/firsttoken/` with no access check (refused: the app is not in development) and `/open/` with one
that lets everyone in. Each runs under its framework's own server (`python -m tests.e2e.console_apps
<framework>`, on 127.0.0.1:$PORT); `GET /healthz` answers once it serves.

The Django app is this module too: its settings and URLconf (`DJANGO_SETTINGS_MODULE` names it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

# -- Django: this module is the settings and the URLconf ---------------------------------------------

DEBUG = False
SECRET_KEY = "firsttoken-console-test-not-secret"
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["firsttoken_django"]
MIDDLEWARE = ["firsttoken_django.middleware.FirstTokenMiddleware"]
DATABASES: dict[str, Any] = {}
USE_TZ = True


def _everyone(request: Any) -> bool:
    return True


def _urlpatterns() -> list[Any]:
    from django.http import JsonResponse
    from django.urls import include, path

    from firsttoken_django import console

    return [
        path("firsttoken/", include("firsttoken_django.urls")),
        path("open/", include(console(allow=_everyone))),
        path("healthz", lambda request: JsonResponse({"ok": True})),
    ]


def __getattr__(name: str) -> Any:
    # Built on first use: Django reads the URLconf once its settings are configured.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


# -- Starlette and Flask ---------------------------------------------------------------------------


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from firsttoken_starlette import FirstTokenMiddleware, console

    async def healthz(request: Any) -> Any:
        return JSONResponse({"ok": True})

    routes = [
        Route("/healthz", healthz),
        Mount("/firsttoken", app=console()),
        Mount("/open", app=console(allow=_everyone)),
    ]
    return Starlette(debug=False, routes=routes, middleware=[Middleware(FirstTokenMiddleware)])


def flask_app() -> Any:
    from flask import Flask

    from firsttoken_flask import FirstToken, console

    app = Flask(__name__)
    FirstToken(app)
    app.register_blueprint(console(), url_prefix="/firsttoken")
    app.register_blueprint(console(allow=_everyone), url_prefix="/open", name="open_console")
    app.add_url_rule("/healthz", "healthz", lambda: {"ok": True})
    return app


def main(framework: str) -> None:
    port = int(os.environ["PORT"])
    if framework == "starlette":
        import uvicorn

        uvicorn.run(starlette_app(), host="127.0.0.1", port=port, log_level="warning")
    elif framework == "flask":
        flask_app().run(host="127.0.0.1", port=port, threaded=True)
    else:
        from django.core.management import execute_from_command_line

        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.e2e.console_apps"
        execute_from_command_line(["manage", "runserver", f"127.0.0.1:{port}", "--noreload"])


if __name__ == "__main__":
    main(sys.argv[1])
