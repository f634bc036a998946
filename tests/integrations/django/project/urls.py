from django.urls import path

from example_projects.django_chat.urls import urlpatterns as example_urlpatterns

from . import views

urlpatterns = [
    *example_urlpatterns,
    path("test/sync-chat", views.sync_chat),
    path("test/async-chat", views.async_chat),
    path("test/misuse", views.misuse),
]
