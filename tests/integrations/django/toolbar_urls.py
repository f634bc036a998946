"""A page whose view makes two model calls, and the toolbar's own URLs."""

from debug_toolbar.toolbar import debug_toolbar_urls
from django.http import HttpRequest, HttpResponse
from django.urls import path

USER = [{"role": "user", "content": "Name one reason streaming feels fast."}]


def two_calls(request: HttpRequest) -> HttpResponse:
    engine = request.firsttoken.engine  # type: ignore[attr-defined]
    first = engine.create(messages=USER, profile="fast", max_tokens=64)
    with engine.stream(messages=USER, profile="chat", max_tokens=64) as stream:
        second = stream.text()
    return HttpResponse(f"<html><body><p>{first.content[0].text}</p><p>{second}</p></body></html>")


def lookup(city: str) -> str:
    """The weather in a city.

    Args:
        city: Which city.
    """
    return f"sunny in {city}"


def agent_turn(request: HttpRequest) -> HttpResponse:
    engine = request.firsttoken.engine  # type: ignore[attr-defined]
    asked = [{"role": "user", "content": 'Run lookup({"city": "Paris"})'}]
    with engine.stream(messages=asked, profile="chat", tools=[lookup], max_tokens=64) as turn:
        text = "".join(turn)
    return HttpResponse(f"<html><body><p>{text}</p></body></html>")


urlpatterns = [path("two-calls", two_calls), path("agent-turn", agent_turn), *debug_toolbar_urls()]
