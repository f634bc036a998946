"""The test project under gunicorn; `FORK_TEST=1` opens the engine's client before the fork (--preload)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django.project.settings")

application = get_wsgi_application()

if os.environ.get("FORK_TEST") == "1":
    from firsttoken_django import get_engine

    # A real call in the master: its pooled connection is what a forked worker must not reuse.
    with get_engine().stream(messages=[{"role": "user", "content": "warm"}], profile="fast") as stream:
        stream.text()
