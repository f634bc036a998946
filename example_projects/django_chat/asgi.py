"""ASGI entry point, for async views:
`uvicorn example_projects.django_chat.asgi:application --http httptools`, or
`granian --interface asgi example_projects.django_chat.asgi:application`.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_projects.django_chat.settings")
# Read by urls.py, which Django imports on the first request: the async views are served here.
os.environ["DJANGO_CHAT_VIEWS"] = "async"

from firsttoken_django.asgi import get_asgi_application

application = get_asgi_application()
