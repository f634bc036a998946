"""`python -m example_projects.django_chat`: Django's development server on 127.0.0.1:$PORT, no reloader.

In production, a server that streams safely (docs/deployment.md):

    gunicorn -k gthread --threads 32 --graceful-timeout 120 example_projects.django_chat.wsgi:application
    uvicorn example_projects.django_chat.asgi:application --http httptools
"""

from __future__ import annotations

import os

import django
from django.core.management import call_command


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_projects.django_chat.settings")
    # `make demo` is development: with no key, the embedded emulator answers (and the page says so).
    os.environ.setdefault("FIRSTTOKEN_DEVELOPMENT", "1")
    django.setup()
    from firsttoken_django import get_engine

    port = int(os.environ.get("PORT", "8000"))
    engine = get_engine()
    print(f"firsttoken chat on http://127.0.0.1:{port}/", flush=True)
    print(f"answers come from {engine.upstream.describe()['description']}", flush=True)
    try:
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, verbosity=0)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
