"""firsttoken's chat page, dashboard and chat API, in one line of a URLconf:

    path("firsttoken/", include("firsttoken_django.urls"))


Served when `DEBUG` is on or to active staff users; `include(firsttoken_django.console(allow=...))`
for another access check (`firsttoken_django.console`).
"""

from .console import console

urlpatterns = console()
