"""What one browser request may cost, checked before anything goes upstream.

Each limit is a setting (`_settings.py`) with the contract's status: a content type other than
JSON is 415; a body over `max_body_bytes`, more than `max_messages` messages or more estimated
input tokens than the profile allows is 413 naming the limit; a client over its per-minute budget
is 429 with `Retry-After`. The adapters apply them in that order, the size before reading the body
(they read no further than the limit) and the budget last, so a refused request costs nothing.
The per-client budgets live in the state backend (`_state/client_budgets.py`): memory for one
process, Redis for a deployment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._attachments import Attachment
from ._caching.estimate import messages_tokens, prefix_tokens
from ._errors import BadRequest, PayloadTooLarge, TooManyRequests, UnsupportedMediaType

if TYPE_CHECKING:
    from ._settings import Settings
    from ._state.client_budgets import ClientBudgets

__all__ = ["JSON", "Limits"]

JSON = "application/json"


class Limits:
    """The engine's limits on browser requests (`engine.limits`); every adapter calls the same checks."""

    __slots__ = ("_budgets", "settings")

    def __init__(self, settings: Settings, budgets: ClientBudgets) -> None:
        self.settings = settings
        self._budgets = budgets

    @property
    def max_body_bytes(self) -> int:
        """The most an adapter reads: `max_body_bytes`, plus `max_request_attachment_bytes` as
        base64 while attachments are on (their sizes are checked once parsed)."""
        extra = 0
        if self.settings.max_attachments:
            extra = 4 * math.ceil(self.settings.max_request_attachment_bytes / 3)
        return self.settings.max_body_bytes + extra

    # -- before the body is read ---------------------------------------------------------------

    def check_length(self, content_length: str | None) -> None:
        """413 before reading when the declared length is over the limit (400 if it is no number)."""
        if content_length is None or content_length == "":
            return
        try:
            declared = int(content_length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        self.check_size(declared)

    def check_media_type(self, content_type: str | None) -> None:
        """415 unless the body was sent as JSON.

        This is what stops cross-site posts: another site's page can send `text/plain`, a form,
        or a body with no type at all without asking, but `application/json` needs a CORS
        preflight that the app grants or not.
        """
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media != JSON:
            shown = ascii(media)[:60] if media else "none"
            raise UnsupportedMediaType(f"the body must be sent as {JSON}, not {shown}")

    def check_size(self, size: int) -> None:
        if size > self.max_body_bytes:
            files = " (max_body_bytes, plus max_request_attachment_bytes as base64)"
            raise PayloadTooLarge(
                f"the body is over the limit of {self.max_body_bytes} bytes"
                + (files if self.settings.max_attachments else "")
            )

    def check_attachments(self, attachments: Sequence[Attachment], size: int) -> None:
        """413 naming the setting: too many files, one too large, all too large together, or the
        body without its files over `max_body_bytes`."""
        s = self.settings
        if attachments and not s.max_attachments:
            raise PayloadTooLarge("this server takes no attachments (max_attachments is 0)")
        if len(attachments) > s.max_attachments:
            raise PayloadTooLarge(
                f"too many attachments: {len(attachments)}, the limit is {s.max_attachments} "
                "(max_attachments, earlier turns' files included)"
            )
        for found in attachments:
            if found.size > s.max_attachment_bytes:
                raise PayloadTooLarge(
                    f"{found.where}: the file is {found.size} bytes, over the limit of "
                    f"{s.max_attachment_bytes} bytes a file (max_attachment_bytes)"
                )
        total = sum(found.size for found in attachments)
        if total > s.max_request_attachment_bytes:
            raise PayloadTooLarge(
                f"the attachments are {total} bytes together, over the limit of "
                f"{s.max_request_attachment_bytes} bytes a request (max_request_attachment_bytes)"
            )
        self.check_text_size(size - sum(found.encoded for found in attachments))

    def check_text_size(self, size: int) -> None:
        """413 when the body, its files' base64 left out, is over `max_body_bytes`."""
        if size > self.settings.max_body_bytes:
            raise PayloadTooLarge(
                f"the body is over the limit of {self.settings.max_body_bytes} bytes (max_body_bytes, "
                "files not counted)"
            )

    # -- after parsing -------------------------------------------------------------------------

    def input_limit(self, profile: str | None) -> int:
        name = profile or self.settings.default_profile
        chosen = self.settings.profiles.get(name)
        own = None if chosen is None else chosen.max_input_tokens
        return own if own is not None else self.settings.max_input_tokens

    def check_chat(
        self, messages: Sequence[Mapping[str, Any]], profile: str | None, *, system: Any = None
    ) -> int:
        """413 for too many messages or estimated input tokens; returns the estimate (for the budget).

        The estimate is the prompt-cache one (`_caching/estimate.py`, about 4 characters a token),
        with the app's system prompt counted in: it is what the request will cost.
        """
        limit = self.settings.max_messages
        if len(messages) > limit:
            raise PayloadTooLarge(f"too many messages: {len(messages)}, the limit is {limit}")
        return self.check_tokens(messages, profile, system=system)

    def check_tokens(
        self, messages: Sequence[Mapping[str, Any]], profile: str | None, *, system: Any = None
    ) -> int:
        """413 for too many estimated input tokens in `messages` (a held chat's whole conversation,
        when that is what goes upstream); returns the estimate."""
        tokens = messages_tokens(messages) + prefix_tokens(None, system)
        allowed = self.input_limit(profile)
        if tokens > allowed:
            raise PayloadTooLarge(
                f"too many input tokens: about {tokens}, the limit for this profile is {allowed}"
            )
        return tokens

    # -- the client's budget -------------------------------------------------------------------

    def _budget_kwargs(self) -> dict[str, int]:
        rpm, tpm = self.settings.client_budget()
        return {"requests_per_minute": rpm, "tokens_per_minute": tpm}

    def _off(self) -> bool:
        return not any(self.settings.client_budget())

    def admit(self, client: str | None, tokens: int) -> None:
        """Charge `client` one request of `tokens`, or raise 429 with when to retry."""
        if client is None or self._off():
            return
        _refuse_after(self._budgets.take(client, tokens, **self._budget_kwargs()))

    async def aadmit(self, client: str | None, tokens: int) -> None:
        if client is None or self._off():
            return
        _refuse_after(await self._budgets.atake(client, tokens, **self._budget_kwargs()))


def _refuse_after(wait: float) -> None:
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"too many requests from this client; try again in {seconds} s", retry_after=seconds
        )
