"""A Django Debug Toolbar panel: each model call of the request, with what made it fast or slow.

Enable it by adding its path to the toolbar's panels::

    from debug_toolbar.settings import PANELS_DEFAULTS
    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "firsttoken_django.panels.FirstTokenPanel"]

One row per call that finished while the view ran (model, profile, which step of an agent turn it
was, TTFT, tokens/s, cache read and write tokens, fallbacks, retries, an estimated cost), and under
an agent turn's last step the tools it ran with their time; the calls are also sent as
`Server-Timing` entries. A
stream that the view returned finishes after the toolbar has rendered, so it is not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firsttoken import FrameworkNotInstalled, collect_calls

try:
    from debug_toolbar.panels import Panel
except ImportError:  # pragma: no cover - depends on what is installed
    raise FrameworkNotInstalled(
        "firsttoken_django.panels", "django-debug-toolbar", requirement="django-debug-toolbar"
    ) from None

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["FirstTokenPanel"]


class FirstTokenPanel(Panel):
    title = "Claude calls"
    template = "firsttoken_django/panel.html"
    # Sync requests only: the collector is entered and left around the view in one context.
    is_async = False

    @property
    def nav_subtitle(self) -> str:
        calls = self.get_stats().get("calls", [])  # type: ignore[no-untyped-call]
        ttfts = [c["ttft_ms"] for c in calls if c["ttft_ms"] is not None]
        slowest = f", TTFT up to {max(ttfts):.0f} ms" if ttfts else ""
        return f"{len(calls)} call{'s' if len(calls) != 1 else ''}{slowest}"

    def process_request(self, request: HttpRequest) -> HttpResponseBase:
        with collect_calls() as rows:
            response: HttpResponseBase = super().process_request(request)  # type: ignore[no-untyped-call]
        self._rows = list(rows)
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponseBase) -> None:
        rows: list[dict[str, Any]] = getattr(self, "_rows", [])
        total = round(sum(r["cost_usd"] for r in rows), 6)
        self.record_stats({"calls": rows, "total_cost_usd": total})  # type: ignore[no-untyped-call]

    def generate_server_timing(self, request: HttpRequest, response: HttpResponseBase) -> None:
        for n, row in enumerate(getattr(self, "_rows", []), 1):
            what = f"{row['model']} ({row['profile']})"
            if row["ttft_ms"] is not None:
                self.record_server_timing(f"call{n}_ttft", f"{what} TTFT", row["ttft_ms"])  # type: ignore[no-untyped-call]
            self.record_server_timing(f"call{n}_total", f"{what} total", row["total_ms"])  # type: ignore[no-untyped-call]
