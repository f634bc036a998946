from django.urls import path

from . import views

urlpatterns = [
    path("", views.page),
    path("api/chat", views.chat),
    path("api/chat/<str:response_id>/stream", views.resume),
    path("api/chat/<str:response_id>/stop", views.stop),
    path("api/warm", views.warm),
    path("api/metrics", views.metrics),
    path("metrics", views.prometheus),
    path("dashboard", views.dashboard),
    path("healthz", views.healthz),
    path("static/<path:path>", views.static),
]
