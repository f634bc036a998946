"""The example project with Django's CSRF protection on, as `django-admin startproject` has it."""

from example_projects.django_chat.settings import *  # noqa: F403
from example_projects.django_chat.settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "django.middleware.csrf.CsrfViewMiddleware"]
