import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django.project.settings")

from firsttoken_django.asgi import get_asgi_application

# GUARD=1 forces the Django 4.2 disconnect guard, so it is tested on the installed Django too.
application = get_asgi_application(guard_disconnects=True if os.environ.get("GUARD") == "1" else None)
