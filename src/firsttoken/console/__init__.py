"""The chat page and the dashboard, shipped as package data so that any app can serve them.

No framework is imported here: each adapter's `console()` (a Starlette mount, a Flask blueprint,
Django URL patterns) serves the same routes over what this module decides once: which files exist,
their content types, the headers every answer carries, and the refusal.

Under the console's mount, relative to it (so any prefix works: the pages use relative URLs):

    GET  ""                        the chat page (index.html)
    GET  dashboard                 the dashboard
    GET  static/<file>             the pages' scripts, styles and vendored uPlot
    POST api/chat                  the chat API, as the example contract says,
    GET  api/chat/<id>/stream        unless the app serves its own beside
    POST api/chat/<id>/stop          the pages (`api=False`)
    POST api/warm
    GET  api/metrics
    GET  metrics                   the Prometheus scrape

Off unless the app is in development (Django's `DEBUG`, Flask's `app.debug`, Starlette's
`debug=True`) or the app's access check allows the request: a production server never serves them
by accident.
"""

from __future__ import annotations

import mimetypes
import secrets
from pathlib import Path

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "GRAFANA_DASHBOARD",
    "HEADERS",
    "OWNER_COOKIE",
    "PAGES",
    "REFUSAL",
    "STATIC_DIR",
    "asset",
    "content_type",
    "new_owner",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The Grafana dashboard over the Prometheus scrape (`GET /metrics`): the dashboard's panels.
GRAFANA_DASHBOARD = Path(__file__).resolve().parent / "grafana" / "firsttoken.json"

# The page and the dashboard, by their path under the mount.
PAGES = {"": "index.html", "dashboard": "dashboard.html"}

# No inline script or style anywhere, and nothing from another origin (no CDN): the pages load
# their own files, talk to their own API and cannot be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# On every answer of the console, the refusal included.
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Who may resume or stop an answer: a random id the page's answer sets in this cookie (HttpOnly),
# for the console's own API, or an app's views serving the API beside it, when there is no session.
OWNER_COOKIE = "firsttoken_owner"

REFUSAL = {
    "error": "the firsttoken console is served only in development, or to requests the app's "
    "access check allows (see docs/console.md)"
}


def new_owner() -> str:
    return secrets.token_urlsafe(18)


def _files() -> dict[str, Path]:
    return {
        path.relative_to(STATIC_DIR).as_posix(): path
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


# Read once: the package's files do not change while it runs, and a name that is not one of them
# (`../settings.py`, an absolute path) is never joined to a folder.
_FILES = _files()


def asset(name: str) -> Path | None:
    """The static file `name` (`chat.js`, `vendor/uPlot.iife.min.js`), or None for any other name."""
    return _FILES.get(name)


def content_type(path: Path) -> str:
    """The file's content type, text in UTF-8 (the platform's mimetypes table can lack `.js`)."""
    kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}
    found = kind.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{found}; charset=utf-8" if found.startswith("text/") or found.endswith("json") else found
