"""WSGI entry point, for a server that streams safely (threads; not gunicorn's default sync worker):
`gunicorn -k gthread --threads 32 --graceful-timeout 120 example_projects.django_chat.wsgi:application`,
or `granian --interface wsgi --blocking-threads 32 example_projects.django_chat.wsgi:application`.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_projects.django_chat.settings")

application = get_wsgi_application()
