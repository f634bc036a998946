"""JSON documents drawn from a JSON Schema: the emulated model's structured answers.

`value_for(schema, rng, say)` returns a value that validates against `schema` (the subset
`schemacheck` admits, plus the bounds it refuses: `minimum`/`maximum`, string lengths,
`minItems`/`maxItems`, so a non-strict caller may use them too). Strings read like the answer's
prose (`say(n)` gives about `n` words of it), sized by what a property's name suggests: a title is
a few words, a summary a sentence or three, so a streamed field arrives over several deltas.
`json_tokens` splits the document into output tokens the way prose is split. The tests check
every document with a real JSON Schema validator (`jsonschema`), which the emulator does not need.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

from .schemacheck import resolve

# The stdlib's own regex parser (private, untyped): a `pattern` is read exactly as `re` reads it.
_sre: Any = importlib.import_module("re._parser")

__all__ = ["json_tokens", "value_for"]

Say = Callable[[int], str]

_TITLE = ("title", "name", "label", "heading", "subject", "headline", "topic", "city", "author")
_LONG = (
    "summary",
    "description",
    "text",
    "content",
    "body",
    "explanation",
    "reason",
    "answer",
    "details",
    "notes",
    "message",
    "comment",
    "analysis",
    "abstract",
)
_WORDS = ("tag", "keyword", "category", "kind", "status", "sentiment", "language", "word")
_NUMBERS = {
    "age": (18, 80),
    "year": (1990, 2026),
    "score": (1, 10),
    "rating": (1, 5),
    "count": (1, 20),
    "quantity": (1, 12),
    "confidence": (0, 1),
    "probability": (0, 1),
    "price": (1, 500),
    "amount": (1, 500),
    "percent": (0, 100),
}
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN = re.compile(r"\s*(?:[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]{1,3})")
_MAX_DEPTH = 40
_HINTS = re.compile(r"\{([^{}]*)\}\s*$")
_BOUNDS = frozenset(
    (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    )
)


def value_for(schema: dict[str, Any], rng: random.Random, say: Say, *, name: str = "") -> Any:
    """A value valid against `schema`, the same for the same `rng` state."""
    return _Gen(schema, rng, say).value(schema, name, 0)


def json_tokens(value: Any) -> list[str]:
    """The document as the model writes it, one output token per word piece or punctuation run."""
    text = json.dumps(value, ensure_ascii=False)
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        core = token.lstrip()
        if core.isalpha() and len(core) > 8:
            cut = len(token) - len(core) + 4 + (len(core) - 8) // 2
            tokens += [token[:cut], token[cut:]]
        else:
            tokens.append(token)
    return tokens


class _Gen:
    def __init__(self, root: dict[str, Any], rng: random.Random, say: Say) -> None:
        self.root = root
        self.rng = rng
        self.say = say

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError("schema nests too deeply (is it recursive?)")
        schema = _hinted(resolve(schema if isinstance(schema, dict) else {}, self.root))
        rng = self.rng
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return rng.choice(schema["enum"])
        if isinstance(schema.get("anyOf"), list) and schema["anyOf"]:
            return self.value(self._branch(schema["anyOf"]), name, depth + 1)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            return self.value(self._merged(schema), name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = "null" if "null" in kind and rng.random() < 0.15 else rng.choice(kinds)
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("integer", "number"):
            return self._number(schema, name, kind == "integer")
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, name)

    def _branch(self, branches: list[Any]) -> Any:
        # An optional field (`X | None`) is usually filled in, as a model would.
        filled = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if filled and (len(filled) == len(branches) or self.rng.random() < 0.85):
            return self.rng.choice(filled)
        return self.rng.choice(branches)

    def _merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for branch in schema["allOf"]:
            part = resolve(branch if isinstance(branch, dict) else {}, self.root)
            for key, val in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **val}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *val]
                else:
                    merged.setdefault(key, val)
        return merged

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        # As the API writes them: required properties first, then the optional ones it fills in,
        # each group in the schema's order.
        keys = [k for k in props if k in required]
        keys += [k for k in props if k not in required and self.rng.random() < 0.6]
        return {key: self.value(props[key], key, depth + 1) for key in keys}

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        high = int(high) if high is not None else max(low, 4)
        count = self.rng.randint(max(low, min(1, high)), max(low, high))
        item = schema.get("items", {"type": "string"})
        singular = name[:-1] if name.endswith("s") else name
        return [self.value(item, singular, depth + 1) for _ in range(count)]

    def _number(self, schema: dict[str, Any], name: str, integer: bool) -> int | float:
        hint = next(
            (v for k, v in _NUMBERS.items() if k in name.lower()), (0, 100) if not integer else (1, 100)
        )
        low, high = float(hint[0]), float(hint[1])
        bounded_low = max(
            (float(schema[k]) for k in ("minimum", "exclusiveMinimum") if k in schema), default=None
        )
        bounded_high = min(
            (float(schema[k]) for k in ("maximum", "exclusiveMaximum") if k in schema), default=None
        )
        if bounded_low is not None:
            low = bounded_low
            high = max(high, low + 10)
        if bounded_high is not None:
            high = bounded_high
            low = min(low, high - 10) if bounded_low is None else low
        if integer:
            ilow = (
                math.floor(low) + 1
                if "exclusiveMinimum" in schema and low == math.floor(low)
                else math.ceil(low)
            )
            ihigh = (
                math.ceil(high) - 1
                if "exclusiveMaximum" in schema and high == math.ceil(high)
                else math.floor(high)
            )
            step = schema.get("multipleOf")
            if isinstance(step, int) and step > 0:
                return self.rng.randint(math.ceil(ilow / step), math.floor(ihigh / step)) * step
            return self.rng.randint(ilow, max(ilow, ihigh))
        value = round(self.rng.uniform(low, high), 2)
        if not low < value < high and ("exclusiveMinimum" in schema or "exclusiveMaximum" in schema):
            value = (low + high) / 2
        return min(max(value, low), high)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt](self.rng)
        if isinstance(schema.get("pattern"), str):
            return _matching(schema["pattern"], self.rng)
        lowered = name.lower()
        if "email" in lowered:
            return _FORMATS["email"](self.rng)
        if any(w in lowered for w in _WORDS):
            text = self.rng.choice(self._content_words())
        elif any(w in lowered for w in _TITLE):
            words = self._content_words()
            text = " ".join(w.capitalize() for w in words[: self.rng.randint(2, min(5, len(words)))])
        elif any(w in lowered for w in _LONG):
            text = self.say(self.rng.randint(15, 45))
        else:
            text = " ".join(self.say(8).split()[: self.rng.randint(3, 8)]).rstrip(".,")
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        while len(text) < low:
            text = (text + " " + self.say(8)).strip()
        return text[: int(high)] if high is not None else text

    def _content_words(self) -> list[str]:
        # Longer words of the prose: its nouns and adjectives rather than "the" and "is".
        words = [w.strip(".,").lower() for w in self.say(16).split()]
        return list(dict.fromkeys(w for w in words if len(w) > 4)) or ["answer", "summary"]


def _hinted(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the bounds the SDK moved into its description (`{minimum: 0, maximum: 1}`,
    `transform_schema`), which a model reads and follows: a parsed model's own validation holds."""
    description = schema.get("description")
    found = _HINTS.search(description) if isinstance(description, str) else None
    if found is None:
        return schema
    hints: dict[str, Any] = {}
    for pair in found.group(1).split(","):
        key, _, raw = pair.partition(":")
        if key.strip() in _BOUNDS:
            try:
                hints[key.strip()] = json.loads(raw.strip())
            except ValueError:
                continue
    return {**{k: v for k, v in hints.items() if isinstance(v, int | float)}, **schema}


def _date(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda rng: f"{_date(rng)}T{_time(rng)}",
    "duration": lambda rng: f"P{rng.randint(1, 30)}DT{rng.randint(1, 23)}H",
    "email": lambda rng: f"{''.join(rng.choice(_ALNUM[:26]) for _ in range(6))}@example.com",
    "hostname": lambda rng: f"{''.join(rng.choice(_ALNUM[:26]) for _ in range(7))}.example.com",
    "uri": lambda rng: f"https://example.com/{''.join(rng.choice(_ALNUM) for _ in range(8))}",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda rng: ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)),
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}


def _matching(pattern: str, rng: random.Random) -> str:
    """A string `re.search(pattern, ...)` matches (JSON Schema's `pattern` is unanchored)."""
    tree = _sre.parse(pattern)
    for _ in range(20):
        text = "".join(_emit(tree, rng))
        if re.search(pattern, text):
            return text
    raise ValueError(f"no string drawn for pattern {pattern!r}")


def _emit(items: Any, rng: random.Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        kind = str(op)
        if kind == "LITERAL":
            out.append(chr(arg))
        elif kind in ("NOT_LITERAL", "ANY"):
            out.append(rng.choice([c for c in _ALNUM if kind == "ANY" or ord(c) != arg]))
        elif kind == "IN":
            out.append(_in_class(arg, rng))
        elif kind == "BRANCH":
            out += _emit(rng.choice(arg[1]), rng)
        elif kind == "SUBPATTERN":
            out += _emit(arg[-1], rng)
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            for _ in range(rng.randint(low, max(low, min(high, low + 3)))):
                out += _emit(sub, rng)
        elif kind == "CATEGORY":
            out.append(_in_class([(op, arg)], rng))
        elif kind != "AT":
            raise ValueError(f"pattern feature {kind} is not supported")
    return out


_CATEGORIES = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
}
_POOL = _ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ _-.:/"
# Drawn from only when a negated class excludes the whole pool.
_PUNCTUATION = "!#%&*+=?@~,;é"


def _within(low: int, high: int) -> Callable[[str], bool]:
    return lambda c: low <= ord(c) <= high


def _in_class(members: list[tuple[Any, Any]], rng: random.Random) -> str:
    negate = bool(members) and str(members[0][0]) == "NEGATE"
    tests: list[Callable[[str], bool]] = []
    for op, arg in members[1:] if negate else members:
        kind = str(op)
        if kind in ("LITERAL", "RANGE"):
            low, high = (arg, arg) if kind == "LITERAL" else arg
            tests.append(_within(low, high))
        elif kind == "CATEGORY":
            tests.append(_CATEGORIES.get(str(arg), lambda c: False))
    if not negate:
        # A range or literal outside the pool (Unicode, punctuation) is drawn from directly.
        literal = [chr(a) for o, a in members if str(o) == "LITERAL"]
        spans = [chr(rng.randint(*a)) for o, a in members if str(o) == "RANGE"]
        pool = [c for c in _POOL if any(t(c) for t in tests)] or literal + spans
        return rng.choice(pool)
    return rng.choice([c for c in _POOL + _PUNCTUATION if not any(t(c) for t in tests)])
