"""AI SDK `UIMessage` parts to Messages API content blocks, so a `useChat` conversation that went
through reasoning and tool calls goes back to the model as the blocks it came from.

The rules are the API's: a thinking block goes back unchanged with its signature (the AI SDK keeps
it in `providerMetadata.anthropic`, where `_wire.AISDKFormat` put it), a `tool_use` is answered
by a `tool_result` in the next user turn, and a server tool's call and result stay together in the
assistant turn. Reasoning without a signature cannot be sent back (the API refuses it) and a tool
call with no output yet cannot either (nothing answers it): both are dropped, as the AI SDK's own
Anthropic provider drops them.
"""

from __future__ import annotations

import json
from typing import Any

from ._attachments import Attachment, from_file_part
from ._errors import BadRequest
from ._tools import Approval, as_approvals

__all__ = ["approval_answers", "as_blocks", "assistant_turns", "user_content"]

Blocks = list[dict[str, Any]]
_ANSWERED = ("output-available", "output-error")


def user_content(parts: list[Any], i: int, attachments: list[Attachment]) -> str | Blocks:
    """A user message's content: its text parts joined, or with `file` parts (images and PDFs as
    `data:` URLs, checked by `_attachments.from_file_part`, which appends to `attachments`) the
    blocks in the parts' order. Data parts are the page's own."""
    texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest(f"messages[{i}].parts: a text part needs a 'text' string")
    if not any(isinstance(p, dict) and p.get("type") == "file" for p in parts):
        return "".join(t for t in texts if isinstance(t, str))
    blocks: Blocks = []
    for j, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and part["text"].strip():
            blocks.append({"type": "text", "text": part["text"]})
        elif kind == "file":
            block, found = from_file_part(part, f"messages[{i}].parts[{j}]")
            blocks.append(block)
            attachments.append(found)
    return blocks


def assistant_turns(parts: list[Any], i: int) -> list[dict[str, Any]]:
    """One assistant `UIMessage` as API turns: an assistant turn per step, each step with client
    tool calls followed by a user turn of their results. Plain text stays a string."""
    turns: list[dict[str, Any]] = []
    blocks: Blocks = []
    results: Blocks = []

    def close_step() -> None:
        nonlocal blocks, results
        if blocks:
            turns.append({"role": "assistant", "content": _plain(blocks)})
            if results:
                turns.append({"role": "user", "content": results})
        blocks, results = [], []

    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise BadRequest(f"messages[{i}].parts[{j}] must be an object")
        kind = part.get("type")
        if kind == "step-start":
            close_step()
        elif kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise BadRequest(f"messages[{i}].parts: a text part needs a 'text' string")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "reasoning":
            block = _thinking(part)
            if block is not None:
                blocks.append(block)
        elif isinstance(kind, str) and (kind.startswith("tool-") or kind == "dynamic-tool"):
            _tool(part, kind, f"messages[{i}].parts[{j}]", blocks, results)
    close_step()
    return turns


def approval_answers(raw: list[Any]) -> tuple[tuple[Approval, ...], str | None]:
    """The user's answers in the last assistant `UIMessage` (its tool parts in state
    `approval-responded`, what `addToolApprovalResponse` makes them), and that message's id, which
    an answer resuming its turn continues (None when the last message is not the assistant's)."""
    last = raw[-1] if raw else None
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return (), None
    message_id = last.get("id")
    continued = message_id if isinstance(message_id, str) and message_id else None
    parts = last.get("parts")
    answers = [
        part["approval"]
        for part in (parts if isinstance(parts, list) else [])
        if isinstance(part, dict)
        and part.get("state") == "approval-responded"
        and isinstance(part.get("approval"), dict)
    ]
    if not answers:
        return (), continued
    return as_approvals(answers, f"messages[{len(raw) - 1}].parts[].approval"), continued


def as_blocks(content: str | Blocks) -> Blocks:
    """A turn's content as a list of blocks, to join two turns of the same role."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _plain(blocks: Blocks) -> str | Blocks:
    if all(b["type"] == "text" for b in blocks):
        return "".join(b["text"] for b in blocks)
    return blocks


def _anthropic_metadata(part: dict[str, Any]) -> dict[str, Any]:
    meta = part.get("providerMetadata")
    inner = meta.get("anthropic") if isinstance(meta, dict) else None
    return inner if isinstance(inner, dict) else {}


def _thinking(part: dict[str, Any]) -> dict[str, Any] | None:
    meta = _anthropic_metadata(part)
    if isinstance(meta.get("redactedData"), str):
        return {"type": "redacted_thinking", "data": meta["redactedData"]}
    signature, text = meta.get("signature"), part.get("text", "")
    if not isinstance(signature, str) or not isinstance(text, str):
        return None
    return {"type": "thinking", "thinking": text, "signature": signature}


# Server tools whose result block is not named `<tool>_tool_result`.
_RESULT_BLOCKS = {
    "tool_search_tool_regex": "tool_search_tool_result",
    "tool_search_tool_bm25": "tool_search_tool_result",
}


def _server_blocks(part: dict[str, Any], call_id: str, name: str, output: Any, failed: bool) -> Blocks:
    """A server tool's call and result as the API sent them: an MCP server's tool (its server named
    in `callProviderMetadata`) as `mcp_tool_use` / `mcp_tool_result`; a failed one's error code
    (its `errorText`) back in the result's `..._error` content."""
    args = part.get("input") or {}
    meta = part.get("callProviderMetadata")
    server = (meta.get("anthropic") or {}).get("mcpServerName") if isinstance(meta, dict) else None
    if isinstance(server, str):
        use = {"type": "mcp_tool_use", "id": call_id, "name": name, "server_name": server, "input": args}
        content = output if isinstance(output, (str, list)) else json.dumps(output, ensure_ascii=False)
        return [
            use,
            {"type": "mcp_tool_result", "tool_use_id": call_id, "is_error": failed, "content": content},
        ]
    kind = _RESULT_BLOCKS.get(name, f"{name}_tool_result")
    if failed:
        output = {"type": f"{kind}_error", "error_code": str(output)}
    use = {"type": "server_tool_use", "id": call_id, "name": name, "input": args}
    return [use, {"type": kind, "tool_use_id": call_id, "content": output}]


def _tool(part: dict[str, Any], kind: str, where: str, blocks: Blocks, results: Blocks) -> None:
    state = part.get("state")
    if state not in _ANSWERED:
        return
    call_id, name = part.get("toolCallId"), part.get("toolName") if kind == "dynamic-tool" else kind[5:]
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise BadRequest(f"{where}: a tool part needs a 'toolCallId' and a tool name")
    failed = state == "output-error"
    output = part.get("errorText") if failed else part.get("output")
    if part.get("providerExecuted"):
        # The API ran it: its call and its result block go back in the assistant turn.
        blocks += _server_blocks(part, call_id, name, output, failed)
        return
    blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": part.get("input") or {}})
    content = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    results.append({"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": failed})
