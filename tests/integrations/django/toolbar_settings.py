"""The test project with Django Debug Toolbar installed and firsttoken's panel enabled."""

import os

from debug_toolbar.settings import PANELS_DEFAULTS

from tests.integrations.django.project.settings import *  # noqa: F403
from tests.integrations.django.project.settings import INSTALLED_APPS, MIDDLEWARE

DEBUG = True
INTERNAL_IPS = ["127.0.0.1"]
# The toolbar needs staticfiles, which the test project adds (tests/integrations/django/project).
INSTALLED_APPS = [*INSTALLED_APPS, "debug_toolbar"]
STATIC_URL = "/toolbar-static/"
MIDDLEWARE = [*MIDDLEWARE, "debug_toolbar.middleware.DebugToolbarMiddleware"]
ROOT_URLCONF = "tests.integrations.django.toolbar_urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "firsttoken_django.panels.FirstTokenPanel"]
# The test client is not a browser on INTERNAL_IPS; the toolbar shows for every request here.
DEBUG_TOOLBAR_CONFIG = {"SHOW_TOOLBAR_CALLBACK": lambda request: True, "IS_RUNNING_TESTS": False}
FIRSTTOKEN = {"BASE_URL": os.environ["ANTHROPIC_BASE_URL"], "MAX_RETRIES": 0}
