import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django.project.settings")

from firsttoken_django.asgi import get_asgi_application

application = get_asgi_application()
