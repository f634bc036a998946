"""Where calls go: a base URL, the real API, or the embedded emulator (the examples' contract)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._errors import SettingsError
from .._settings import Settings

if TYPE_CHECKING:
    from ..testing.emulator import Emulator

__all__ = ["Upstream", "resolve_upstream"]

logger = logging.getLogger("firsttoken")

ANTHROPIC_API = "https://api.anthropic.com"
# The emulator accepts any key; this one says in logs and request dumps what it is.
EMULATOR_KEY = "firsttoken-emulator-no-key"


@dataclass(frozen=True, slots=True)
class Upstream:
    kind: Literal["base_url", "anthropic", "emulator"]
    base_url: str
    # Never part of repr or any JSON we produce.
    api_key: str
    emulator: Emulator | None = None

    def __repr__(self) -> str:
        return f"Upstream(kind={self.kind!r}, base_url={self.base_url!r})"

    def describe(self) -> dict[str, str]:
        """JSON-safe: what a page banner or a start-up line may say."""
        labels = {
            "base_url": f"the endpoint at {self.base_url}",
            "anthropic": "the Anthropic API",
            "emulator": f"the embedded firsttoken emulator at {self.base_url} (no API key set)",
        }
        return {"kind": self.kind, "base_url": self.base_url, "description": labels[self.kind]}


def resolve_upstream(settings: Settings) -> Upstream:
    """`base_url` first, then an API key for the real API, then (unless turned off) the emulator."""
    if settings.emulator != "always":
        if settings.base_url:
            return Upstream("base_url", settings.base_url.rstrip("/"), settings.api_key or EMULATOR_KEY)
        if settings.api_key:
            return Upstream("anthropic", ANTHROPIC_API, settings.api_key)
        if settings.emulator == "off":
            raise SettingsError(
                "api_key",
                "no API key and no base URL, and the embedded emulator is off: set ANTHROPIC_API_KEY "
                "(or the api_key setting), or ANTHROPIC_BASE_URL",
            )
    from ..testing.emulator import Emulator

    emulator = Emulator(time_scale=settings.emulator_time_scale)
    emulator.start()
    logger.warning(
        "firsttoken: no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set; started the embedded emulator at %s. "
        "Answers are simulated.",
        emulator.base_url,
    )
    return Upstream("emulator", emulator.base_url, EMULATOR_KEY, emulator)
