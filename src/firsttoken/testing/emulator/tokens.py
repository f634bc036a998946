"""The token approximation shared by usage, caching, rate limits and `count_tokens`.

There is no tokenizer offline, so counts follow a documented rule of thumb:

* a text block (or a string `content`/`system`) costs `ceil(len(text) / 4)` tokens;
* an image or a base64 PDF costs what Anthropic documents (`media.block_tokens`: width * height
  / 750 for an image, a fixed figure a page for a PDF);
* any other block (tool_use, tool_result, a text document) and each tool definition costs
  `ceil(len(canonical_json) / 4)` tokens, canonical JSON being sorted keys, no spaces, with
  `cache_control` left out (it marks a block, it is not prompt text);
* each message adds `MESSAGE_OVERHEAD` tokens (role markers), charged to its first block.

Output tokens are counted exactly: one emitted word piece (or JSON fragment) is one token.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .media import block_tokens as media_tokens

__all__ = ["FILE_MARK", "MESSAGE_OVERHEAD", "block_tokens", "canonical", "text_tokens"]

MESSAGE_OVERHEAD = 3


# The file a `file` source named, kept on its block once the file is inlined (`files.py`).
FILE_MARK = "_emulator_file_id"
_NOT_TEXT = frozenset({"cache_control", FILE_MARK})


def canonical(value: Any) -> str:
    """Stable JSON for hashing and counting; `cache_control` (and the emulator's own file mark) is
    stripped from dict levels."""
    return json.dumps(_strip(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _NOT_TEXT}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return text_tokens(block)
    if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return text_tokens(block["text"])
    if isinstance(block, dict):
        counted = media_tokens(block)
        if counted is not None:
            return counted
    return text_tokens(canonical(block))
