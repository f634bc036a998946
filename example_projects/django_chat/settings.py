"""A minimal Django project: no database, no sessions, just the chat page and its API.

The upstream comes from the environment, per the example contract: `ANTHROPIC_BASE_URL`, else
`ANTHROPIC_API_KEY`, else the embedded emulator.
"""

from __future__ import annotations

import os

from example_projects.agent_tools import AGENT, CHAT
from example_projects.extract import EXTRACT

# Only ever served on loopback; a real deployment sets its own secret.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "firsttoken-example-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "firsttoken_django",
]

MIDDLEWARE = [
    # First, as Django's docs ask; firsttoken keeps its streams out of it so tokens are not held.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "firsttoken_django.middleware.FirstTokenMiddleware",
]

ROOT_URLCONF = "example_projects.django_chat.urls"
WSGI_APPLICATION = "example_projects.django_chat.wsgi.application"
ASGI_APPLICATION = "example_projects.django_chat.asgi.application"

DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

FIRSTTOKEN: dict[str, object] = {
    # Profiles, timeouts and the rest are firsttoken's defaults; the environment can override any
    # of them (FIRSTTOKEN_TIMEOUT=...), and keys set here override the environment.
    # The contract's `agent` profile: its tools run on the server (example_projects/agent_tools.py).
    "PROFILES": {"agent": AGENT, "chat": CHAT, "extract": EXTRACT},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"firsttoken": {"handlers": ["console"], "level": "WARNING"}},
}
