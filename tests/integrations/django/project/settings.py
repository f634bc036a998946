"""The example project's settings, plus test-only routes: sync views and every wire format."""

from example_projects.django_chat.settings import *  # noqa: F403

ROOT_URLCONF = "tests.integrations.django.project.urls"
