"""The content blocks beyond plain text: thinking (with signatures), citations, server tools,
refusals and one-word classifications, and the API's rules for sending them back.

Signatures are real enough to catch a client that edits a thinking block: each one is a MAC over
the thinking text the client was shown, so a block sent back changed (or without its signature)
is refused with the API's 400, as the real API refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from .media import pdf_page_texts
from .protocol import ApiError
from .servertools import continues_paused_turn
from .tokens import FILE_MARK

__all__ = [
    "ADAPTIVE_SINCE",
    "CitedText",
    "SearchPlan",
    "ThinkingPlan",
    "check_turns",
    "classification_labels",
    "model_version",
    "sign",
]

# Claude 4.6: adaptive thinking arrives, assistant prefill and budgeted-only models go.
ADAPTIVE_SINCE = (4, 6)
PREFILL_REFUSED = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
REFUSAL_DETAILS = {
    "type": "refusal",
    "category": "general_harms",
    "explanation": "The request was declined by the emulated safety classifier.",
}
_KEY = b"firsttoken-emulator-thinking"
_VERSION = re.compile(r"^claude-(?:[a-z]+-)?(\d)(?:-(\d))?(?:-|$)")


def model_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of `claude-sonnet-4-5`, `claude-opus-4-6-20260101`, `claude-3-5-haiku`."""
    found = _VERSION.match(model)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2) or 0)


def is_newer(model: str) -> bool:
    version = model_version(model)
    return version is not None and version >= ADAPTIVE_SINCE


def sign(shown: str) -> str:
    """The signature of a thinking block whose visible text is `shown` ("" when omitted)."""
    digest = hashlib.sha256(shown.encode()).digest()[:18]
    mac = hmac.new(_KEY, digest, hashlib.sha256).digest()[:18]
    return "Eu" + base64.b64encode(digest + mac).decode()


def _signed(shown: str, signature: Any) -> bool:
    return isinstance(signature, str) and hmac.compare_digest(signature, sign(shown))


@dataclass
class ThinkingPlan:
    """A thinking block: `tokens` stream as `thinking_delta`s only when shown (display "summarized")."""

    tokens: list[str]
    shown: bool

    @property
    def text(self) -> str:
        return "".join(self.tokens) if self.shown else ""

    @property
    def signature(self) -> str:
        return sign(self.text)


@dataclass
class CitedText:
    """A text block that quotes a sent document: its citation streams before its text."""

    tokens: list[str]
    citation: dict[str, Any]

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass
class SearchPlan:
    """A server-run web search: a `server_tool_use` block, then its `web_search_tool_result`."""

    id: str
    query: str
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def input(self) -> dict[str, Any]:
        return {"query": self.query}


def thinking_config(raw: dict[str, Any], model: str, max_tokens: int) -> tuple[bool, bool]:
    """Validate the request's `thinking`: (whether the model thinks, whether the thinking is shown)."""
    config = raw.get("thinking")
    if config is None:
        return False, False
    if not isinstance(config, dict) or config.get("type") not in ("adaptive", "enabled", "disabled"):
        raise ApiError(
            "invalid_request_error", "thinking.type: Input should be 'adaptive', 'enabled' or 'disabled'"
        )
    kind = config["type"]
    if kind == "disabled":
        return False, False
    display = config.get("display")
    if display not in (None, "summarized", "omitted"):
        raise ApiError("invalid_request_error", "thinking.display: Input should be 'summarized' or 'omitted'")
    newer = is_newer(model)
    if kind == "adaptive" and not newer:
        raise ApiError("invalid_request_error", f"adaptive thinking is not supported on {model}.")
    if kind == "enabled":
        budget = config.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
            raise ApiError("invalid_request_error", "thinking.enabled.budget_tokens: Input should be >= 1024")
        if budget >= max_tokens:
            raise ApiError(
                "invalid_request_error", "`max_tokens` must be greater than `thinking.budget_tokens`."
            )
    effort = (raw.get("output_config") or {}).get("effort")
    if effort not in (None, "low", "medium", "high", "xhigh", "max"):
        raise ApiError(
            "invalid_request_error",
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
        )
    # The newest models omit thinking unless asked; older ones always summarised it.
    shown = display == "summarized" or (display is None and not newer)
    return True, shown


def _tool_ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(b.get(key)) for b in content if isinstance(b, dict) and b.get("type") == kind]


def check_turns(messages: list[dict[str, Any]], model: str, thinking: bool) -> None:
    """The API's 400s for a conversation whose thinking or tool turns are malformed, and for a
    prefill to a model that refuses one."""
    last = messages[-1]
    # A paused turn sent back as is continues the answer; it is no prefill.
    if last["role"] == "assistant" and is_newer(model) and not continues_paused_turn(messages):
        raise ApiError("invalid_request_error", PREFILL_REFUSED)
    for i, msg in enumerate(messages):
        content = msg["content"]
        if msg["role"] == "assistant" and isinstance(content, list):
            for j, block in enumerate(content):
                if isinstance(block, dict) and block.get("type") == "thinking":
                    if "signature" not in block:
                        raise ApiError(
                            "invalid_request_error", f"messages.{i}.content.{j}.signature: Field required"
                        )
                    if not _signed(str(block.get("thinking", "")), block["signature"]):
                        raise ApiError(
                            "invalid_request_error",
                            f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block",
                        )
            uses = _tool_ids(content, "tool_use", "id")
            following = messages[i + 1]["content"] if i + 1 < len(messages) else None
            answered = _tool_ids(following, "tool_result", "tool_use_id")
            missing = [u for u in uses if u not in answered]
            if missing and i + 1 < len(messages):
                raise ApiError(
                    "invalid_request_error",
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message.",
                )
            first = content[0] if content else {}
            if (
                thinking
                and uses
                and i == _last_assistant(messages)
                and first.get("type")
                not in (
                    "thinking",
                    "redacted_thinking",
                )
            ):
                raise ApiError(
                    "invalid_request_error",
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                    f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must "
                    "start with a thinking block (preceeding the lastmost set of `tool_use` and "
                    "`tool_result` blocks).",
                )
        if msg["role"] == "user" and isinstance(content, list):
            results = _tool_ids(content, "tool_result", "tool_use_id")
            previous = messages[i - 1]["content"] if i > 0 else None
            known = _tool_ids(previous, "tool_use", "id")
            stray = [r for r in results if r not in known]
            if stray:
                raise ApiError(
                    "invalid_request_error",
                    f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(stray)}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message.",
                )


def _last_assistant(messages: list[dict[str, Any]]) -> int:
    return max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)


_LABELS = re.compile(r"one word[^:]*:\s*([^.\n]+)", re.IGNORECASE)


def classification_labels(system: Any) -> list[str]:
    """The labels of a "reply with exactly one word: a, b, c" system prompt (the Anthropic Performance Tuning
    guide's router, step 3)."""
    text = (
        system
        if isinstance(system, str)
        else " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))
    )
    found = _LABELS.search(text)
    if found is None:
        return []
    return [w for w in re.split(r"[\s,/|]+(?:or\s+)?", found.group(1)) if re.fullmatch(r"[A-Za-z_-]+", w)]


def pick_label(labels: list[str], user_text: str, draw: float) -> str:
    """The label the user text names, else one drawn from the seed: demos route, tests repeat."""
    lowered = user_text.lower()
    for label in labels:
        if re.search(rf"\b{re.escape(label.lower())}", lowered):
            return label
    return labels[int(draw * len(labels)) % len(labels)]


Cited = tuple[int, str, "str | None", "int | None", "str | None"]


def cited_document(messages: list[dict[str, Any]]) -> Cited | None:
    """The first document of the last user turn that asks for citations: its index among all the
    request's documents (as the API counts `document_index`), its text, its title, for a PDF the
    page (1-based) the text is on (None for a plain-text document), and the file it came from."""
    index = 0
    found: Cited | None = None
    for position, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for doc in content:
            if not isinstance(doc, dict) or doc.get("type") != "document":
                continue
            source = doc.get("source") or {}
            last = position == len(messages) - 1
            if last and found is None and (doc.get("citations") or {}).get("enabled"):
                file_id = doc.get(FILE_MARK)
                if source.get("type") == "text":
                    found = index, str(source.get("data", "")), doc.get("title"), None, file_id
                elif source.get("media_type") == "application/pdf":
                    pages = pdf_page_texts(source)
                    page = next((i for i, text in enumerate(pages) if text.strip()), None)
                    if page is not None:
                        found = index, pages[page], doc.get("title"), page + 1, file_id
            index += 1
    return found


def quote(document: str) -> str:
    """The document's first sentence, the span the emulated answer cites."""
    found = re.match(r"\s*(.+?[.!?])(\s|$)", document, re.DOTALL)
    return (found.group(1) if found else document.strip())[:400]
