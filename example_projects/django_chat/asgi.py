"""ASGI entry point, for async views:
`uvicorn example_projects.django_chat.asgi:application --http httptools`.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_projects.django_chat.settings")

from firsttoken_django.asgi import get_asgi_application

application = get_asgi_application()
