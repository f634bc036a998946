"""Deterministic answers that read like prose: text, stop reasons and tool calls.

The answer is a function of the prompt (model, system, messages, tools, tool_choice, sampling
parameters) and the seed, and deliberately NOT of `max_tokens`, `stop_sequences` or `stream`:
lowering `max_tokens` truncates the same text, a stop sequence cuts the same text, and the
streamed answer equals the non-streamed one.

One output token is one word piece carrying its leading space; words longer than eight letters
are split in two pieces, roughly as a BPE tokenizer would.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .blocks import (
    REFUSAL_DETAILS,
    CitedText,
    SearchPlan,
    ThinkingPlan,
    cited_document,
    classification_labels,
    pick_label,
    quote,
)
from .protocol import MessageRequest
from .schemacheck import output_schema
from .schemagen import json_tokens, value_for
from .servertools import (
    ServerCall,
    code_calls,
    continues_paused_turn,
    fetch_call,
    found_tools,
    mcp_call,
    pauses,
    tool_search_call,
)
from .tokens import canonical
from .tooluse import input_for, results_answer, wanted_tools

__all__ = ["Answer", "TextPlan", "ToolPlan", "canned", "generate", "request_rng", "shape"]

_NOUNS = [
    "system",
    "request",
    "model",
    "answer",
    "latency",
    "cache",
    "prompt",
    "token",
    "stream",
    "server",
    "client",
    "response",
    "user",
    "question",
    "result",
    "detail",
    "process",
    "pattern",
    "method",
    "approach",
    "value",
    "idea",
    "example",
    "design",
    "change",
    "step",
    "signal",
    "budget",
    "window",
    "buffer",
    "queue",
    "network",
    "service",
    "endpoint",
    "connection",
    "session",
    "context",
    "document",
    "record",
    "report",
    "feature",
    "option",
    "limit",
    "target",
    "reason",
    "path",
    "structure",
    "layer",
    "interface",
]
_ADJS = [
    "simple",
    "careful",
    "fast",
    "small",
    "large",
    "clear",
    "useful",
    "common",
    "important",
    "reliable",
    "practical",
    "stable",
    "consistent",
    "gradual",
    "direct",
    "typical",
    "efficient",
    "robust",
    "modest",
    "predictable",
    "quiet",
    "steady",
]
_VERBS = [
    "improves",
    "reduces",
    "explains",
    "supports",
    "shapes",
    "handles",
    "measures",
    "follows",
    "changes",
    "affects",
    "limits",
    "describes",
    "balances",
    "protects",
    "guides",
    "reveals",
    "captures",
    "preserves",
]
_ADVS = [
    "usually",
    "often",
    "quickly",
    "carefully",
    "rarely",
    "generally",
    "mostly",
    "clearly",
    "slightly",
    "naturally",
]
_CONNECTIVES = (
    "However,",
    "In practice,",
    "For example,",
    "As a result,",
    "In short,",
    "Meanwhile,",
    "Overall,",
)
_TEMPLATES = (
    "The {adj} {noun} {verb} the {noun2} in a {adj2} way.",
    "{Conn} a {adj} {noun} {adv} {verb} each {noun2}.",
    "When the {topic} is {adj}, the {noun} {adv} {verb} the {noun2}.",
    "It helps to think of the {topic} as a {adj} {noun} that {verb} the {noun2}.",
    "{Conn} the {topic} {verb} how the {noun} and the {noun2} work together.",
    "A {adj} {noun} {adv} {verb} the {topic}, which keeps the {noun2} {adj2}.",
    "This is why the {noun} matters for the {topic}.",
    "Each {noun} {verb} the {adj} {noun2} before the {topic} {verb2} it.",
)
_STOPWORDS = set(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "because",
        "before",
        "being",
        "below",
        "between",
        "could",
        "does",
        "doing",
        "during",
        "each",
        "from",
        "further",
        "have",
        "having",
        "here",
        "into",
        "itself",
        "just",
        "more",
        "most",
        "other",
        "over",
        "same",
        "should",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "until",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "whom",
        "with",
        "would",
        "your",
        "yours",
        "please",
        "tell",
        "explain",
        "write",
        "give",
    ]
)
_CITIES = ("Paris, France", "San Francisco, CA", "Tokyo, Japan", "Berlin, Germany", "Lisbon, Portugal")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# The Anthropic Performance Tuning guide's answers run from a sentence or two to a few paragraphs.
NATURAL_LENGTH = (60, 250)


@dataclass
class TextPlan:
    tokens: list[str]

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass
class ToolPlan:
    id: str
    name: str
    input: dict[str, Any]
    chunks: list[str]
    # The tool definition's `eager_input_streaming`: fragments as written; without it the API
    # holds the input back and sends it once it is complete.
    eager: bool = False


Block = TextPlan | ToolPlan | ThinkingPlan | CitedText | SearchPlan | ServerCall


@dataclass
class Answer:
    blocks: list[Block] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None

    @property
    def output_tokens(self) -> int:
        # Omitted thinking is still generated, and billed: its tokens count as the API counts them.
        return sum(
            len(b.chunks)
            if isinstance(b, ToolPlan)
            else 2
            if isinstance(b, (SearchPlan, ServerCall))
            else len(b.tokens)
            for b in self.blocks
        )

    def content(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for b in self.blocks:
            if isinstance(b, TextPlan):
                out.append({"type": "text", "text": b.text, "citations": None})
            elif isinstance(b, ThinkingPlan):
                out.append({"type": "thinking", "thinking": b.text, "signature": b.signature})
            elif isinstance(b, CitedText):
                out.append({"type": "text", "text": b.text, "citations": [b.citation]})
            elif isinstance(b, SearchPlan):
                out.append({"type": "server_tool_use", "id": b.id, "name": "web_search", "input": b.input})
                out.append(search_result(b))
            elif isinstance(b, ServerCall):
                out += [b.use_block(), b.result]
            else:
                out.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input, "caller": None})
        return out


def search_result(plan: SearchPlan) -> dict[str, Any]:
    return {"type": "web_search_tool_result", "tool_use_id": plan.id, "content": plan.results}


def request_rng(req: MessageRequest, seed: int, salt: str) -> random.Random:
    """The request's own random stream: the same logical request draws the same text and latency.

    "Logical": a string and the one text block holding it are the same prompt to the API, and
    `cache_control` marks are not prompt content (`canonical` drops them), so a caching policy
    that only re-shapes the request meets the same draws as the request it re-shaped.
    """
    digest = hashlib.sha256(f"{seed}|{salt}|{logical_key(req)}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def logical_key(req: MessageRequest) -> str:
    """What makes two requests the same logical request (see `request_rng`)."""
    raw = req.raw
    key = {k: raw.get(k) for k in ("model", "tools", "tool_choice", "temperature", "top_p")}
    key["system"] = _as_blocks(raw.get("system"))
    key["messages"] = [
        {"role": m.get("role"), "content": _as_blocks(m.get("content"))}
        for m in raw.get("messages") or []
        if isinstance(m, dict)
    ]
    return canonical(key)


def _as_blocks(content: Any) -> Any:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def _last_user_text(req: MessageRequest) -> str:
    for msg in reversed(req.messages):
        if msg["role"] == "user":
            return _text_of(msg["content"])
    return ""


def _topics(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][A-Za-z'-]{3,}", text):
        lowered = word.lower()
        if lowered not in _STOPWORDS:
            seen.setdefault(lowered)
    return list(seen)


def _pieces(word: str) -> list[str]:
    core = word.lstrip()
    lead = word[: len(word) - len(core)]
    letters = len(re.sub(r"[^A-Za-z]", "", core))
    if letters > 8:
        cut = 4 + (letters - 8) // 2
        return [lead + core[:cut], core[cut:]]
    return [word]


def _sentence(rng: random.Random, topics: list[str]) -> str:
    template = rng.choice(_TEMPLATES)
    topic = rng.choice(topics) if topics and rng.random() < 0.6 else rng.choice(_NOUNS)
    return template.format(
        adj=rng.choice(_ADJS),
        adj2=rng.choice(_ADJS),
        noun=rng.choice(_NOUNS),
        noun2=rng.choice(_NOUNS),
        verb=rng.choice(_VERBS),
        verb2=rng.choice(_VERBS),
        adv=rng.choice(_ADVS),
        topic=topic,
        Conn=rng.choice(_CONNECTIVES),
    )


def _prose(rng: random.Random, topics: list[str], length: int, first_space: bool) -> list[str]:
    tokens: list[str] = []
    sentences = 0
    while len(tokens) < length:
        words = _sentence(rng, topics).split(" ")
        words[0] = words[0][:1].upper() + words[0][1:]
        for i, word in enumerate(words):
            if i == 0 and sentences and sentences % 4 == 0 and rng.random() < 0.7:
                lead = "\n\n"
            elif i == 0 and not tokens:
                lead = " " if first_space else ""
            else:
                lead = " "
            tokens.extend(_pieces(lead + word))
        sentences += 1
    return tokens


def _wants_tool(req: MessageRequest, user_text: str) -> dict[str, Any] | None:
    if not req.tools:
        return None
    choice = req.tool_choice or {"type": "auto"}
    if choice["type"] == "none":
        return None
    if choice["type"] == "tool":
        return next(t for t in req.tools if t.get("name") == choice.get("name"))
    lowered = user_text.lower()
    # Tools the API runs, and toolsets, are never the model's own calls.
    callable_ = [
        t for t in req.tools if t.get("name") and not str(t.get("type", "")).startswith(_SERVER_TYPES)
    ]
    for tool in callable_:
        if tool["name"].lower() in lowered:
            return tool
    if callable_ and (choice["type"] == "any" or re.search(r"\bweather\b", lowered)):
        return next((t for t in callable_ if "weather" in t["name"].lower()), callable_[0])
    return None


_SERVER_TYPES = ("web_search", "web_fetch", "code_execution", "tool_search", "mcp_toolset", "advisor")


def _value_for(name: str, schema: Any, rng: random.Random, topics: list[str]) -> Any:
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    kind = schema.get("type", "string")
    if kind == "integer":
        return rng.randint(1, 10)
    if kind == "number":
        return round(rng.uniform(1, 100), 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if any(hint in name.lower() for hint in ("location", "city", "place")):
        return rng.choice(_CITIES)
    return rng.choice(topics) if topics else "example"


def _wanted(req: MessageRequest, user_text: str) -> list[dict[str, Any]]:
    """Every tool the answer calls: those the text asks for (`tooluse.py`), else the older rules."""
    if not req.tools:
        return []
    choice = req.tool_choice or {"type": "auto"}
    if choice["type"] in ("none", "tool"):
        one = _wants_tool(req, user_text)
        return [one] if one is not None else []
    found = wanted_tools(req.tools, user_text)
    if found:
        return found[:1] if choice.get("disable_parallel_tool_use") else found
    one = _wants_tool(req, user_text)
    return [one] if one is not None else []


def _tool_plan(tool: dict[str, Any], rng: random.Random, topics: list[str], user_text: str = "") -> ToolPlan:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {} if isinstance(schema, dict) else {}
    required = schema.get("required") or [] if isinstance(schema, dict) else []
    given = input_for(tool, user_text)
    if tool.get("strict") is True:
        # A strict tool's input validates against its schema: what the text gives is kept only
        # where the schema takes a free string.
        args = value_for(schema, rng, _say(rng, topics))
        args.update({k: v for k, v in given.items() if isinstance(v, str) and _free_string(props.get(k))})
    else:
        args = {
            name: _value_for(name, props.get(name), rng, topics) for name in required if name not in given
        }
        args.update(given)
    encoded = json.dumps(args)
    chunks: list[str] = []
    pos = 0
    while pos < len(encoded):
        step = rng.randint(3, 8)
        chunks.append(encoded[pos : pos + step])
        pos += step
    tool_id = "toolu_01" + "".join(rng.choice(_ID_ALPHABET) for _ in range(22))
    eager = bool(tool.get("eager_input_streaming"))
    return ToolPlan(id=tool_id, name=tool["name"], input=args, chunks=chunks, eager=eager)


def _free_string(schema: Any) -> bool:
    return (
        isinstance(schema, dict) and schema.get("type") == "string" and set(schema) <= {"type", "description"}
    )


def _say(rng: random.Random, topics: list[str]) -> Callable[[int], str]:
    """About `n` words of the answer's prose, for the strings of a structured answer."""
    return lambda n: "".join(_prose(rng, topics, n, False)).replace("\n\n", " ")


def _structured(req: MessageRequest, seed: int, schema: dict[str, Any], topics: list[str]) -> list[str]:
    """The answer's tokens when `output_config.format` asks for JSON: a document valid against it."""
    rng = request_rng(req, seed, "json:" + canonical(schema))
    return json_tokens(value_for(schema, rng, _say(rng, topics)))


def _apply_stops(tokens: list[str], stops: list[str]) -> tuple[list[str], str | None]:
    text = "".join(tokens)
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is None:
        return tokens, None
    cut, kept, pos = best[0], [], 0
    for token in tokens:
        if pos + len(token) <= cut:
            kept.append(token)
            pos += len(token)
            continue
        if cut > pos:
            kept.append(token[: cut - pos])
        break
    return kept, best[1]


def generate(req: MessageRequest, seed: int, forced_length: int | None = None) -> Answer:
    """The answer to `req`: the same for a given prompt and seed, cut by max_tokens and stops."""
    rng = request_rng(req, seed, "text")
    user_text = _last_user_text(req)
    topics = _topics(user_text)
    last = req.messages[-1]
    prefill = _text_of(last["content"]) if last["role"] == "assistant" else ""
    first_space = bool(prefill) and not prefill[-1].isspace() and prefill[-1] not in "([{\"'"
    said = results_answer(req.messages)
    schema = output_schema(req.raw)
    if schema is not None and (said is not None or not _wanted(req, user_text)):
        # Structured outputs: the text is the JSON document, after any tool calls the model makes.
        return _finish(req, _structured(req, seed, schema, topics), [])
    if said is not None:
        # After the client ran the tools: an answer that uses what they returned.
        return _finish(req, _words(said) + _prose(rng, topics, rng.randint(8, 16), True), [])
    tools = _wanted(req, user_text)
    if tools:
        choice_type = (req.tool_choice or {"type": "auto"})["type"]
        preamble: list[str] = []
        if choice_type == "auto" and schema is None:
            names = " and ".join(t["name"] for t in tools)
            kind = "tools" if len(tools) > 1 else "tool"
            preamble = _pieces("I'll" if not first_space else " I'll") + [
                f" {w}" for w in f"use the {names} {kind} for this.".split()
            ]
        plans = [_tool_plan(tool, rng, topics, user_text) for tool in tools]
        return _finish(req, preamble, plans)
    if forced_length is not None:
        return _finish(req, _prose(rng, topics, forced_length, first_space)[:forced_length], [])
    # A natural answer ends on a full sentence, so it runs a few tokens past the drawn length.
    return _finish(req, _prose(rng, topics, rng.randint(*NATURAL_LENGTH), first_space), [])


def _finish(req: MessageRequest, tokens: list[str], tools: list[ToolPlan]) -> Answer:
    budget = req.max_tokens
    answer = Answer()
    within = tokens[:budget]
    kept, stop = _apply_stops(within, req.stop_sequences)
    if kept:
        answer.blocks.append(TextPlan(kept))
    if stop is not None:
        answer.stop_reason, answer.stop_sequence = "stop_sequence", stop
        return answer
    if len(tokens) > budget:
        answer.stop_reason = "max_tokens"
        return answer
    if tools:
        if len(tokens) + sum(len(t.chunks) for t in tools) > budget:
            # A call cut mid-JSON is useless to the client; the real API also ends on max_tokens.
            answer.stop_reason = "max_tokens"
            return answer
        answer.blocks.extend(tools)
        answer.stop_reason = "tool_use"
    return answer


def canned(req: MessageRequest, text: str) -> Answer:
    """Exactly `text` as the answer (the `x-emulator-reply` header), tokenised like the prose.

    max_tokens and stop sequences still cut it, so tests of clients that expect a particular
    answer (a one-word classification) keep every protocol rule the generated prose keeps.
    """
    tokens: list[str] = []
    for word in re.findall(r"\s*\S+", text):
        tokens.extend(_pieces(word))
    return _finish(req, tokens, [])


def _words(text: str) -> list[str]:
    tokens: list[str] = []
    for word in re.findall(r"\s*\S+", text):
        tokens.extend(_pieces(word))
    return tokens


def _search(req: MessageRequest, rng: random.Random, topics: list[str]) -> SearchPlan | None:
    if not any(str(t.get("type", "")).startswith("web_search") for t in req.tools):
        return None
    query = " ".join(topics[:4]) or "latest news"
    slug = "-".join(topics[:2]) or "news"
    results = [
        {
            "type": "web_search_result",
            "url": f"https://example.com/{slug}/{n}",
            "title": f"{query.title()} ({n})",
            "encrypted_content": "EqgB" + "".join(rng.choice(_ID_ALPHABET) for _ in range(24)),
            "page_age": None,
        }
        for n in (1, 2)
    ]
    return SearchPlan("srvtoolu_01" + "".join(rng.choice(_ID_ALPHABET) for _ in range(22)), query, results)


def shape(
    req: MessageRequest,
    answer: Answer,
    seed: int,
    *,
    thinks: bool,
    shown: bool,
    refuse: bool,
    asked: bool,
    forced: int | None = None,
) -> Answer:
    """The generated answer given the request's other asks: thinking first, a label for a
    classification prompt, a cited sentence when a document asks for citations, a web search,
    or a refusal that ends the answer early. A canned reply (`asked` False) only gains thinking."""
    rng = request_rng(req, seed, "blocks")
    user_text = _last_user_text(req)
    topics = _topics(user_text)
    head: list[Block] = []
    if thinks:
        # `x-emulator-output-tokens` sizes the thinking too (half of it), for long benchmark streams.
        size = forced // 2 if forced else rng.randint(12, 30)
        thought = _words("Let me think about this.") + _prose(rng, topics, size, True)[:size]
        head.append(ThinkingPlan(thought, shown))
    if refuse:
        text = _words("I can't help with that request.")
        return Answer([*head, TextPlan(text)], "refusal", None, dict(REFUSAL_DETAILS))
    if not asked:
        return _budgeted(req, Answer([*head, *answer.blocks], answer.stop_reason, answer.stop_sequence))
    labels = classification_labels(req.system) if output_schema(req.raw) is None else []
    if labels and not any(isinstance(b, ToolPlan) for b in answer.blocks):
        label = pick_label(labels, user_text, rng.random())
        return _budgeted(req, Answer([*head, TextPlan([label])]))
    blocks = _found_first(req, answer.blocks, rng)
    continuing = continues_paused_turn(req.messages)
    search = None if continuing else _search(req, rng, topics)
    calls = [] if continuing else _server_calls(req, rng, user_text, topics)
    if (search is not None or calls) and pauses(user_text):
        # A long server-side loop: the API pauses the turn after its tools, before any text.
        ran: list[Block] = [search] if search is not None else []
        return _budgeted(req, Answer([*head, *ran, *calls], "pause_turn"))
    if search is not None:
        cite = {
            "type": "web_search_result_location",
            "url": search.results[0]["url"],
            "title": search.results[0]["title"],
            "encrypted_index": "Eo8B" + "".join(rng.choice(_ID_ALPHABET) for _ in range(16)),
            "cited_text": f"What is known about {search.query}.",
        }
        head += [
            search,
            CitedText(_words(f"According to {search.results[0]['title']}, this is covered."), cite),
        ]
    document = cited_document(req.messages)
    if document is not None:
        index, data, title, page, file_id = document
        cited = quote(data)
        start = data.find(cited)
        citation: dict[str, Any] = {"cited_text": cited, "document_index": index, "document_title": title}
        if page is None:
            citation.update(type="char_location", start_char_index=start, end_char_index=start + len(cited))
        else:
            # A PDF is cited by pages: the end page is exclusive, as the API's are.
            citation.update(type="page_location", start_page_number=page, end_page_number=page + 1)
        citation["file_id"] = file_id
        head += [TextPlan(_words("The document says:")), CitedText(_words(" " + cited), citation)]
    if calls:
        head += [*calls, TextPlan(_words("".join(_reported(call) for call in calls).strip()))]
    if not head and blocks is answer.blocks:
        return answer
    return _budgeted(req, Answer([*head, *blocks], answer.stop_reason, answer.stop_sequence))


def _server_calls(req: MessageRequest, rng: random.Random, text: str, topics: list[str]) -> list[ServerCall]:
    """The web fetch, code execution and MCP calls the text asks for (`servertools.py`)."""
    calls: list[ServerCall] = []
    fetched = fetch_call(req.tools, text, rng)
    if fetched is not None:
        calls.append(fetched)
    calls += code_calls(req.tools, text, rng)
    mcp = mcp_call(req.raw, text, " ".join(topics[:3]) or "the question", rng)
    if mcp is not None:
        calls.append(mcp)
    return calls


def _reported(call: ServerCall) -> str:
    """The sentence after a server tool's result, saying what it gave."""
    content = call.result.get("content")
    if isinstance(content, dict) and content.get("type", "").endswith("_error"):
        return f" The {call.name} tool could not run ({content.get('error_code')})."
    if call.kind == "mcp_tool_use":
        return f" The {call.server_name} server's {call.name} tool answered."
    if isinstance(content, dict) and "stdout" in content:
        return f" It printed {content['stdout'].strip()}."
    if call.name == "web_fetch":
        return f" I read {call.input['url']}."
    return ""  # a file written: the run that follows says what came of it


def _found_first(req: MessageRequest, blocks: list[Block], rng: random.Random) -> list[Block]:
    """`blocks` with a tool search before each call of a deferred tool not found earlier."""
    found = found_tools(req.messages)
    out: list[Block] = []
    for block in blocks:
        if isinstance(block, ToolPlan):
            search = tool_search_call(req.tools, block.name, rng, found)
            if search is not None:
                out.append(search)
                found.add(block.name)
        out.append(block)
    return out if len(out) != len(blocks) else blocks


def _budgeted(req: MessageRequest, answer: Answer) -> Answer:
    """`answer` cut at max_tokens, whole blocks first: thinking counts against the budget too."""
    left = req.max_tokens
    kept: list[Block] = []
    for block in answer.blocks:
        size = Answer([block]).output_tokens
        if size > left:
            if isinstance(block, TextPlan) and left > 0:
                kept.append(TextPlan(block.tokens[:left]))
            elif isinstance(block, ThinkingPlan) and left > 0:
                kept.append(ThinkingPlan(block.tokens[:left], block.shown))
            return Answer(kept, "max_tokens")
        kept.append(block)
        left -= size
    return Answer(kept, answer.stop_reason, answer.stop_sequence, answer.stop_details)
