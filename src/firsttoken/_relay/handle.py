"""The base of every adapter's `FirstToken` handle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anthropic

from ._async.resuming import AsyncResuming
from ._sync.resuming import SyncResuming
from .core import EngineParts

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["EngineHandle"]


class EngineHandle(SyncResuming, AsyncResuming):
    """The base of every adapter's `FirstToken` handle: each finds its `engine` its framework's way.

    The response methods (`stream_response`, `chat_response` and the a-forms) are the adapters'
    own, since each returns its framework's response class; they build a `Relay(handle.engine, ...)`.
    Resuming and stopping answers (`follow`, `stop_answer` and the a-forms) are the framework-free
    halves of each adapter's `resume` and `stop` (`_async/resuming.py`).
    """

    __slots__ = ()

    @property
    def engine(self) -> EngineParts:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync `anthropic.Anthropic`."""
        return self.engine.client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared `anthropic.AsyncAnthropic` of the running event loop."""
        return self.engine.async_client

    def metrics_snapshot(self) -> dict[str, Any]:
        return self.engine.metrics_snapshot()
