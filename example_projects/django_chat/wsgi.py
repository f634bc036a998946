"""WSGI entry point: `gunicorn example_projects.django_chat.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_projects.django_chat.settings")

application = get_wsgi_application()
