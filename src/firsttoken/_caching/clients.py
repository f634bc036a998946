"""What caching calls the API through: the engine's pool of shared SDK clients, as a Protocol."""

from __future__ import annotations

from typing import Protocol

import anthropic

__all__ = ["Clients"]


class Clients(Protocol):
    """The process's shared SDK clients (the engine's pool): what warming and counting call on."""

    @property
    def sync(self) -> anthropic.Anthropic: ...

    @property
    def async_(self) -> anthropic.AsyncAnthropic: ...
