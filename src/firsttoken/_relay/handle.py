"""The base of every adapter's `FirstToken` handle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import anthropic

from .._chat import ChatRequest
from .._errors import Refused
from ._async.resuming import AsyncResuming
from ._sync.resuming import SyncResuming
from .core import EngineParts

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["EngineHandle"]

Response = TypeVar("Response")
Response_co = TypeVar("Response_co", covariant=True)


class _SyncViews(Protocol[Response_co]):
    """The sync halves Django's and Flask's handles write for `chat` and `warm`: a Protocol on
    `self` rather than methods of the base, since Starlette's are coroutines of the same names."""

    @property
    def engine(self) -> EngineParts: ...

    def read_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest: ...
    def chat_response(self, chat: ChatRequest, **call: Any) -> Response_co: ...
    def _accept(self, system: Any) -> tuple[ChatRequest, int]: ...
    def _client(self, client: str | None) -> str | None: ...
    def _refusal_response(self, exc: Refused) -> Response_co: ...
    def _json_response(self, payload: dict[str, Any]) -> Response_co: ...


class EngineHandle(SyncResuming, AsyncResuming, Generic[Response]):
    """The base of every adapter's `FirstToken` handle (`Response`: its framework's response class);
    each finds its `engine` its framework's way.

    The response methods (`stream_response`, `chat_response` and the a-forms) are the adapters'
    own, since each returns its framework's response class; they build a `Relay(handle.engine, ...)`.
    Resuming and stopping answers (`follow`, `stop_answer` and the a-forms) are the framework-free
    halves of each adapter's `resume` and `stop` (`_async/resuming.py`). `chat`, `achat` and `warm`
    are written here once, over what each adapter writes: the methods below that raise
    `NotImplementedError`, and for the sync views `_SyncViews`.
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

    # -- what each adapter writes --------------------------------------------------------------

    async def aread_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        raise NotImplementedError

    async def achat_response(self, chat: ChatRequest, **call: Any) -> Response:
        raise NotImplementedError

    def _client(self, client: str | None) -> str | None:
        """`client`, else who the framework says the peer is (the per-minute budget's key)."""
        raise NotImplementedError

    def _refusal_response(self, exc: Refused) -> Response:
        """The one way a refusal (`firsttoken.Refused`) becomes the framework's response."""
        raise NotImplementedError

    def _json_response(self, payload: dict[str, Any]) -> Response:
        raise NotImplementedError

    # -- written once, over those ----------------------------------------------------------------

    def chat(self: _SyncViews[Response], *, client: str | None = None, **call: Any) -> Response:
        """The whole chat endpoint for a sync view: `read_chat`, then the stream; a refusal is its
        JSON answer. `call` overrides the body's call (`system=`, `max_tokens=`, `owner=`, ...)."""
        try:
            chat = self.read_chat(client=client, system=call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        return self.chat_response(chat, **call)

    async def achat(self, *, client: str | None = None, **call: Any) -> Response:
        """`chat` for async views."""
        try:
            chat = await self.aread_chat(client=client, system=call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        return await self.achat_response(chat, **call)

    def warm(self: _SyncViews[Response], *, client: str | None = None, **call: Any) -> Response:
        """`POST /api/warm` from a sync view: the conversation so far pre-warmed in the prompt cache
        while the user types; `{"warmed": true}` or `{"warmed": false, "reason": ...}`. The body is
        checked as `read_chat` checks it (415, 413, 400); the client's warm budget, not its chat
        budget, is spent."""
        try:
            chat, _ = self._accept(call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        result = self.engine.warm_for(
            chat.messages, profile=chat.profile, client=self._client(client), system=call.get("system")
        )
        return self._json_response(result.as_json())
