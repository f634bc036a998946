"""Test-only views: the sync twin of the example's chat view, and a `?format=` switch.

`x-test-fault` is passed to the emulator as `x-emulator-fault`, so one request can fail without
touching the emulator's global faults.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse

from firsttoken import BadRequest, parse_chat_request
from firsttoken_django import FirstToken


def _call(request: HttpRequest) -> dict[str, Any]:
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    chat = parse_chat_request(
        request.body, protocol=request.GET.get("protocol"), profiles=firsttoken.settings.profiles
    )
    call: dict[str, Any] = {"format": request.GET.get("format", chat.format), **chat.call_kwargs()}
    if "x-test-fault" in request.headers:
        call["extra_headers"] = {"x-emulator-fault": request.headers["x-test-fault"]}
    if "max_tokens" in request.GET:
        call["max_tokens"] = int(request.GET["max_tokens"])
    return call


def sync_chat(request: HttpRequest) -> HttpResponseBase:
    try:
        call = _call(request)
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return request.firsttoken.stream_response(**call)  # type: ignore[attr-defined,no-any-return]


async def async_chat(request: HttpRequest) -> HttpResponseBase:
    try:
        call = _call(request)
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return await request.firsttoken.astream_response(**call)  # type: ignore[attr-defined,no-any-return]


async def misuse(request: HttpRequest) -> HttpResponseBase:
    """The plain helper from an async view: must refuse, not block the loop."""
    try:
        request.firsttoken.stream_response(messages=[{"role": "user", "content": "hi"}])  # type: ignore[attr-defined]
    except RuntimeError as exc:
        return JsonResponse({"error": str(exc)}, status=500)
    return JsonResponse({"error": "stream_response did not refuse"}, status=200)
