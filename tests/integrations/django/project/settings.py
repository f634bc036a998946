"""The example project's settings, plus test-only routes: sync views and every wire format."""

from example_projects.django_chat.settings import *  # noqa: F403

ROOT_URLCONF = "tests.integrations.django.project.urls"

# The docs' Django pages run in this session's project too (tests/docs/snippets.py), and theirs
# list staticfiles, which the example no longer needs since the console serves its own files.
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles"]  # noqa: F405
STATIC_URL = "/static/"
