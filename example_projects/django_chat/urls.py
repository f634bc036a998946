"""The contract's routes. The views match the server, as Django's async docs advise: async ones
where `asgi.py` serves them (a stream costs no thread), sync ones under WSGI (gunicorn,
`runserver`), where Django would run each async view in an event loop of its own, made for the
request and on another thread: 2.7 ms more per request before the first token (BENCHMARKS.md)."""

import os

from django.urls import include, path

from firsttoken_django import console

from . import aviews, views

streams = aviews if os.environ.get("DJANGO_CHAT_VIEWS") == "async" else views

urlpatterns = [
    path("api/chat", streams.chat),
    path("api/chat/<str:response_id>/stream", streams.resume),
    path("api/chat/<str:response_id>/stop", streams.stop),
    path("api/chat/<str:chat_id>/messages", streams.held),
    path("api/warm", streams.warm),
    path("api/metrics", views.metrics),
    path("metrics", views.prometheus),
    path("healthz", views.healthz),
    # The packaged page at `/`, the dashboard at `/dashboard`, their files at `/static/`; the chat
    # API they call is the views above (api=False).
    path("", include(console(api=False, allow=views.from_this_machine))),
]
